#include "tasks/builtin_tasks.h"

#include "framework/core/error.h"
#include "framework/core/suggest.h"
#include "framework/data/dataset.h"

#include <algorithm>
#include <mutex>
#include <sstream>
#include <set>

namespace ptlab::tasks {

namespace {

// alpaca-lora's templates/alpaca.json (the Stanford Alpaca prompts with a newline after "### Response:").
constexpr const char* kAlpacaInput =
    "Below is an instruction that describes a task, paired with an input that provides further context. Write a "
    "response that appropriately completes the request.\n\n### Instruction:\n{text_a}\n\n### Input:\n{text_b}\n\n"
    "### Response:\n";
constexpr const char* kAlpacaNoInput =
    "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{text_a}\n\n### Response:\n";

std::string describe_example(const data::Example& example) {
  std::string where = example.source.describe();
  if (example.index >= 0) where += fmt::format(" (row {})", example.index);
  return where.empty() ? std::string("<example>") : where;
}

// Whether some text or field comes before the mask (or, without one, anywhere): a causal LM needs a word to
// predict the answer from.
bool text_before_answer(const Template& tmpl) {
  for (const TemplatePart& part : tmpl.parts()) {
    if (part.kind == SlotKind::kMask) return false;
    if (part.kind == SlotKind::kText || part.kind == SlotKind::kField) return true;
  }
  return false;
}

void check_no_verbalizer(const TaskConfig& config, const std::string& where) {
  PTLAB_CHECK(!config.verbalizer && config.verbalizers.empty(),
              "{}: a task of type {} takes no verbalizer; remove task.verbalizer(s)", where, config.type);
}

}  // namespace

ScoringMode resolve_mode(ScoringMode mode, const models::BackboneInfo& backbone) {
  if (mode != ScoringMode::kAuto) return mode;
  if (backbone.is_encoder_decoder) return ScoringMode::kGenerate;
  return backbone.is_causal ? ScoringMode::kNextToken : ScoringMode::kMlm;
}

// ---- classification -----------------------------------------------------------------------------------

ClassificationTask::ClassificationTask(TaskConfig config, const text::Tokenizer& tokenizer,
                                       const models::BackboneInfo& backbone, bool pair)
    : Task(std::move(config), tokenizer, backbone) {
  PTLAB_CHECK(!config_.template_no_input, "{}: template_no_input is only for generation tasks", where());
  set_template("");
  PTLAB_CHECK(config_.verbalizer.has_value(), "{}: a task of type {} needs a verbalizer: set task.verbalizer", where(),
              config_.type);
  if (pair)
    PTLAB_CHECK(template_.uses(TemplateField::kTextB),
                "{}: template {} of a pair_classification task must use {{text_b}}", where(), template_.name());
  VerbalizerConfig v = *config_.verbalizer;
  v.mode = resolve_mode(v.mode, backbone_);
  v.head_reads_before_mask = v.mode == ScoringMode::kLinearHead && backbone_.is_causal && !backbone_.is_encoder_decoder;
  if (config_.data) {
    const std::vector<std::string> labels = data::label_space(*config_.data).names();
    if (!labels.empty()) v.reorder(labels);
  }
  if (v.mode == ScoringMode::kMlm)
    PTLAB_CHECK(template_.has_mask(), "{}: verbalizer mode mlm reads the answer at {{mask}}, but template {} has none",
                where(), template_.name());
  if (v.mode == ScoringMode::kNextToken || v.mode == ScoringMode::kRank)
    PTLAB_CHECK(text_before_answer(template_),
                "{}: verbalizer mode {} predicts the label word from the text before it, but nothing precedes the "
                "answer in template {}; pick a template with text before {{mask}} (task.template_name)",
                where(), scoring_mode_name(v.mode), template_.name());
  verbalizer_ = std::make_unique<Verbalizer>(std::move(v), tokenizer, template_.mask_spacing());
  if (!config_.task_classes.empty()) {
    const std::vector<std::string> classes = verbalizer_->class_names();
    task_class_mask_.assign(config_.task_names.size(), std::vector<bool>(classes.size(), true));
    for (std::size_t t = 0; t < config_.task_names.size(); ++t) {
      const auto it = config_.task_classes.find(config_.task_names[t]);
      if (it == config_.task_classes.end()) continue;
      task_class_mask_[t].assign(classes.size(), false);
      for (const std::string& name : it->second) {
        const int64_t c = verbalizer_->class_index(name);
        PTLAB_CHECK(c >= 0, "{}: task.task_classes.{} lists '{}'{}, which is not a class of the verbalizer; classes: {}",
                    where(), it->first, name, did_you_mean(name, classes), join_names(classes));
        task_class_mask_[t][static_cast<std::size_t>(c)] = true;
      }
    }
  }
}

RenderedExample ClassificationTask::encode(const data::Example& example, Purpose) const {
  RenderedExample r = render(template_, example);
  if (auto soft = example.meta.find("soft_labels"); soft != example.meta.end()) {
    // Soft targets (PET's distillation): one probability per class, space-separated, class-index order.
    std::istringstream in(soft->second);
    for (float p; in >> p;) r.soft_labels.push_back(p);
    PTLAB_CHECK(in.eof() && static_cast<int64_t>(r.soft_labels.size()) == num_classes(),
                "{}: example {} has soft_labels '{}'; expected {} numbers (one per class: {}) separated by spaces",
                where(), describe_example(example), soft->second, num_classes(), join_names(class_names()));
  }
  if (example.has_label()) {
    r.label = verbalizer_->class_index(example.label_name);
    PTLAB_CHECK(r.label >= 0, "{}: example {} has label '{}', which is not a class of the verbalizer{}; classes: {}",
                where(), describe_example(example), example.label_name,
                did_you_mean(example.label_name, verbalizer_->class_names()), join_names(verbalizer_->class_names()));
    PTLAB_CHECK(task_class_mask_.empty() || task_class_mask_[static_cast<std::size_t>(r.task_id)][r.label],
                "{}: example {} of task '{}' has label '{}', which task.task_classes.{} does not list", where(),
                describe_example(example), config_.task_names[static_cast<std::size_t>(r.task_id)], example.label_name,
                config_.task_names[static_cast<std::size_t>(r.task_id)]);
    if (verbalizer_->mode() == ScoringMode::kGenerate) {  // the text the model learns to produce
      r.target_ids = verbalizer_->word_tokens()[static_cast<std::size_t>(r.label)][0];
      if (tokenizer_->eos_id() >= 0) r.target_ids.push_back(tokenizer_->eos_id());
    }
  }
  return r;
}

// ---- generation ---------------------------------------------------------------------------------------

GenerationTask::GenerationTask(TaskConfig config, const text::Tokenizer& tokenizer,
                               const models::BackboneInfo& backbone)
    : Task(std::move(config), tokenizer, backbone) {
  check_no_verbalizer(config_, where());
  set_template(kAlpacaInput);
  const bool default_prompts = config_.template_text.empty();
  const std::string no_input_text = config_.template_no_input ? *config_.template_no_input
                                    : default_prompts         ? kAlpacaNoInput
                                                              : config_.template_text;
  no_input_ =
      Template::parse(no_input_text, config_.template_no_input ? where() + " template_no_input" : template_.name());
  for (const Template* t : {&template_, &no_input_})
    PTLAB_CHECK(!t->uses(TemplateField::kTarget),
                "{}: template {} of a generation task must not use {{target}}; the task appends the target itself",
                where(), t->name());
  // The training prompts: the target follows the prompt with the prompt's own spacing, and may be shortened.
  train_ = Template::parse(template_.text() + "{target:shortenable}", template_.name());
  train_no_input_ = Template::parse(no_input_.text() + "{target:shortenable}", no_input_.name());
}

RenderedExample GenerationTask::encode(const data::Example& example, Purpose purpose) const {
  const bool no_input = example.text_b.empty();
  const int64_t eos = tokenizer_->eos_id();
  if (backbone_.is_encoder_decoder) {
    RenderedExample r = render(no_input ? no_input_ : template_, example);
    std::vector<int> target = encode_piece(*tokenizer_, example.target, Spacing::kStart);
    r.target_ids.assign(target.begin(), target.end());
    if (eos >= 0) r.target_ids.push_back(eos);
    return r;
  }
  if (purpose == Purpose::kEval) return render(no_input ? no_input_ : template_, example, /*prefix_only=*/true);

  const int64_t reserve = eos >= 0 ? 1 : 0;
  RenderedExample r = render(no_input ? train_no_input_ : train_, example, /*prefix_only=*/true, reserve);
  if (eos >= 0) {
    r.input_ids.push_back(eos);
    r.token_type_ids.push_back(r.token_type_ids.empty() ? 0 : r.token_type_ids.back());
    r.target_end = static_cast<int64_t>(r.input_ids.size());
    r.length = r.target_end;
  }
  r.token_labels.assign(r.input_ids.size(), -100);
  PTLAB_ASSERT(r.target_begin >= 0, "the training prompt has no target slot");
  for (int64_t p = r.target_begin; p < r.length; ++p)
    r.token_labels[static_cast<std::size_t>(p)] = r.input_ids[static_cast<std::size_t>(p)];
  r.target_ids.assign(r.input_ids.begin() + static_cast<std::ptrdiff_t>(r.target_begin), r.input_ids.end());
  return r;
}

// ---- token classification -----------------------------------------------------------------------------

TokenClassificationTask::TokenClassificationTask(TaskConfig config, const text::Tokenizer& tokenizer,
                                                 const models::BackboneInfo& backbone)
    : Task(std::move(config), tokenizer, backbone) {
  check_no_verbalizer(config_, where());
  PTLAB_CHECK(!config_.template_no_input, "{}: template_no_input is only for generation tasks", where());
  set_template("{tokens}");
  PTLAB_CHECK(template_.uses(TemplateField::kTokens),
              "{}: template {} of a token_classification task must use {{tokens}} (the words to tag)", where(),
              template_.name());
  if (config_.data) {
    tags_ = data::label_space(*config_.data).names();
    fixed_tags_ = !tags_.empty();
    index_tags();
  }
}

void TokenClassificationTask::learn_labels(const std::vector<data::Example>& examples) {
  if (fixed_tags_) return;
  std::set<std::string> tags(tags_.begin(), tags_.end());
  for (const data::Example& ex : examples) tags.insert(ex.tags.begin(), ex.tags.end());
  tags_.assign(tags.begin(), tags.end());
  index_tags();
}

void TokenClassificationTask::index_tags() {
  tag_index_.clear();
  for (std::size_t i = 0; i < tags_.size(); ++i) tag_index_.emplace(tags_[i], static_cast<int64_t>(i));
}

RenderedExample TokenClassificationTask::encode(const data::Example& example, Purpose) const {
  PTLAB_CHECK(!tags_.empty(),
              "{}: the tag set is unknown; list it in task.data.labels or learn it from the training "
              "split first (learn_labels)",
              where());
  PTLAB_CHECK(example.tags.empty() || example.tags.size() == example.tokens.size(),
              "{}: example {} has {} tokens but {} tags", where(), describe_example(example), example.tokens.size(),
              example.tags.size());
  RenderedExample r = render(template_, example);
  r.token_labels.assign(r.input_ids.size(), -100);
  if (example.tags.empty()) return r;  // unlabeled
  for (std::size_t w = 0; w < r.word_starts.size(); ++w) {
    const int64_t start = r.word_starts[w];
    if (start < 0) continue;
    auto found = tag_index_.find(example.tags[w]);
    PTLAB_CHECK(found != tag_index_.end(),
                "{}: word {} ('{}') of example {} has tag '{}', which is not in the tag set "
                "of {} tags (learn the tags from every split, or list them in task.data.labels)",
                where(), w, example.tokens[w], describe_example(example), example.tags[w], tags_.size());
    r.token_labels[static_cast<std::size_t>(start)] = found->second;
  }
  return r;
}

// ---- lm -----------------------------------------------------------------------------------------------

LmTask::LmTask(TaskConfig config, const text::Tokenizer& tokenizer, const models::BackboneInfo& backbone)
    : Task(std::move(config), tokenizer, backbone) {
  check_no_verbalizer(config_, where());
  PTLAB_CHECK(!config_.template_no_input, "{}: template_no_input is only for generation tasks", where());
  set_template("{text_a}");
}

RenderedExample LmTask::encode(const data::Example& example, Purpose) const {
  RenderedExample r = render(template_, example);
  r.token_labels = r.input_ids;
  for (int64_t p : r.all_soft_positions()) r.token_labels[static_cast<std::size_t>(p)] = -100;
  return r;
}

// ---- registration -------------------------------------------------------------------------------------

void register_builtin_tasks() {
  static std::once_flag once;
  std::call_once(once, [] {
    Registry<TaskType>& registry = task_registry();
    registry.add("classification", "text_a -> class, with a template and a verbalizer",
                 {[](const TaskConfig& c, const text::Tokenizer& t, const models::BackboneInfo& b) {
                   return std::unique_ptr<Task>(new ClassificationTask(c, t, b, /*pair=*/false));
                 }});
    registry.add("pair_classification", "text_a, text_b -> class, with a template and a verbalizer",
                 {[](const TaskConfig& c, const text::Tokenizer& t, const models::BackboneInfo& b) {
                   return std::unique_ptr<Task>(new ClassificationTask(c, t, b, /*pair=*/true));
                 }});
    registry.add("generation", "instruction (+ input) -> output, loss on the response tokens (Alpaca)",
                 {[](const TaskConfig& c, const text::Tokenizer& t, const models::BackboneInfo& b) {
                   return std::unique_ptr<Task>(new GenerationTask(c, t, b));
                 }});
    registry.add("token_classification", "a tag per word, on its first sub-token (Brown POS)",
                 {[](const TaskConfig& c, const text::Tokenizer& t, const models::BackboneInfo& b) {
                   return std::unique_ptr<Task>(new TokenClassificationTask(c, t, b));
                 }});
    registry.add("lm", "language modelling on plain text (labels = input ids)",
                 {[](const TaskConfig& c, const text::Tokenizer& t, const models::BackboneInfo& b) {
                   return std::unique_ptr<Task>(new LmTask(c, t, b));
                 }});
  });
}

}  // namespace ptlab::tasks
