#include "framework/models/loader.h"

#include "framework/core/error.h"
#include "framework/io/safetensors.h"
#include "framework/models/bert.h"
#include "framework/models/gpt2.h"
#include "framework/models/gguf_import.h"
#include "framework/models/gpt_neox.h"
#include "framework/models/llama.h"
#include "framework/models/t5.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <unistd.h>

namespace ptlab::models {

void register_builtin_models(Registry<FamilyBuilder>& registry) {
  registry.add("llama", "Llama 2/3, SmolLM (RMSNorm, RoPE, GQA, SwiGLU)", build_llama);
  registry.add("mistral", "Mistral (Llama family with a sliding window)", build_llama);
  registry.add("qwen2", "Qwen2 (Llama family with q/k/v biases)", build_llama);
  registry.add("gpt2", "GPT-2 (learned positions, Conv1D layout, tied head)", build_gpt2);
  registry.add("gpt_neox", "GPT-NeoX / Pythia (partial rotary, parallel residual)", build_gpt_neox);
  registry.add("bert", "BERT (post-LN encoder, MLM head, pooler)", build_bert);
  registry.add("roberta", "RoBERTa (BERT with padding-offset positions)", build_bert);
  registry.add("t5", "T5 v1.0 / v1.1 encoder-decoder (relative position buckets)", build_t5);
}

const Registry<FamilyBuilder>& model_families() {
  static Registry<FamilyBuilder> registry("model_type");
  static std::once_flag once;
  std::call_once(once, [] { register_builtin_models(registry); });
  return registry;
}

std::shared_ptr<Backbone> build_backbone(const HFConfig& config, Checkpoint& weights, const LoadOptions& options) {
  const std::string type = config.get_string("model_type");
  const auto& families = model_families();
  PTLAB_CHECK(families.contains(type), "config.json ({}): model_type '{}' is not supported{}; supported model types: {}",
              config.path(), type, did_you_mean(type, families.names()), join_names(families.names()));
  PTLAB_CHECK(options.dtype == at::kFloat || options.dtype == at::kBFloat16 || options.dtype == at::kHalf,
              "backbone dtype must be fp32, bf16 or fp16, got {}", c10::toString(options.dtype));
  std::shared_ptr<Backbone> backbone = families.get(type)(config, weights, options);
  weights.finish();
  backbone->set_config(config);
  backbone->set_trainable(false);
  return backbone;
}

std::shared_ptr<Backbone> load_backbone(const std::string& path, const LoadOptions& options) {
  const std::string dir = is_gguf_path(path) ? gguf_model_dir(path) : path;
  HFConfig config = HFConfig::load(dir);
  const std::string type = config.get_string("model_type");
  const auto& families = model_families();
  PTLAB_CHECK(families.contains(type), "config.json ({}): model_type '{}' is not supported{}; supported model types: {}",
              config.path(), type, did_you_mean(type, families.names()), join_names(families.names()));
  Checkpoint weights(dir);
  return build_backbone(config, weights, options);
}

std::shared_ptr<Backbone> random_backbone(const HFConfig& config, const LoadOptions& options, uint64_t seed) {
  Checkpoint weights = Checkpoint::random(seed);
  return build_backbone(config, weights, options);
}

void save_backbone(const Backbone& backbone, const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  PTLAB_CHECK(!ec && fs::is_directory(dir), "cannot create model directory {}: {}", dir, ec.message());

  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& item : backbone.named_parameters()) tensors.emplace_back(item.key(), item.value());
  PTLAB_ASSERT(!tensors.empty(), "backbone has no parameters");
  io::save_safetensors((fs::path(dir) / "model.safetensors").string(), tensors, {{"format", "pt"}});

  nlohmann::json config = backbone.config().json();
  const auto dtype = backbone.dtype();
  config["torch_dtype"] = dtype == at::kBFloat16 ? "bfloat16" : dtype == at::kHalf ? "float16" : "float32";
  const std::string path = (fs::path(dir) / "config.json").string();
  const std::string tmp = fmt::format("{}.tmp.{}", path, ::getpid());
  {
    std::ofstream out(tmp);
    out << config.dump(2) << "\n";
    PTLAB_CHECK(out.good(), "cannot write {}", tmp);
  }
  PTLAB_CHECK(std::rename(tmp.c_str(), path.c_str()) == 0, "cannot write {}: rename from {} failed", path, tmp);
}

at::ScalarType parse_dtype(const std::string& name) {
  if (name == "fp32" || name == "float32" || name == "float") return at::kFloat;
  if (name == "bf16" || name == "bfloat16") return at::kBFloat16;
  if (name == "fp16" || name == "float16" || name == "half") return at::kHalf;
  PTLAB_FAIL("unknown dtype '{}'; expected fp32, bf16 or fp16", name);
}

at::Device parse_device(const std::string& name) {
  std::optional<at::Device> device;
  try {
    device.emplace(name);
  } catch (const c10::Error&) {
  }
  PTLAB_CHECK(device && (device->is_cpu() || device->is_cuda()), "unknown device '{}'; expected cpu, cuda or cuda:N",
              name);
  PTLAB_CHECK(device->is_cpu() || at::hasCUDA(),
              "device '{}' asked for, but this LibTorch build has no CUDA support or no GPU is visible; use cpu", name);
  return *device;
}

std::string dtype_name(at::ScalarType type) {
  if (type == at::kFloat) return "fp32";
  if (type == at::kBFloat16) return "bf16";
  if (type == at::kHalf) return "fp16";
  return c10::toString(type);
}

}  // namespace ptlab::models
