#include "methods/prompt_tuning/prompt_tuning.h"

#include "framework/core/error.h"
#include "framework/core/suggest.h"
#include "methods/prompt_tuning/prompt_init.h"

#include <ATen/CPUGeneratorImpl.h>

namespace ptlab::methods {
namespace {

constexpr PromptInit kInits[] = {PromptInit::kUniform, PromptInit::kNormal,     PromptInit::kSampledVocab,
                                 PromptInit::kText,    PromptInit::kClassLabel, PromptInit::kFile,
                                 PromptInit::kMask};

}  // namespace

const char* prompt_init_name(PromptInit init) {
  switch (init) {
    case PromptInit::kUniform:
      return "uniform";
    case PromptInit::kNormal:
      return "normal";
    case PromptInit::kSampledVocab:
      return "sampled_vocab";
    case PromptInit::kText:
      return "text";
    case PromptInit::kClassLabel:
      return "class_label";
    case PromptInit::kFile:
      return "file";
    case PromptInit::kMask:
      return "mask";
  }
  PTLAB_ASSERT(false, "unknown PromptInit {}", static_cast<int>(init));
}

std::vector<std::string> prompt_init_names() {
  std::vector<std::string> out;
  for (PromptInit init : kInits) out.emplace_back(prompt_init_name(init));
  return out;
}

PromptTuningConfig PromptTuningConfig::decode(config::Reader reader) {
  PromptTuningConfig c;
  c.where = reader.path();
  reader.has("name");  // make_method's key
  c.length = reader.get<std::optional<int64_t>>("length", c.length);
  PTLAB_CHECK(!c.length || *c.length >= 1,
              "{}: the prompt needs at least 1 virtual token, got {} (null takes the "
              "template's {{soft:N}} total)",
              c.at("length"), *c.length);

  const std::string init = reader.get<std::string>("init", prompt_init_name(c.init));
  bool known = false;
  for (PromptInit candidate : kInits) {
    if (init == prompt_init_name(candidate)) {
      c.init = candidate;
      known = true;
    }
  }
  PTLAB_CHECK(known, "{}: unknown prompt init '{}'{}; known: {}", c.at("init"), init,
              did_you_mean(init, prompt_init_names()), join_names(prompt_init_names()));

  c.init_range = reader.get<double>("init_range", c.init_range);
  PTLAB_CHECK(c.init_range > 0, "{}: the uniform range r (U[-r, r]) must be > 0, got {}", c.at("init_range"),
              c.init_range);
  c.init_std = reader.get<double>("init_std", c.init_std);
  PTLAB_CHECK(c.init_std > 0, "{}: the normal init's standard deviation must be > 0, got {}", c.at("init_std"),
              c.init_std);
  c.sample_top_k = reader.get<int64_t>("sample_top_k", c.sample_top_k);
  PTLAB_CHECK(c.sample_top_k >= 0, "{}: must be >= 0 (0 = sample the whole vocabulary), got {}", c.at("sample_top_k"),
              c.sample_top_k);
  c.init_text = reader.get<std::optional<std::string>>("init_text", std::nullopt);
  c.init_file = reader.get<std::optional<std::string>>("init_file", std::nullopt);
  if (c.init == PromptInit::kText) {
    PTLAB_CHECK(c.init_text.has_value(), "{}: init text needs the words to start from; set {}=\"...\"",
                c.at("init_text"), c.at("init_text"));
    PTLAB_CHECK(!c.init_text->empty(), "{}: init text needs the words to start from, got an empty string",
                c.at("init_text"));
  }
  if (c.init == PromptInit::kFile) {
    PTLAB_CHECK(c.init_file.has_value() && !c.init_file->empty(),
                "{}: init file needs a prompt to start from; set {}= a prompt.safetensors or a PEFT adapter directory",
                c.at("init_file"), c.at("init_file"));
  }
  c.num_tasks = reader.get<std::optional<int64_t>>("num_tasks", c.num_tasks);
  PTLAB_CHECK(!c.num_tasks || *c.num_tasks >= 1,
              "{}: needs at least 1 task (one prompt per task id), got {}; null takes task.task_names' count",
              c.at("num_tasks"), *c.num_tasks);
  reader.finish();
  return c;
}

PromptTuning::PromptTuning(PromptTuningConfig config, const MethodContext& context)
    : config_(std::move(config)), backbone_(&context.backbone) {
  const models::BackboneInfo& info = backbone_->info();
  const int64_t n = resolve_soft_length(config_.length, context.task.prompt(), info, config_.at("length"));
  config_.length = n;
  const std::vector<std::string>& names = context.task.config().task_names;
  num_tasks_ = resolve_num_tasks(config_.num_tasks, context.task.config(), config_.at("num_tasks"),
                                 "one prompt per task");
  if (static_cast<int64_t>(names.size()) == num_tasks_) task_names_ = names;
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(context.seed);
  std::vector<at::Tensor> tasks;
  for (int64_t t = 0; t < num_tasks_; ++t) tasks.push_back(initial_prompt(context, generator));  // [n, d] each
  const at::Tensor initial = num_tasks_ == 1 ? tasks[0] : at::cat(tasks, 0);                    // [T * n, d]
  PTLAB_ASSERT(initial.dim() == 2 && initial.size(0) == num_tasks_ * n && initial.size(1) == info.hidden_size,
               "initial prompt of the wrong shape");
  prompt_ = register_parameter("prompt", initial.to(backbone_->device()).contiguous(), /*requires_grad=*/true);
}

at::Tensor PromptTuning::initial_prompt(const MethodContext& context, at::Generator& generator) {
  const int64_t n = *config_.length;
  const int64_t d = backbone_->info().hidden_size;
  switch (config_.init) {
    case PromptInit::kUniform:
      return uniform_prompt(n, d, config_.init_range, generator);
    case PromptInit::kNormal:
      return normal_prompt(n, d, config_.init_std, generator);
    case PromptInit::kSampledVocab:
      return sampled_vocab_prompt(backbone_->word_embeddings(), n, config_.sample_top_k, generator,
                                  config_.at("sample_top_k"));
    case PromptInit::kText:
      init_token_ids_ = text_init_ids(context.tokenizer, *config_.init_text, n, config_.at("init_text"));
      return embedding_rows(backbone_->word_embeddings(), init_token_ids_, config_.at("init_text"));
    case PromptInit::kClassLabel: {
      const tasks::Verbalizer* verbalizer = context.task.verbalizer();
      PTLAB_CHECK(verbalizer != nullptr,
                  "{}: class_label init takes the label words of a classification task's "
                  "verbalizer, but task {} is of type {}; pick another init",
                  config_.at("init"), context.task.name(), context.task.type());
      return class_label_prompt(backbone_->word_embeddings(), *verbalizer, n, config_.sample_top_k, generator,
                                config_.at("init"));
    }
    case PromptInit::kMask:
      // PPT (Gu et al. 2022): every row starts as the embedding of the mask token.
      init_token_ids_.assign(static_cast<std::size_t>(n), tasks::Template::mask_token_id(context.tokenizer));
      return embedding_rows(backbone_->word_embeddings(), init_token_ids_, config_.at("init"));
    case PromptInit::kFile:
      return file_prompt(*config_.init_file, n, d, backbone_->info().is_encoder_decoder, config_.at("init_file"));
  }
  PTLAB_ASSERT(false, "unhandled prompt init");
}

int64_t PromptTuning::front_soft_tokens(const tasks::Template& tmpl) const {
  return tmpl.num_soft_tokens() == 0 ? length() : 0;
}

models::BackboneInput PromptTuning::prompt(const tasks::Batch& batch) {
  const int64_t n = length();
  check_soft_batch(batch, n, backbone_->info(), "prompt_tuning", config_.at("length"));
  const int64_t rows = batch.size();

  models::BackboneInput input = batch_input(batch, *backbone_, /*with_ids=*/false);
  const at::Device device = backbone_->device();
  const at::Tensor embeds = backbone_->embed(batch.input_ids.to(device));  // [B, T, d], backbone dtype
  const int64_t d = embeds.size(2);
  at::Tensor rows_embeds;  // [B, n, d]: each row's task's prompt
  if (num_tasks_ == 1) {  // one prompt shared by every task
    rows_embeds = prompt_.to(embeds.scalar_type()).unsqueeze(0).expand({rows, n, d});
  } else {
    const at::Tensor tasks = batch_task_ids(batch, num_tasks_, config_.at("num_tasks"), device);  // [B]
    rows_embeds = prompt_.to(embeds.scalar_type()).view({num_tasks_, n, d}).index_select(0, tasks);
  }
  input.inputs_embeds = place_soft_rows(embeds, batch.soft_positions, rows_embeds);  // [B, T, d]
  return input;
}

at::Tensor PromptTuning::peft_prompt_embeddings(int64_t task) const {
  PTLAB_ASSERT(task >= 0 && task < num_tasks_, "task {} of {}", task, num_tasks_);
  const at::Tensor trained = task_prompt(task).detach().to(at::kCPU, at::kFloat);  // [n, d]
  if (!backbone_->info().is_encoder_decoder) return trained.clone();
  return at::cat({trained, at::zeros_like(trained)}, 0);  // [2n, d]: the decoder half PEFT leaves unused
}

}  // namespace ptlab::methods
