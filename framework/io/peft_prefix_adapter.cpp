#include "framework/io/peft_prefix_adapter.h"

#include "framework/core/error.h"
#include "framework/core/suggest.h"
#include "framework/io/peft_adapter.h"
#include "framework/io/safetensors.h"

#include <unistd.h>
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>

namespace ptlab::io {
namespace {

namespace fs = std::filesystem;

constexpr const char* kConfigFile = "adapter_config.json";
constexpr const char* kWeightsFile = "adapter_model.safetensors";
constexpr const char* kPrefixTensor = "prompt_embeddings";

nlohmann::json config_to_json(const PeftPrefixConfig& c) {
  nlohmann::json j = {
      {"auto_mapping", c.auto_mapping},
      {"base_model_name_or_path", c.base_model_name_or_path},
      {"encoder_hidden_size", c.encoder_hidden_size},
      {"inference_mode", c.inference_mode},
      {"num_attention_heads", c.num_attention_heads},
      {"num_layers", c.num_layers},
      {"num_transformer_submodules", c.num_transformer_submodules},
      {"num_virtual_tokens", c.num_virtual_tokens},
      {"peft_type", "PREFIX_TUNING"},
      {"prefix_projection", c.prefix_projection},
      {"revision", c.revision ? nlohmann::json(*c.revision) : nlohmann::json(nullptr)},
      {"task_type", c.task_type},
      {"token_dim", c.token_dim},
  };
  for (const auto& [key, value] : c.other_fields) {
    PTLAB_CHECK(!j.contains(key), "cannot export PEFT prefix adapter: other_fields repeats '{}', a modelled key", key);
    j[key] = value;
  }
  return j;
}

// Typed reads of adapter_config.json; every error names the file and the key.
struct Fields {
  const nlohmann::json& json;
  const std::string& path;
  std::vector<std::string> used;

  const nlohmann::json& raw(const std::string& key) {
    used.push_back(key);
    static const nlohmann::json kNull;
    return json.contains(key) ? json.at(key) : kNull;
  }
  int64_t integer(const std::string& key, std::optional<int64_t> fallback = std::nullopt) {
    const auto& v = raw(key);
    if (v.is_null() && fallback) return *fallback;
    PTLAB_CHECK(v.is_number_integer(), "{}: '{}' must be an integer, got {}", path, key, v.dump());
    return v.get<int64_t>();
  }
  bool boolean(const std::string& key, bool fallback) {
    const auto& v = raw(key);
    if (v.is_null()) return fallback;
    PTLAB_CHECK(v.is_boolean(), "{}: '{}' must be true or false, got {}", path, key, v.dump());
    return v.get<bool>();
  }
  std::optional<std::string> string(const std::string& key) {
    const auto& v = raw(key);
    if (v.is_null()) return std::nullopt;
    PTLAB_CHECK(v.is_string(), "{}: '{}' must be a string, got {}", path, key, v.dump());
    return v.get<std::string>();
  }
};

PeftPrefixConfig config_from_json(const nlohmann::json& json, const std::string& path) {
  PTLAB_CHECK(json.is_object(), "{}: expected a JSON object, got {}", path, json.type_name());
  Fields f{json, path, {}};
  const std::string peft_type = f.string("peft_type").value_or("");
  PTLAB_CHECK(peft_type == "PREFIX_TUNING",
              "{}: peft_type is '{}'; a prefix_tuning method loads PREFIX_TUNING adapters only (a PROMPT_TUNING "
              "adapter loads with method=prompt_tuning)",
              path, peft_type);
  PeftPrefixConfig c;
  c.task_type = f.string("task_type").value_or("");
  c.base_model_name_or_path = f.string("base_model_name_or_path").value_or("");
  c.revision = f.string("revision");
  c.inference_mode = f.boolean("inference_mode", true);
  c.num_virtual_tokens = f.integer("num_virtual_tokens");
  c.token_dim = f.integer("token_dim");
  c.num_transformer_submodules = f.integer("num_transformer_submodules", peft_num_transformer_submodules(c.task_type));
  c.num_attention_heads = f.integer("num_attention_heads");
  c.num_layers = f.integer("num_layers");
  c.encoder_hidden_size = f.integer("encoder_hidden_size", c.token_dim);
  c.prefix_projection = f.boolean("prefix_projection", false);
  c.auto_mapping = f.raw("auto_mapping");
  PTLAB_CHECK(c.num_virtual_tokens > 0 && c.token_dim > 0 && c.num_layers > 0 && c.num_attention_heads > 0,
              "{}: num_virtual_tokens ({}), token_dim ({}), num_layers ({}) and num_attention_heads ({}) must be "
              "positive",
              path, c.num_virtual_tokens, c.token_dim, c.num_layers, c.num_attention_heads);
  for (const auto& [key, value] : json.items())
    if (std::find(f.used.begin(), f.used.end(), key) == f.used.end()) c.other_fields[key] = value;
  return c;
}

// The order of safetensors' Rust Dtype enum; its writer sorts tensors by this rank, descending, then by name.
int dtype_rank(at::ScalarType type) {
  static const std::vector<std::string> kOrder = {"BOOL", "U8",  "I8",  "F8_E5M2", "F8_E4M3", "I16", "U16", "F16",
                                                  "BF16", "I32", "U32", "F32",     "F64",     "I64", "U64"};
  const auto it = std::find(kOrder.begin(), kOrder.end(), dtype_name_of(type));
  PTLAB_ASSERT(it != kOrder.end(), "dtype missing from the safetensors order");
  return static_cast<int>(it - kOrder.begin());
}

void write_text_atomically(const std::string& path, const std::string& text) {
  const std::string tmp = fmt::format("{}.tmp.{}", path, ::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    PTLAB_CHECK(out.good(), "cannot write {}: cannot create the file", tmp);
    out << text;
    out.flush();
    if (!out.good()) {
      std::remove(tmp.c_str());
      PTLAB_FAIL("cannot write {}: write failed (disk full?)", tmp);
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    PTLAB_FAIL("cannot write {}: renaming the temporary file {} failed", path, tmp);
  }
}

}  // namespace

void export_peft_prefix_adapter(const std::string& dir, const PeftPrefixAdapter& adapter) {
  const PeftPrefixConfig& c = adapter.config;
  PTLAB_CHECK(c.num_virtual_tokens > 0 && c.token_dim > 0 && c.num_layers > 0 && c.num_attention_heads > 0 &&
                  c.num_transformer_submodules > 0 && c.encoder_hidden_size > 0,
              "cannot export PEFT prefix adapter: every size must be positive (num_virtual_tokens {}, token_dim {}, "
              "num_layers {}, num_attention_heads {}, encoder_hidden_size {})",
              c.num_virtual_tokens, c.token_dim, c.num_layers, c.num_attention_heads, c.encoder_hidden_size);
  const at::Tensor& p = adapter.prompt_embeddings;
  const int64_t width = 2 * c.num_layers * c.token_dim;
  PTLAB_CHECK(
      p.defined() && p.is_floating_point() && p.dim() == 2 && p.size(0) == c.num_virtual_tokens && p.size(1) == width,
      "cannot export PEFT prefix adapter: prompt_embeddings must be floating point [{}, {}] "
      "(num_virtual_tokens x 2 * num_layers * token_dim)",
      c.num_virtual_tokens, width);
  const std::string config_text = python_json_dumps(config_to_json(c));

  std::vector<std::pair<std::string, at::Tensor>> tensors = {{kPrefixTensor, p.detach().to(at::kCPU, at::kFloat)}};
  for (const auto& [name, t] : adapter.extra) {
    PTLAB_CHECK(name != kPrefixTensor && t.defined(),
                "cannot export PEFT prefix adapter: extra tensor '{}' is undefined or repeats prompt_embeddings", name);
    tensors.emplace_back(name, t.detach().to(at::kCPU));
  }
  std::stable_sort(tensors.begin(), tensors.end(), [](const auto& a, const auto& b) {
    const int ra = dtype_rank(a.second.scalar_type()), rb = dtype_rank(b.second.scalar_type());
    return ra != rb ? ra > rb : a.first < b.first;
  });

  std::error_code ec;
  fs::create_directories(dir, ec);
  PTLAB_CHECK(!ec && fs::is_directory(dir), "cannot export PEFT prefix adapter: cannot create directory {}: {}", dir,
              ec ? ec.message() : std::string("a file of that name exists"));
  const fs::path root(dir);
  save_safetensors((root / kWeightsFile).string(), tensors, {{"format", "pt"}});
  write_text_atomically((root / kConfigFile).string(), config_text);
  write_text_atomically(
      (root / "README.md").string(),
      fmt::format("---\nlibrary_name: peft\nbase_model: {}\n---\n\n# Prefix-tuning adapter\n\n"
                  "Produced by ptlab {}, not by PEFT itself: {} virtual positions in each of {} layers, {} key/value "
                  "heads of width {} in all, task type {}{}.\n\n"
                  "Load it with Hugging Face PEFT:\n\n"
                  "    from peft import PeftModel\n"
                  "    model = PeftModel.from_pretrained(base_model, \"path/to/this/directory\")\n",
                  c.base_model_name_or_path, PTLAB_VERSION, c.num_virtual_tokens, c.num_layers, c.num_attention_heads,
                  c.token_dim, c.task_type,
                  c.prefix_projection ? " (trained with the projection; this file holds its output)" : ""));
}

PeftPrefixAdapter import_peft_prefix_adapter(const std::string& dir) {
  std::error_code ec;
  PTLAB_CHECK(fs::is_directory(dir, ec), "PEFT adapter directory {} does not exist (or is not a directory)", dir);
  const fs::path root(dir);
  const std::string config_path = (root / kConfigFile).string();
  const std::string weights_path = (root / kWeightsFile).string();
  PTLAB_CHECK(fs::exists(config_path, ec), "{} not found: a PEFT adapter directory holds {} and {}", config_path,
              kConfigFile, kWeightsFile);
  nlohmann::json json;
  {
    std::ifstream in(config_path, std::ios::binary);
    PTLAB_CHECK(in.good(), "cannot read {}", config_path);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    try {
      json = nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
      PTLAB_FAIL("{} is not valid JSON: {}", config_path, e.what());
    }
  }
  PeftPrefixAdapter adapter;
  adapter.config = config_from_json(json, config_path);
  const PeftPrefixConfig& c = adapter.config;
  PTLAB_CHECK(fs::exists(weights_path, ec), "{} not found{}", weights_path,
              fs::exists(root / "adapter_model.bin", ec)
                  ? ": ptlab does not read the pickled adapter_model.bin; re-save with safe_serialization=True"
                  : "");
  SafetensorsFile file(weights_path);
  PTLAB_CHECK(file.contains(kPrefixTensor), "{} has no tensor '{}', where a prefix adapter keeps its flat prefix",
              weights_path, kPrefixTensor);
  const auto& rec = file.record(kPrefixTensor);
  const int64_t width = 2 * c.num_layers * c.token_dim;
  PTLAB_CHECK(
      at::isFloatingType(scalar_type_of(rec.dtype)) && rec.shape == std::vector<int64_t>({c.num_virtual_tokens, width}),
      "{}: '{}' is {} [{}] but {} says floating point [{}, {}] (num_virtual_tokens x 2 * num_layers * "
      "token_dim)",
      weights_path, kPrefixTensor, rec.dtype, fmt::join(rec.shape, ", "), kConfigFile, c.num_virtual_tokens, width);
  adapter.prompt_embeddings = file.load(kPrefixTensor).to(at::kFloat);  // [P, 2 L d_kv]
  for (const auto& r : file.records())
    if (r.name != kPrefixTensor) adapter.extra.emplace(r.name, file.load(r.name));
  return adapter;
}

}  // namespace ptlab::io
