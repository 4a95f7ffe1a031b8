// Prompt Tuning <-> PEFT: the adapter a run exports next to prompt.safetensors, and loading a PEFT
// adapter directory as the method's state (`ptlab eval --from adapter_dir`).
#include "framework/core/error.h"
#include "framework/io/peft_adapter.h"
#include "methods/prompt_tuning/prompt_tuning.h"

#include <ATen/core/grad_mode.h>

#include <filesystem>

namespace ptlab::methods {
namespace fs = std::filesystem;

void PromptTuning::save_exports(const std::string& dir) {
  const auto& info = backbone_->info();
  io::PeftPromptAdapter adapter;
  auto& c = adapter.config;
  fs::path config_path = backbone_->config().path();
  c.base_model_name_or_path =
      config_path.filename() == "config.json" ? config_path.parent_path().string() : config_path.string();
  c.task_type = io::peft_task_type(info.family, /*sequence_classification=*/false);
  c.num_transformer_submodules = io::peft_num_transformer_submodules(c.task_type);
  c.num_virtual_tokens = length();
  c.token_dim = info.hidden_size;
  c.num_attention_heads = info.num_heads;
  c.num_layers = info.num_layers;
  // PEFT knows RANDOM (N(0,1)), SAMPLE_VOCAB and TEXT; ptlab's other inits are recorded as RANDOM (an
  // inference-mode adapter is loaded, never re-initialised, so the field is documentation only).
  switch (config_.init) {
    case PromptInit::kSampledVocab: c.prompt_tuning_init = "SAMPLE_VOCAB"; break;
    case PromptInit::kText:
      c.prompt_tuning_init = "TEXT";
      c.prompt_tuning_init_text = config_.init_text;
      c.tokenizer_name_or_path = c.base_model_name_or_path;
      break;
    default: c.prompt_tuning_init = "RANDOM"; break;
  }
  if (num_tasks_ == 1) {
    adapter.prompt_embeddings = peft_prompt_embeddings();  // [n * S, d]
    io::export_peft_prompt_adapter((fs::path(dir) / "adapter").string(), adapter);
    return;
  }
  // PEFT's prompt tuning holds one prompt per adapter: one adapter per task.
  for (int64_t t = 0; t < num_tasks_; ++t) {
    adapter.prompt_embeddings = peft_prompt_embeddings(t);
    const std::string name = task_names_.empty() ? "task" + std::to_string(t) : task_names_[t];
    io::export_peft_prompt_adapter((fs::path(dir) / "adapter" / name).string(), adapter);
  }
}

void PromptTuning::load_state(const std::string& path) {
  if (!fs::is_directory(path)) {
    Method::load_state(path);
    return;
  }
  PTLAB_CHECK(num_tasks_ == 1,
              "{}: a PEFT prompt-tuning adapter holds one prompt but {} is {}; load a prompt.safetensors of this "
              "method, or one task's adapter with num_tasks 1",
              path, config_.at("num_tasks"), num_tasks_);
  io::PeftPromptAdapter adapter = io::import_peft_prompt_adapter(path);
  const at::Tensor& table = adapter.prompt_embeddings;  // [n * S, d]
  const int64_t n = adapter.config.num_virtual_tokens;
  PTLAB_CHECK(n == length() && table.size(1) == prompt_.size(1),
              "{}: the adapter's prompt is {} x {} but this prompt_tuning has {} x {} (method.length and the model "
              "must match the adapter's num_virtual_tokens and token_dim)",
              path, n, table.size(1), length(), prompt_.size(1));
  at::NoGradGuard no_grad;
  prompt_.copy_(table.narrow(0, 0, n));  // the first n rows: the encoder's for seq2seq (PEFT uses only those)
}

}  // namespace ptlab::methods
