// MPT <-> PEFT: the MULTITASK_PROMPT_TUNING adapter a run exports next to prompt.safetensors, and loading
// such a directory as the method's state. Format (PEFT 0.10.0's save_pretrained, checked against
// ../shared/golden/peft/*/multitask/adapter_final): adapter_config.json as json.dumps(indent=2,
// sort_keys=True) with PEFT's MultitaskPromptTuningConfig fields; adapter_model.safetensors with
// prompt_embeddings [N*S, d], prefix_task_cols [T, N*S, r], prefix_task_rows [T, r, d] (float32).
#include "framework/core/error.h"
#include "framework/io/peft_adapter.h"
#include "framework/io/peft_files.h"
#include "methods/mpt/mpt.h"

#include <ATen/core/grad_mode.h>

#include <filesystem>

namespace ptlab::methods {
namespace fs = std::filesystem;

namespace {

const char* peft_init_name(MptInit init) {
  switch (init) {
    case MptInit::kText: return "TEXT";
    case MptInit::kAverageSourceTasks: return "AVERAGE_SOURCE_TASKS";
    case MptInit::kExactSourceTask: return "EXACT_SOURCE_TASK";
    case MptInit::kOnlySourceShared: return "ONLY_SOURCE_SHARED";
    default: return "RANDOM";  // PEFT's MPT knows no other; an inference-mode adapter is never re-initialised
  }
}

}  // namespace

void MultitaskPromptTuning::save_exports(const std::string& dir) {
  const auto& info = backbone_->info();
  const fs::path config_path = backbone_->config().path();
  const std::string base =
      config_path.filename() == "config.json" ? config_path.parent_path().string() : config_path.string();
  const std::string task_type = io::peft_task_type(info.family, /*sequence_classification=*/false);
  const bool text = config_.init == MptInit::kText;
  const nlohmann::json config = {
      {"auto_mapping", nullptr},
      {"base_model_name_or_path", base},
      {"inference_mode", true},
      {"num_attention_heads", info.num_heads},
      {"num_layers", info.num_layers},
      {"num_ranks", config_.rank},
      {"num_tasks", num_tasks_},
      {"num_transformer_submodules", submodules_},
      {"num_virtual_tokens", length()},
      {"peft_type", "MULTITASK_PROMPT_TUNING"},
      {"prompt_tuning_init", peft_init_name(config_.init)},
      {"prompt_tuning_init_state_dict_path", config_.init_file ? nlohmann::json(*config_.init_file) : nullptr},
      {"prompt_tuning_init_task", config_.init_task},
      {"prompt_tuning_init_text", text ? nlohmann::json(*config_.init_text) : nullptr},
      {"revision", nullptr},
      {"task_type", task_type},
      {"token_dim", info.hidden_size},
      {"tokenizer_kwargs", nullptr},
      {"tokenizer_name_or_path", text ? nlohmann::json(base) : nullptr},
  };
  const std::string readme = "---\nlibrary_name: peft\nbase_model: " + base +
                             "\n---\n\n# Multitask prompt tuning adapter\n\nProduced by ptlab " PTLAB_VERSION ": " +
                             std::to_string(length()) + " virtual tokens x " + std::to_string(submodules_) +
                             " submodule(s), " + std::to_string(num_tasks_) + " task(s), rank " +
                             std::to_string(config_.rank) +
                             ".\n\nLoad it with Hugging Face PEFT:\n\n    from peft import PeftModel\n    model = "
                             "PeftModel.from_pretrained(base_model, \"path/to/this/directory\")\n";
  io::peft_files::write_files((fs::path(dir) / "adapter").string(),
                              {{"prompt_embeddings", prompt_.detach().to(at::kCPU, at::kFloat)},
                               {"prefix_task_cols", task_cols_.detach().to(at::kCPU, at::kFloat)},
                               {"prefix_task_rows", task_rows_.detach().to(at::kCPU, at::kFloat)}},
                              config, readme, "PEFT MPT adapter");
}

void MultitaskPromptTuning::load_state(const std::string& path) {
  if (!fs::is_directory(path)) {
    Method::load_state(path);
    return;
  }
  const std::string config_path = (fs::path(path) / io::peft_files::kConfigFile).string();
  const nlohmann::json config = io::peft_files::read_config(path);
  const std::string type = config.value("peft_type", std::string());
  PTLAB_CHECK(type == "MULTITASK_PROMPT_TUNING", "{}: peft_type is '{}'; method mpt loads MULTITASK_PROMPT_TUNING adapters",
              config_path, type);
  const MptState state = read_mpt_state(path, path);
  PTLAB_CHECK(state.prompt.sizes() == prompt_.sizes() && state.task_cols.sizes() == task_cols_.sizes() &&
                  state.task_rows.sizes() == task_rows_.sizes(),
              "{}: the adapter holds a prompt {}, U {} and V {} but this mpt has {}, {} and {} (method.length, "
              "num_tasks, rank and the model must match the adapter)",
              path, c10::str(state.prompt.sizes()), c10::str(state.task_cols.sizes()),
              c10::str(state.task_rows.sizes()), c10::str(prompt_.sizes()), c10::str(task_cols_.sizes()),
              c10::str(task_rows_.sizes()));
  at::NoGradGuard no_grad;
  prompt_.copy_(state.prompt);
  task_cols_.copy_(state.task_cols);
  task_rows_.copy_(state.task_rows);
}

}  // namespace ptlab::methods
