// The built-in task types (registered by register_builtin_tasks(), see task.h).
//
//   classification        text_a -> class. Template + verbalizer (both required). encode() sets `label` to
//                         the class index of example.label_name (-1 when unlabeled); in verbalizer mode
//                         generate also target_ids = the class's first label word + eos (the decoder target
//                         of T5, as in Lester et al.).
//   pair_classification   the same over text_a and text_b; the template must use {text_b}.
//   generation            Alpaca: text_a = instruction, text_b = input (may be empty), target = output.
//                         Default prompts: alpaca-lora's templates/alpaca.json ("Below is an instruction
//                         ... ### Response:\n"), the no-input one when text_b is empty.
//                         Decoder-only, kTrain: prompt + target + eos in input_ids; token_labels are -100 on
//                         every prompt position (specials and soft tokens included) and the ids on the
//                         target and eos — the loss is on the response only; target_ids = target + eos and
//                         [target_begin, target_end) their positions. kEval: the prompt alone;
//                         target_ids hold the target's tokens as they would follow the prompt.
//                         Encoder-decoder (T5): the prompt (+ </s>) is the encoder input for both purposes;
//                         target_ids = target tokens + eos are the decoder's labels; no token_labels.
//   token_classification  Brown POS: tokens + tags. Default template "{tokens}". token_labels hold the tag
//                         index at each word's first sub-token and -100 elsewhere (other sub-tokens,
//                         specials, soft tokens). The tag set: data.labels, else learn_labels() (sorted).
//   lm                    plain corpus: text_a. Default template "{text_a}". token_labels = input_ids
//                         (unshifted), -100 at soft positions.
#pragma once

#include "tasks/task.h"

#include <map>
#include <string>
#include <vector>

namespace ptlab::tasks {

class ClassificationTask final : public Task {
 public:
  ClassificationTask(TaskConfig config, const text::Tokenizer& tokenizer, const models::BackboneInfo& backbone,
                     bool pair);
  RenderedExample encode(const data::Example& example, Purpose purpose) const override;

 private:
  std::vector<std::string> default_metrics() const override { return {"accuracy"}; }
};

class GenerationTask final : public Task {
 public:
  GenerationTask(TaskConfig config, const text::Tokenizer& tokenizer, const models::BackboneInfo& backbone);
  RenderedExample encode(const data::Example& example, Purpose purpose) const override;

  /// The prompt used for examples whose text_b is empty.
  const Template& no_input_prompt() const { return no_input_; }

 private:
  std::vector<std::string> default_metrics() const override { return {"exact_match", "token_f1"}; }
  Template no_input_;
  Template train_, train_no_input_;  // the prompts followed by {target:shortenable}
};

class TokenClassificationTask final : public Task {
 public:
  TokenClassificationTask(TaskConfig config, const text::Tokenizer& tokenizer, const models::BackboneInfo& backbone);
  std::vector<std::string> class_names() const override { return tags_; }
  void learn_labels(const std::vector<data::Example>& examples) override;
  RenderedExample encode(const data::Example& example, Purpose purpose) const override;

 private:
  std::vector<std::string> default_metrics() const override { return {"token_accuracy"}; }
  void index_tags();
  std::vector<std::string> tags_;
  std::map<std::string, int64_t> tag_index_;
  bool fixed_tags_ = false;  // from data.labels
};

class LmTask final : public Task {
 public:
  LmTask(TaskConfig config, const text::Tokenizer& tokenizer, const models::BackboneInfo& backbone);
  RenderedExample encode(const data::Example& example, Purpose purpose) const override;

 private:
  std::vector<std::string> default_metrics() const override { return {"perplexity"}; }
};

/// The verbalizer mode `auto` for a backbone: mlm (encoder-only), generate (encoder-decoder), next_token.
ScoringMode resolve_mode(ScoringMode mode, const models::BackboneInfo& backbone);

}  // namespace ptlab::tasks
