#include "framework/io/peft_prefix_adapter.h"

#include "framework/core/error.h"
#include "framework/core/suggest.h"
#include "framework/io/peft_adapter.h"
#include "framework/io/peft_files.h"
#include "framework/io/safetensors.h"

#include <filesystem>

namespace ptlab::io {
namespace {

namespace fs = std::filesystem;

using peft_files::kConfigFile;
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

PeftPrefixConfig config_from_json(const nlohmann::json& json, const std::string& path) {
  PTLAB_CHECK(json.is_object(), "{}: expected a JSON object, got {}", path, json.type_name());
  peft_files::ConfigReader f(json, path);
  const std::string peft_type = f.optional_string("peft_type").value_or("");
  PTLAB_CHECK(peft_type == "PREFIX_TUNING",
              "{}: peft_type is '{}'; a prefix_tuning method loads PREFIX_TUNING adapters only (a PROMPT_TUNING "
              "adapter loads with method=prompt_tuning)",
              path, peft_type);
  PeftPrefixConfig c;
  c.task_type = f.optional_string("task_type").value_or("");
  c.base_model_name_or_path = f.optional_string("base_model_name_or_path").value_or("");
  c.revision = f.optional_string("revision");
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
  c.other_fields = f.unread();
  return c;
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
  std::vector<std::pair<std::string, at::Tensor>> tensors = {{kPrefixTensor, p.detach().to(at::kCPU, at::kFloat)}};
  for (const auto& [name, t] : adapter.extra) {
    PTLAB_CHECK(name != kPrefixTensor && t.defined(),
                "cannot export PEFT prefix adapter: extra tensor '{}' is undefined or repeats prompt_embeddings", name);
    tensors.emplace_back(name, t.detach().to(at::kCPU));
  }
  peft_files::write_files(
      dir, std::move(tensors), config_to_json(c),
      fmt::format("---\nlibrary_name: peft\nbase_model: {}\n---\n\n# Prefix-tuning adapter\n\n"
                  "Produced by ptlab {}, not by PEFT itself: {} virtual positions in each of {} layers, {} key/value "
                  "heads of width {} in all, task type {}{}.\n\n"
                  "Load it with Hugging Face PEFT:\n\n"
                  "    from peft import PeftModel\n"
                  "    model = PeftModel.from_pretrained(base_model, \"path/to/this/directory\")\n",
                  c.base_model_name_or_path, PTLAB_VERSION, c.num_virtual_tokens, c.num_layers, c.num_attention_heads,
                  c.token_dim, c.task_type,
                  c.prefix_projection ? " (trained with the projection; this file holds its output)" : ""),
      "PEFT prefix adapter");
}

PeftPrefixAdapter import_peft_prefix_adapter(const std::string& dir) {
  const std::string config_path = (fs::path(dir) / kConfigFile).string();
  PeftPrefixAdapter adapter;
  adapter.config = config_from_json(peft_files::read_config(dir), config_path);
  const PeftPrefixConfig& c = adapter.config;
  const std::string weights_path = peft_files::weights_path(dir);
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
