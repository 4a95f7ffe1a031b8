// P-Tuning <-> PEFT: the P_TUNING adapter a run exports next to prompt.safetensors (the encoder's output,
// folded, as PEFT's save_pretrained writes it), and loading such a directory as a frozen output table
// (`ptlab eval --from adapter_dir`; see p_tuning.h for why the encoder cannot come back).
#include "framework/core/error.h"
#include "framework/io/peft_adapter.h"
#include "framework/io/peft_files.h"
#include "framework/io/safetensors.h"
#include "methods/p_tuning/p_tuning.h"

#include <ATen/core/grad_mode.h>

#include <filesystem>

namespace ptlab::methods {
namespace fs = std::filesystem;

void PTuning::save_exports(const std::string& dir) {
  const models::BackboneInfo& info = backbone_->info();
  const fs::path config_path = backbone_->config().path();
  const std::string task_type = io::peft_task_type(info.family, /*sequence_classification=*/false);
  // PEFT's PromptEncoderConfig.to_dict(), keys as save_pretrained writes them (python_json_dumps sorts).
  const nlohmann::json config = {
      {"auto_mapping", nullptr},
      {"base_model_name_or_path",
       config_path.filename() == "config.json" ? config_path.parent_path().string() : config_path.string()},
      {"encoder_dropout", config_.lstm_dropout()},
      {"encoder_hidden_size", hidden_},
      {"encoder_num_layers", config_.lstm_layers()},
      {"encoder_reparameterization_type", config_.encoder == PromptEncoderType::kLstm ? "LSTM" : "MLP"},
      {"inference_mode", true},
      {"num_attention_heads", info.num_heads},
      {"num_layers", info.num_layers},
      {"num_transformer_submodules", io::peft_num_transformer_submodules(task_type)},
      {"num_virtual_tokens", length()},
      {"peft_type", "P_TUNING"},
      {"revision", nullptr},
      {"task_type", task_type},
      {"token_dim", info.hidden_size},
  };
  const std::string readme = fmt::format(
      "---\nlibrary_name: peft\nbase_model: {}\n---\n\n# P-tuning adapter\n\n"
      "Produced by ptlab, not by PEFT itself: {} virtual tokens from an {} prompt encoder (hidden size "
      "{}), task type {}. As PEFT saves P-tuning, this file holds the encoder's output only (its "
      "weights are in ptlab's prompt.safetensors).\n\n"
      "Load it with Hugging Face PEFT:\n\n"
      "    from peft import PeftModel\n"
      "    model = PeftModel.from_pretrained(base_model, \"path/to/this/directory\")\n",
      config.at("base_model_name_or_path").get<std::string>(), length(),
      config_.encoder == PromptEncoderType::kLstm ? "LSTM" : "MLP", hidden_, task_type);
  if (num_tasks() == 1) {
    io::peft_files::write_files((fs::path(dir) / "adapter").string(), {{"prompt_embeddings", peft_prompt_embeddings()}},
                                config, readme, "PEFT P-tuning adapter");
    return;
  }
  // PEFT's P_TUNING holds one prompt per adapter: one adapter per task, each its task's folded prompt.
  for (int64_t t = 0; t < num_tasks(); ++t) {
    const std::string name = task_names_.empty() ? "task" + std::to_string(t) : task_names_[t];
    io::peft_files::write_files((fs::path(dir) / "adapter" / name).string(),
                                {{"prompt_embeddings", peft_prompt_embeddings(t)}}, config, readme,
                                "PEFT P-tuning adapter");
  }
}

void PTuning::load_state(const std::string& path) {
  if (!fs::is_directory(path)) {
    Method::load_state(path);
    return;
  }
  const std::string config_path = (fs::path(path) / io::peft_files::kConfigFile).string();
  const nlohmann::json json = io::peft_files::read_config(path);
  PTLAB_CHECK(json.is_object(), "{}: expected a JSON object, got {}", config_path, json.type_name());
  io::peft_files::ConfigReader r(json, config_path);
  const std::string type = r.has("peft_type") ? r.string("peft_type") : std::string("(none)");
  PTLAB_CHECK(type == "P_TUNING", "{}: peft_type is {}, but p_tuning loads P_TUNING adapters", config_path, type);
  PTLAB_CHECK(num_tasks() == 1,
              "{}: a PEFT P_TUNING adapter holds one prompt, but {} is {}; load it (one task's adapter) into a "
              "p_tuning with num_tasks 1, or load a prompt.safetensors of this method",
              path, config_.at("num_tasks"), num_tasks());
  const int64_t n = r.integer("num_virtual_tokens"), d = r.integer("token_dim");
  const int64_t submodules = r.integer("num_transformer_submodules", 1);
  PTLAB_CHECK(n == length() && d == embedding_.size(1),
              "{}: the adapter's prompt is {} x {} but this p_tuning has {} x {} ({} and the model must match the "
              "adapter's num_virtual_tokens and token_dim)",
              path, n, d, length(), embedding_.size(1), config_.at("length"));
  const std::string weights = io::peft_files::weights_path(path);
  const auto tensors = io::load_safetensors(weights);
  auto it = tensors.find("prompt_embeddings");
  PTLAB_CHECK(it != tensors.end(), "{}: no tensor 'prompt_embeddings', where PEFT keeps the encoder's output", weights);
  const at::Tensor& table = it->second;  // [n * S, d]
  PTLAB_CHECK(submodules == submodules_,
              "{}: num_transformer_submodules is {} but {} needs {} (2 for encoder-decoder models, else 1); use an "
              "adapter trained on this kind of model",
              config_path, submodules, backbone_->info().model_type, submodules_);
  PTLAB_CHECK(table.is_floating_point() && table.dim() == 2 && table.size(0) == n * submodules && table.size(1) == d,
              "{}: 'prompt_embeddings' is {} but {} says floating point [{}, {}]", weights, c10::str(table.sizes()),
              config_path, n * submodules, d);
  // All n * S rows, as the encoder would give them; prompt() places rows 0..n-1 (PEFT's forward does too).
  folded_ = table.to(embedding_.device(), at::kFloat).contiguous();  // [n S, d]
}

}  // namespace ptlab::methods
