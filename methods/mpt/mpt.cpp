#include "methods/mpt/mpt.h"

#include "framework/core/error.h"
#include "framework/core/suggest.h"
#include "framework/io/safetensors.h"
#include "methods/prompt_tuning/prompt_init.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/grad_mode.h>

#include <filesystem>

namespace ptlab::methods {
namespace {

constexpr MptInit kInits[] = {MptInit::kNormal,
                              MptInit::kUniform,
                              MptInit::kSampledVocab,
                              MptInit::kText,
                              MptInit::kAverageSourceTasks,
                              MptInit::kExactSourceTask,
                              MptInit::kOnlySourceShared};

std::vector<std::string> init_names() {
  std::vector<std::string> out;
  for (MptInit init : kInits) out.emplace_back(mpt_init_name(init));
  return out;
}

bool from_source(MptInit init) {
  return init == MptInit::kAverageSourceTasks || init == MptInit::kExactSourceTask ||
         init == MptInit::kOnlySourceShared;
}

std::string shape_text(const at::Tensor& t) { return c10::str(t.sizes()); }

}  // namespace

const char* mpt_init_name(MptInit init) {
  switch (init) {
    case MptInit::kNormal: return "normal";
    case MptInit::kUniform: return "uniform";
    case MptInit::kSampledVocab: return "sampled_vocab";
    case MptInit::kText: return "text";
    case MptInit::kAverageSourceTasks: return "average_source_tasks";
    case MptInit::kExactSourceTask: return "exact_source_task";
    case MptInit::kOnlySourceShared: return "only_source_shared";
  }
  PTLAB_ASSERT(false, "unknown MptInit {}", static_cast<int>(init));
}

MptConfig MptConfig::decode(config::Reader reader) {
  MptConfig c;
  c.where = reader.path();
  reader.has("name");  // make_method's key
  c.length = reader.get<int64_t>("length", c.length);
  PTLAB_CHECK(c.length >= 1, "{}: the prompt needs at least 1 virtual token, got {}", c.at("length"), c.length);
  c.num_tasks = reader.get<std::optional<int64_t>>("num_tasks", c.num_tasks);
  PTLAB_CHECK(!c.num_tasks || *c.num_tasks >= 1,
              "{}: MPT needs at least 1 task (the task ids run over 0..num_tasks-1; null: task.task_names), got {}",
              c.at("num_tasks"), *c.num_tasks);
  c.rank = reader.get<int64_t>("rank", c.rank);
  PTLAB_CHECK(c.rank >= 1, "{}: the rank r of the task factors U [T, N, r] and V [T, r, d] must be >= 1, got {}",
              c.at("rank"), c.rank);

  const std::string init = reader.get<std::string>("init", mpt_init_name(c.init));
  bool known = false;
  for (MptInit candidate : kInits) {
    if (init == mpt_init_name(candidate)) {
      c.init = candidate;
      known = true;
    }
  }
  PTLAB_CHECK(known, "{}: unknown MPT init '{}'{}; known: {}", c.at("init"), init, did_you_mean(init, init_names()),
              join_names(init_names()));
  c.init_std = reader.get<double>("init_std", c.init_std);
  PTLAB_CHECK(c.init_std > 0, "{}: must be > 0, got {}", c.at("init_std"), c.init_std);
  c.init_range = reader.get<double>("init_range", c.init_range);
  PTLAB_CHECK(c.init_range > 0, "{}: must be > 0, got {}", c.at("init_range"), c.init_range);
  c.sample_top_k = reader.get<int64_t>("sample_top_k", c.sample_top_k);
  PTLAB_CHECK(c.sample_top_k >= 0, "{}: must be >= 0 (0 = the whole vocabulary), got {}", c.at("sample_top_k"),
              c.sample_top_k);
  c.init_text = reader.get<std::optional<std::string>>("init_text", std::nullopt);
  c.init_file = reader.get<std::optional<std::string>>("init_file", std::nullopt);
  c.init_task = reader.get<int64_t>("init_task", c.init_task);
  PTLAB_CHECK(c.init_task >= 0, "{}: a source task id is >= 0, got {}", c.at("init_task"), c.init_task);
  c.factor_init_std = reader.get<double>("factor_init_std", c.factor_init_std);
  PTLAB_CHECK(c.factor_init_std > 0, "{}: must be > 0 (PEFT's is 0.02), got {}", c.at("factor_init_std"),
              c.factor_init_std);
  c.teachers = reader.get<std::vector<std::string>>("teachers", c.teachers);
  PTLAB_CHECK(c.teachers.size() <= 1 || !c.num_tasks || static_cast<int64_t>(c.teachers.size()) == *c.num_tasks,
              "{}: distillation needs one teacher prompt per task: {} is {} but {} teachers are given",
              c.at("teachers"), c.at("num_tasks"), *c.num_tasks, c.teachers.size());
  c.distill_weight = reader.get<double>("distill_weight", c.distill_weight);
  PTLAB_CHECK(c.distill_weight >= 0, "{}: the distillation weight lambda must be >= 0, got {}",
              c.at("distill_weight"), c.distill_weight);

  if (c.init == MptInit::kText) {
    PTLAB_CHECK(c.init_text && !c.init_text->empty(), "{}: init text needs the words to start from; set {}=\"...\"",
                c.at("init_text"), c.at("init_text"));
  }
  if (from_source(c.init)) {
    PTLAB_CHECK(c.init_file && !c.init_file->empty(),
                "{}: init {} starts from a source checkpoint; set {}= the source stage's prompt.safetensors (or a PEFT "
                "MULTITASK_PROMPT_TUNING adapter)",
                c.at("init_file"), mpt_init_name(c.init), c.at("init_file"));
  }
  reader.finish();
  return c;
}

MultitaskPromptTuning::MultitaskPromptTuning(MptConfig config, const MethodContext& context)
    : config_(std::move(config)), backbone_(&context.backbone) {
  const models::BackboneInfo& info = backbone_->info();
  const int64_t n = resolve_soft_length(config_.length, context.task.prompt(), info, config_.at("length"),
                                        /*nullable=*/false);
  submodules_ = info.is_encoder_decoder ? 2 : 1;
  num_tasks_ = resolve_num_tasks(config_.num_tasks, context.task.config(), config_.at("num_tasks"),
                                 "factors per task");
  const int64_t rows = n * submodules_, d = info.hidden_size, T = num_tasks_, r = config_.rank;

  // PEFT's draw order from one generator: the shared table (nn.Embedding's N(0, 1) for RANDOM, and for the
  // source modes, which overwrite it), then U, then V.
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(context.seed);
  at::Tensor prompt;  // [N*S, d]
  switch (config_.init) {
    case MptInit::kUniform:
      prompt = uniform_prompt(rows, d, config_.init_range, generator);
      break;
    case MptInit::kSampledVocab:
      prompt = sampled_vocab_prompt(backbone_->word_embeddings(), rows, config_.sample_top_k, generator,
                                    config_.at("sample_top_k"));
      break;
    case MptInit::kText:
      prompt = embedding_rows(backbone_->word_embeddings(),
                              text_init_ids(context.tokenizer, *config_.init_text, rows, config_.at("init_text")),
                              config_.at("init_text"));
      break;
    default:
      prompt = normal_prompt(rows, d, from_source(config_.init) ? 1.0 : config_.init_std, generator);
      break;
  }
  const auto f32 = at::TensorOptions().dtype(at::kFloat);
  at::Tensor cols = at::normal(0.0, config_.factor_init_std, {T, rows, r}, generator, f32);  // [T, N*S, r]
  at::Tensor task_rows = at::normal(0.0, config_.factor_init_std, {T, r, d}, generator, f32);  // [T, r, d]
  if (from_source(config_.init)) init_from_source(context, prompt, cols, task_rows);

  const at::Device device = backbone_->device();
  prompt_ = register_parameter("prompt", prompt.to(device, at::kFloat).contiguous(), true);
  task_cols_ = register_parameter("task_cols", cols.to(device).contiguous(), true);
  task_rows_ = register_parameter("task_rows", task_rows.to(device).contiguous(), true);

  if (!config_.teachers.empty()) {
    PTLAB_CHECK(!info.is_encoder_decoder,
                "{}: prompt distillation runs on decoder-only and encoder-only models; {} is encoder-decoder (its "
                "MPT prompt has a decoder half that prompt_tuning teachers lack); drop the teachers",
                config_.at("teachers"), info.model_type);
    const int64_t given = static_cast<int64_t>(config_.teachers.size());
    PTLAB_CHECK(given == T || given == 1,
                "{}: distillation needs one teacher prompt per task (or one prompt_tuning file with num_tasks {}): {} "
                "is {} but {} teachers are given",
                config_.at("teachers"), T, config_.at("num_tasks"), T, given);
    if (given == T && T == 1) {
      teachers_ = file_prompt(config_.teachers[0], n, d, false, config_.at("teachers") + "[0]").unsqueeze(0);
    } else if (given == T) {
      std::vector<at::Tensor> teachers;
      for (int64_t t = 0; t < T; ++t) {
        const std::string where = config_.at("teachers") + "[" + std::to_string(t) + "]";
        teachers.push_back(file_prompt(config_.teachers[t], n, d, /*encoder_decoder=*/false, where));  // [N, d]
      }
      teachers_ = at::stack(teachers);  // [T, N, d]
    } else {  // one prompt_tuning run with num_tasks T: its "prompt" [T*N, d], task t's rows N*t..N*t+N-1
      const std::string where = config_.at("teachers") + "[0]";
      const std::string& path = config_.teachers[0];
      PTLAB_CHECK(std::filesystem::is_regular_file(path), "{}: no teacher prompt at {}", where, path);
      const auto tensors = io::load_safetensors(path);
      PTLAB_CHECK(tensors.count("prompt") && tensors.at("prompt").dim() == 2 &&
                      tensors.at("prompt").size(0) == T * n && tensors.at("prompt").size(1) == d,
                  "{}: {} must hold a prompt_tuning 'prompt' of [{} x {}, {}] (num_tasks {}, length {}) for {} tasks "
                  "from one file; give one file per task otherwise",
                  where, path, T, n, d, T, n, T);
      teachers_ = tensors.at("prompt").to(at::kFloat).view({T, n, d});
    }
    teachers_ = teachers_.to(device, at::kFloat);
  }
}

void MultitaskPromptTuning::init_from_source(const MethodContext& context, at::Tensor& prompt, at::Tensor& cols,
                                             at::Tensor& rows) {
  (void)context;
  const std::string where = config_.at("init_file");
  const MptState source = read_mpt_state(*config_.init_file, where);
  PTLAB_CHECK(source.prompt.sizes() == prompt.sizes(),
              "{}: the source prompt in {} is {} but this mpt needs {} ({} = {}{}, the model's hidden size {}); "
              "use the source's length and model",
              where, *config_.init_file, shape_text(source.prompt), shape_text(prompt), config_.at("length"),
              config_.length, submodules_ == 2 ? " x 2 submodules" : "", prompt.size(1));
  PTLAB_CHECK(source.task_cols.size(1) == cols.size(1) && source.task_cols.size(2) == cols.size(2),
              "{}: the source's task factors in {} are U {} / V {} but this mpt has rank {} (U [T, {}, {}]); set {} "
              "to the source's rank",
              where, *config_.init_file, shape_text(source.task_cols), shape_text(source.task_rows), config_.rank,
              cols.size(1), cols.size(2), config_.at("rank"));
  prompt = source.prompt.clone();
  const int64_t T = cols.size(0);
  if (config_.init == MptInit::kAverageSourceTasks) {
    cols = source.task_cols.mean(0, /*keepdim=*/true).expand_as(cols).clone();  // [T, N*S, r]
    rows = source.task_rows.mean(0, /*keepdim=*/true).expand_as(rows).clone();  // [T, r, d]
  } else if (config_.init == MptInit::kExactSourceTask) {
    const int64_t source_tasks = source.task_cols.size(0);
    PTLAB_CHECK(config_.init_task < source_tasks, "{}: is {} but the source checkpoint {} has {} tasks (0..{})",
                config_.at("init_task"), config_.init_task, *config_.init_file, source_tasks, source_tasks - 1);
    cols = source.task_cols[config_.init_task].unsqueeze(0).expand({T, -1, -1}).clone();
    rows = source.task_rows[config_.init_task].unsqueeze(0).expand({T, -1, -1}).clone();
  }  // only_source_shared: U and V keep their fresh draws
}

int64_t MultitaskPromptTuning::front_soft_tokens(const tasks::Template& tmpl) const {
  return tmpl.num_soft_tokens() == 0 ? length() : 0;
}

at::Tensor MultitaskPromptTuning::task_prompts(const at::Tensor& task_ids) const {
  const at::Tensor cols = task_cols_.index_select(0, task_ids);  // [B, N*S, r]
  const at::Tensor rows = task_rows_.index_select(0, task_ids);  // [B, r, d]
  return prompt_.unsqueeze(0) * at::bmm(cols, rows);             // [B, N*S, d]
}

at::Tensor MultitaskPromptTuning::place(const tasks::Batch& batch, const at::Tensor& embeds,
                                        const at::Tensor& rows) const {
  return place_soft_rows(embeds, batch.soft_positions, rows);  // embeds [B, T, d]; rows [B, N, d]
}

models::BackboneInput MultitaskPromptTuning::prompt(const tasks::Batch& batch) {
  const int64_t n = length();
  check_soft_batch(batch, n, backbone_->info(), "mpt", config_.at("length"));

  models::BackboneInput input = batch_input(batch, *backbone_, /*with_ids=*/false);
  const at::Device device = backbone_->device();
  const at::Tensor ids = batch_task_ids(batch, num_tasks_, config_.at("num_tasks"), prompt_.device());
  const at::Tensor prompts = task_prompts(ids);                               // [B, N*S, d]
  const at::Tensor embeds = backbone_->embed(batch.input_ids.to(device));    // [B, T, d]
  input.inputs_embeds = place(batch, embeds, prompts.narrow(1, 0, n));       // [B, T, d]
  if (submodules_ == 2 && input.decoder_input_ids.defined()) {
    // PEFT's S = 2 layout: rows N..2N-1 in front of the decoder input.
    const at::Tensor decoder = backbone_->embed(input.decoder_input_ids);  // [B, T_dec, d]
    const int64_t rows = decoder.size(0);
    input.decoder_inputs_embeds = at::cat({prompts.narrow(1, n, n).to(decoder.scalar_type()), decoder}, 1);
    input.decoder_input_ids = at::Tensor();
    const at::Tensor mask = input.decoder_attention_mask.defined()
                                ? input.decoder_attention_mask
                                : at::ones({rows, decoder.size(1)}, at::TensorOptions().dtype(at::kLong).device(device));
    input.decoder_attention_mask = at::cat({at::ones({rows, n}, mask.options()), mask}, 1);  // [B, N + T_dec]
  }
  return input;
}

at::Tensor MultitaskPromptTuning::extra_loss(const tasks::Batch& batch, const models::BackboneInput& input,
                                             const models::BackboneOutput& output) {
  if (!teachers_.defined()) return {};
  const at::Tensor ids = batch_task_ids(batch, num_tasks_, config_.at("num_tasks"), teachers_.device());
  models::BackboneOutput teacher;
  {
    at::NoGradGuard no_grad;
    models::BackboneInput teacher_input = input;
    teacher_input.inputs_embeds = place(batch, input.inputs_embeds.detach(), teachers_.index_select(0, ids));
    teacher = backbone_->forward(teacher_input);
  }
  const at::Tensor mask = input.attention_mask.defined()  // [B, T] 1 on real and virtual tokens
                              ? input.attention_mask.to(at::kFloat)
                              : at::ones(input.inputs_embeds.sizes().slice(0, 2), input.inputs_embeds.options().dtype(at::kFloat));
  auto masked_mean = [](const at::Tensor& values, const at::Tensor& weights) {  // [B, K] each
    return (values * weights).sum() / weights.sum().clamp_min(1.0);
  };

  // L_hidden: MSE of the last hidden states, mean over d and the unmasked positions.
  const at::Tensor diff = output.last_hidden_state.to(at::kFloat) - teacher.last_hidden_state.to(at::kFloat);
  at::Tensor distill = masked_mean(diff.pow(2).mean(-1), mask);  // [B, T] -> scalar

  // L_logits: KL(teacher || student) over the scored logits [B, K, V'].
  if (output.logits.defined()) {
    const at::Tensor log_student = at::log_softmax(output.logits.to(at::kFloat), -1);
    const at::Tensor log_teacher = at::log_softmax(teacher.logits.to(at::kFloat), -1);
    const at::Tensor kl = (log_teacher.exp() * (log_teacher - log_student)).sum(-1);  // [B, K]
    const bool every_position = input.logits.mode == models::LogitsRequest::Mode::kAll && kl.sizes() == mask.sizes();
    distill = distill + masked_mean(kl, every_position ? mask : at::ones_like(kl));
  }
  return distill * config_.distill_weight;
}

MptState read_mpt_state(const std::string& given, const std::string& where) {
  namespace fs = std::filesystem;
  std::string path = given;
  if (fs::is_directory(path)) path = (fs::path(path) / "adapter_model.safetensors").string();
  PTLAB_CHECK(fs::is_regular_file(path),
              "{}: no MPT checkpoint at {} (expected an mpt run's prompt.safetensors or a PEFT adapter)", where, given);
  const auto tensors = io::load_safetensors(path);
  auto pick = [&](const char* ours, const char* peft) {
    if (tensors.count(ours)) return tensors.at(ours).to(at::kCPU, at::kFloat);
    PTLAB_CHECK(tensors.count(peft), "{}: {} has neither '{}' (ptlab mpt) nor '{}' (PEFT); it is not an MPT checkpoint",
                where, path, ours, peft);
    return tensors.at(peft).to(at::kCPU, at::kFloat);
  };
  MptState state{pick("prompt", "prompt_embeddings"), pick("task_cols", "prefix_task_cols"),
                 pick("task_rows", "prefix_task_rows")};
  const bool fits = state.prompt.dim() == 2 && state.task_cols.dim() == 3 && state.task_rows.dim() == 3 &&
                    state.task_cols.size(0) == state.task_rows.size(0) &&
                    state.task_cols.size(1) == state.prompt.size(0) &&
                    state.task_cols.size(2) == state.task_rows.size(1) &&
                    state.task_rows.size(2) == state.prompt.size(1);
  PTLAB_CHECK(fits, "{}: {} holds a prompt {}, U {} and V {} that do not fit together ([N, d], [T, N, r], [T, r, d])",
              where, path, shape_text(state.prompt), shape_text(state.task_cols), shape_text(state.task_rows));
  return state;
}

}  // namespace ptlab::methods
