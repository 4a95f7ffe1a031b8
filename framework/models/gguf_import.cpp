#include "framework/models/gguf_import.h"

#include "framework/core/error.h"
#include "framework/core/log.h"
#include "framework/io/gguf.h"
#include "framework/io/safetensors.h"
#include "framework/text/gguf_tokenizer.h"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>

namespace ptlab::models {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// Bump when the conversion changes: cached imports of an older version are imported again.
constexpr int kImportVersion = 1;

const std::vector<std::string> kArchitectures = {"llama"};

// llama.cpp's per-layer tensor names -> transformers' (Llama family).
const std::vector<std::pair<std::string, std::string>> kLlamaLayer = {
    {"attn_norm.weight", "input_layernorm.weight"},
    {"ffn_norm.weight", "post_attention_layernorm.weight"},
    {"attn_q.weight", "self_attn.q_proj.weight"},
    {"attn_k.weight", "self_attn.k_proj.weight"},
    {"attn_v.weight", "self_attn.v_proj.weight"},
    {"attn_output.weight", "self_attn.o_proj.weight"},
    {"ffn_gate.weight", "mlp.gate_proj.weight"},
    {"ffn_up.weight", "mlp.up_proj.weight"},
    {"ffn_down.weight", "mlp.down_proj.weight"},
};

// llama.cpp's converter permutes the rows of q_proj / k_proj so that its rotary embedding can rotate
// adjacent pairs: rows (head, half, i) are stored as (head, i, half). This puts them back.
at::Tensor unpermute_rotary(const at::Tensor& w, int64_t heads) {
  const int64_t rows = w.size(0);
  return w.reshape({heads, rows / heads / 2, 2, -1}).transpose(1, 2).reshape(w.sizes()).contiguous();
}

std::string cache_root() {
  if (const char* c = std::getenv("PTLAB_CACHE"); c && *c) return c;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return (fs::path(x) / "ptlab").string();
  const char* home = std::getenv("HOME");
  PTLAB_CHECK(home && *home, "cannot place the GGUF import cache: set PTLAB_CACHE (or HOME)");
  return (fs::path(home) / ".cache" / "ptlab").string();
}

void write_json(const fs::path& path, const json& j) {
  std::ofstream out(path);
  PTLAB_CHECK(out.good(), "cannot write {}", path.string());
  out << j.dump(2) << "\n";
  PTLAB_CHECK(out.good(), "cannot write {} (disk full?)", path.string());
}

}  // namespace

bool is_gguf_path(const std::string& path) {
  std::error_code ec;
  return fs::path(path).extension() == ".gguf" && fs::is_regular_file(path, ec);
}

namespace {

// read_gguf_model on a file already opened (import_gguf also reads its tokenizer from it).
GgufImport read_model(const io::GgufFile& file, at::ScalarType dtype) {
  const std::string& gguf_path = file.path();
  GgufImport out;
  PTLAB_CHECK(file.has("general.architecture"), "GGUF file {}: no general.architecture; cannot tell the model family",
              gguf_path);
  out.architecture = file.get_string("general.architecture");
  const std::string& arch = out.architecture;
  PTLAB_CHECK(std::find(kArchitectures.begin(), kArchitectures.end(), arch) != kArchitectures.end(),
              "GGUF file {}: architecture '{}' is not supported by `ptlab model import`; supported: {}", gguf_path,
              arch, fmt::join(kArchitectures, ", "));
  auto key = [&](const char* k) { return fmt::format("{}.{}", arch, k); };

  const int64_t layers = file.get_int(key("block_count"));
  const int64_t hidden = file.get_int(key("embedding_length"));
  const int64_t heads = file.get_int(key("attention.head_count"));
  const int64_t kv_heads = file.get_int(key("attention.head_count_kv"), heads);
  PTLAB_CHECK(layers > 0 && hidden > 0 && heads > 0 && kv_heads > 0 && heads % kv_heads == 0,
              "GGUF file {}: implausible hyper-parameters: {} layers, width {}, {} heads, {} KV heads", gguf_path,
              layers, hidden, heads, kv_heads);
  const int64_t head_dim = file.get_int(key("attention.key_length"), hidden / heads);
  PTLAB_CHECK(file.get_int(key("attention.value_length"), head_dim) == head_dim,
              "GGUF file {}: key and value head sizes differ; the Llama family needs them equal", gguf_path);
  const int64_t rope_dims = file.get_int(key("rope.dimension_count"), head_dim);
  PTLAB_CHECK(rope_dims == head_dim,
              "GGUF file {}: {}.rope.dimension_count is {} but heads have {} dimensions; partial rotary embeddings "
              "are not supported for '{}'",
              gguf_path, arch, rope_dims, head_dim, arch);
  const std::string scaling = file.get_string(key("rope.scaling.type"), "none");

  PTLAB_CHECK(file.contains("token_embd.weight"), "GGUF file {}: no token_embd.weight tensor", gguf_path);
  const auto& embd = file.tensor("token_embd.weight");
  PTLAB_CHECK(embd.extents.size() == 2 && embd.extents[0] == hidden,
              "GGUF file {}: token_embd.weight has extents [{}] (GGUF order), expected [{}, vocab]", gguf_path,
              fmt::join(embd.extents, ", "), hidden);
  const int64_t vocab = embd.extents[1];
  const bool tied = !file.contains("output.weight");

  json config = {
      {"architectures", {"LlamaForCausalLM"}},
      {"model_type", "llama"},
      {"vocab_size", vocab},
      {"hidden_size", hidden},
      {"intermediate_size", file.get_int(key("feed_forward_length"))},
      {"num_hidden_layers", layers},
      {"num_attention_heads", heads},
      {"num_key_value_heads", kv_heads},
      {"head_dim", head_dim},
      {"hidden_act", "silu"},
      {"max_position_embeddings", file.get_int(key("context_length"), 2048)},
      {"rms_norm_eps", file.get_float(key("attention.layer_norm_rms_epsilon"), 1e-5)},
      {"rope_theta", file.get_float(key("rope.freq_base"), 10000.0)},
      {"attention_bias", false},
      {"mlp_bias", false},
      {"tie_word_embeddings", tied},
      {"torch_dtype", dtype == at::kBFloat16 ? "bfloat16" : dtype == at::kHalf ? "float16" : "float32"},
  };
  if (scaling == "linear") {
    config["rope_scaling"] = {{"type", "linear"}, {"factor", file.get_float(key("rope.scaling.factor"))}};
  } else {
    PTLAB_CHECK(scaling == "none", "GGUF file {}: {}.rope.scaling.type '{}' is not supported (none, linear)",
                gguf_path, arch, scaling);
  }
  for (const auto& [role, k] : std::vector<std::pair<const char*, const char*>>{
           {"bos_token_id", "bos_token_id"}, {"eos_token_id", "eos_token_id"}, {"pad_token_id", "padding_token_id"}}) {
    const std::string full = fmt::format("tokenizer.ggml.{}", k);
    if (file.has(full)) config[role] = file.get_int(full);
  }
  config["ptlab_import"] = {{"source", fs::path(gguf_path).filename().string()},
                            {"file_type", file.get_int("general.file_type", -1)},
                            {"importer_version", kImportVersion}};
  out.config = config;

  // Names: every tensor of the file must map, or the import stops (a tensor we would drop silently could
  // change the model).
  std::map<std::string, std::string> names = {{"token_embd.weight", "model.embed_tokens.weight"},
                                              {"output_norm.weight", "model.norm.weight"},
                                              {"output.weight", "lm_head.weight"}};
  for (int64_t l = 0; l < layers; ++l)
    for (const auto& [g, h] : kLlamaLayer)
      names[fmt::format("blk.{}.{}", l, g)] = fmt::format("model.layers.{}.{}", l, h);
  for (const auto& info : file.tensors()) {
    auto it = names.find(info.name);
    PTLAB_CHECK(it != names.end(),
                "GGUF file {}: tensor '{}' has no transformers counterpart in the '{}' mapping{}", gguf_path, info.name,
                arch,
                info.name == "rope_freqs.weight" ? " (Llama 3.1 rope frequency factors are not supported)" : "");
    at::Tensor t = at::empty(info.shape(), at::kFloat);
    file.read_f32(info, t.data_ptr<float>());
    if (info.name.find(".attn_q.") != std::string::npos) t = unpermute_rotary(t, heads);
    if (info.name.find(".attn_k.") != std::string::npos) t = unpermute_rotary(t, kv_heads);
    if (dtype != at::kFloat) t = t.to(dtype);
    using io::GgmlType;
    const bool plain = info.type == static_cast<uint32_t>(GgmlType::kF32) ||
                       info.type == static_cast<uint32_t>(GgmlType::kF16) ||
                       info.type == static_cast<uint32_t>(GgmlType::kBF16);
    if (!plain) ++out.quantized_tensors;
    out.tensors.emplace_back(it->second, std::move(t));
  }
  for (const auto& [g, h] : names) {
    if (g == "output.weight") continue;
    PTLAB_CHECK(file.contains(g), "GGUF file {}: tensor '{}' (transformers' {}) is missing", gguf_path, g, h);
  }
  return out;
}

}  // namespace

GgufImport read_gguf_model(const std::string& gguf_path, at::ScalarType dtype) {
  return read_model(io::GgufFile(gguf_path), dtype);
}

void import_gguf(const std::string& gguf_path, const std::string& out_dir, at::ScalarType dtype) {
  const auto start = std::chrono::steady_clock::now();
  const io::GgufFile file(gguf_path);
  GgufImport model = read_model(file, dtype);
  text::GgufTokenizerFiles tok = text::gguf_tokenizer_files(file);
  PTLAB_CHECK(tok.vocab_size == model.config["vocab_size"],
              "GGUF file {}: the tokenizer has {} tokens but token_embd.weight {} rows", gguf_path, tok.vocab_size,
              model.config["vocab_size"].get<int64_t>());

  std::error_code ec;
  fs::create_directories(out_dir, ec);
  PTLAB_CHECK(!ec && fs::is_directory(out_dir), "cannot create {}: {}", out_dir, ec.message());
  const fs::path dir(out_dir);
  io::save_safetensors((dir / "model.safetensors").string(), model.tensors, {{"format", "pt"}});
  write_json(dir / "config.json", model.config);
  if (!tok.sentencepiece_model.empty()) {  // tokenizer.ggml.model "llama"
    std::ofstream model_file(dir / "tokenizer.model", std::ios::binary);
    model_file << tok.sentencepiece_model;
    PTLAB_CHECK(model_file.good(), "cannot write {}", (dir / "tokenizer.model").string());
  } else {
    write_json(dir / "tokenizer.json", tok.tokenizer_json);
  }
  write_json(dir / "tokenizer_config.json", tok.tokenizer_config_json);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  log_debug("imported {} ({}, {} tensors, {} quantized) into {} in {:.1f} s", gguf_path, model.architecture,
           model.tensors.size(), model.quantized_tensors, out_dir, seconds);
}

std::string gguf_model_dir(const std::string& gguf_path) {
  std::error_code ec;
  const fs::path abs = fs::absolute(gguf_path, ec);
  struct stat st {};
  PTLAB_CHECK(::stat(abs.c_str(), &st) == 0 && S_ISREG(st.st_mode), "GGUF file {} does not exist", gguf_path);
  const std::string identity = fmt::format("{}|{}|{}|{}", abs.string(), static_cast<long long>(st.st_size),
                                           static_cast<long long>(st.st_mtime), kImportVersion);
  const fs::path dir = fs::path(cache_root()) / "gguf" /
                       fmt::format("{}-{:016x}", abs.stem().string(), std::hash<std::string>{}(identity));
  if (fs::is_regular_file(dir / "config.json", ec) && fs::is_regular_file(dir / "model.safetensors", ec)) return dir;
  fs::create_directories(dir.parent_path(), ec);
  PTLAB_CHECK(!ec, "cannot create the GGUF import cache {}: {}", dir.parent_path().string(), ec.message());
  const fs::path tmp = dir.string() + fmt::format(".tmp.{}", ::getpid());
  fs::remove_all(tmp, ec);
  log_info("importing {} (once; cached in {})", gguf_path, dir.string());
  const auto start = std::chrono::steady_clock::now();
  try {
    import_gguf(gguf_path, tmp.string());
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
  fs::rename(tmp, dir, ec);
  if (ec) fs::remove_all(tmp, ec);  // another process finished first: use its import
  PTLAB_CHECK(fs::is_regular_file(dir / "config.json"), "GGUF import of {} into {} did not complete", gguf_path,
              dir.string());
  log_info("imported {} in {:.1f} s", fs::path(gguf_path).filename().string(),
           std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return dir.string();
}

}  // namespace ptlab::models
