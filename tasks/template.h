// Prompt templates: the text around an example's fields, with soft-token slots, a mask slot and special
// tokens, parsed once and rendered to token ids per example.
//
//   "{soft:20} {text_a} It was {mask}."                       Lester et al. prompt + LM-BFF pattern
//   "{text_a} {soft:3} Question: {text_b} ? {soft:3} Answer: {mask}."   P-tuning (PET pattern + soft)
//   "{bos}{soft:5}{text_a}{sep}{text_b}{eos}"                  prefix soft prompt around a pair
//
// Slots (anything else between braces is an Error naming the template, the column and the known names):
//   {text_a} {text_b}       the example's texts                  (shortenable by default)
//   {meta.NAME}             a meta field of the example          (shortenable by default)
//   {label}                 the example's class name             (fixed by default)
//   {target}                the example's target text            (fixed by default)
//   {tokens}                the example's words, one space apart, each tokenised on its own; the
//                           rendering records where each word starts (token classification;
//                           shortenable by default)
//   {mask}                  the answer slot (at most one): the tokenizer's mask token; else T5's
//                           <extra_id_0>; else the placeholder id below
//   {bos} {eos} {sep} {cls} the tokenizer's special tokens (rendering Errors when it has none)
//   {soft:N}                a group of N trainable virtual tokens (N >= 1); any number of groups
// Options follow a colon: {text_a:shortenable}, {text_b:fixed} (fields only). Literal braces are written
// doubled: "{{" and "}}". Everything else is hard text, kept as written (newlines included).
//
// Spacing. Each piece is tokenised on its own (no special tokens added), with the spacing it has in the
// text (see piece_encoder.h): one space that separates two pieces in the template belongs to the piece
// after it — " It was" after {text_a} is encoded as " It was" for GPT-2/RoBERTa, as "It was" with its
// dummy "▁" for SentencePiece. Only words count as "before": text, fields and {mask}; soft groups are
// transparent ("{text_a} {soft:3} Question:" puts a space before "Question:") and special tokens and the
// start of the sequence reset it ("{soft:20} {text_a}" encodes text_a with no leading space, exactly
// as PEFT's prompt tuning sees the input). A second space next to text is literal text; spaces alone
// between two slots are one separator. Field values are used as they are (no trimming).
//
// Soft slots and the mask in input_ids. Soft positions hold a placeholder id — the tokenizer's pad id,
// else its unk id, else its eos id, else 0 — which a method replaces with its own embeddings (hook
// point 1, via RenderedExample::soft_positions). The placeholder never reaches the model as a token.
//
// Truncation (max_length > 0). When the pieces are longer than max_length, the shortenable fields are
// shortened from their end, one token at a time, always the currently longest one (the later one on a
// tie), as PET and LM-BFF do. The rest — hard text, specials, soft tokens, the mask and fixed fields — is
// the fixed part; a fixed part longer than max_length is an Error that gives both lengths.
//
// Token types: 0 up to and including the first {sep}, 1 after it (BERT's pair convention); give them to
// backbones whose type vocabulary has two entries.
#pragma once

#include "framework/data/example.h"
#include "framework/text/tokenizer.h"
#include "tasks/piece_encoder.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ptlab::tasks {

/// One example as token ids, before padding and batching.
struct RenderedExample {
  std::vector<int64_t> input_ids;       ///< [T]
  std::vector<int64_t> token_type_ids;  ///< [T]
  /// Per {soft:N} group, in template order: the N positions of its virtual tokens in input_ids.
  std::vector<std::vector<int64_t>> soft_positions;
  int64_t mask_position = -1;  ///< position of {mask}, or -1 when the template has none
  int64_t cls_position = -1;   ///< position of the first {cls}, or -1
  int64_t length = 0;          ///< T: every position is a real token (attention length)
  /// Class index of the example's label: Template::render copies the dataset's label_id; a task sets it
  /// from its own class list (the verbalizer's). -1 when unlabeled.
  int64_t label = -1;
  /// Per-position training labels, unshifted as in Hugging Face (the loss compares the logits at t with
  /// labels[t + 1] for causal LMs); -100 is ignored. Empty for classification.
  std::vector<int64_t> token_labels;
  /// Tokens of the example's target: what a generation task must produce (no special tokens).
  std::vector<int64_t> target_ids;
  /// [begin, end) positions of the {target} slot in input_ids; both -1 when the template has none.
  int64_t target_begin = -1, target_end = -1;
  /// {tokens}: per word, the position of its first sub-token, or -1 when truncation removed it.
  std::vector<int64_t> word_starts;
  /// Whether each field was shortened to fit max_length.
  bool truncated = false;
  /// Mixed-task batches: the index of the example's task in the task's `task_names` (the prompt it gets
  /// from a method with per-task prompts); -1 when the task has no task ids.
  int64_t task_id = -1;
  /// Soft targets (distillation, PET): a probability per class in class-index order, from the example's meta
  /// "soft_labels" (space-separated numbers); empty when it has none. Training then uses the soft-label loss.
  std::vector<float> soft_labels;

  /// All soft positions, flattened in template order.
  std::vector<int64_t> all_soft_positions() const;
};

enum class SlotKind { kText, kField, kSoft, kMask, kSpecial };
enum class TemplateField { kTextA, kTextB, kMeta, kLabel, kTarget, kTokens };
enum class SpecialToken { kBos, kEos, kSep, kCls };

/// One piece of a parsed template.
struct TemplatePart {
  SlotKind kind = SlotKind::kText;
  std::string text;  ///< kText: the literal text (braces unescaped, the separating space removed)
  TemplateField field = TemplateField::kTextA;  ///< kField
  std::string meta_key;                         ///< kField with kMeta
  SpecialToken special = SpecialToken::kBos;    ///< kSpecial
  int64_t soft_count = 0;                       ///< kSoft
  int soft_group = -1;                          ///< kSoft: index of the group in template order
  bool shortenable = false;                     ///< kField
  bool space_before = false;                    ///< a space separates it from the previous part in the template
  int column = 0;                               ///< 1-based column where it starts in the template text

  /// "{text_a}", "{soft:20}", "hard text 'It was'" — for messages.
  std::string describe() const;
};

class Template {
 public:
  Template() = default;

  /// Parses `text`; `name` says where it came from in messages ("task.template (configs/task/sst2.yaml)").
  /// Syntax errors name the template, the column and what would be valid.
  static Template parse(std::string_view text, std::string name = "template");

  const std::string& name() const { return name_; }
  const std::string& text() const { return text_; }
  const std::vector<TemplatePart>& parts() const { return parts_; }

  /// Number of {soft:N} groups and their sizes, in template order.
  int num_soft_groups() const { return static_cast<int>(soft_sizes_.size()); }
  const std::vector<int64_t>& soft_group_sizes() const { return soft_sizes_; }
  int64_t num_soft_tokens() const;

  bool has_mask() const { return mask_part_ >= 0; }
  bool uses(TemplateField field) const;
  bool uses(SpecialToken special) const;

  /// How a word put at the mask continues the text before it: kSpace when a space separates the mask
  /// from a preceding word ("It was {mask}"), kAttached when nothing does ("Answer:{mask}"), kStart when
  /// no word precedes it. Verbalizers encode their label words with it.
  Spacing mask_spacing() const;
  /// How a word appended after the whole template continues it (the target of a generation prompt).
  Spacing end_spacing() const;

  /// Renders `example` (see the header comment for spacing, truncation and placeholders). `max_length`
  /// <= 0 means no limit. A missing meta field, a {label} of an unlabeled example, a special token the
  /// tokenizer lacks, or a fixed part longer than max_length are Errors naming the template and example.
  RenderedExample render(const data::Example& example, const text::Tokenizer& tokenizer, int64_t max_length) const;

  /// The id written at soft positions for `tokenizer` (pad, else unk, else eos, else 0).
  static int64_t placeholder_id(const text::Tokenizer& tokenizer);
  /// The id written at {mask}: the mask token, else "<extra_id_0>", else placeholder_id().
  static int64_t mask_token_id(const text::Tokenizer& tokenizer);

  /// Names accepted between braces, for messages: "text_a, text_b, meta.NAME, ...".
  static std::vector<std::string> known_slots();

 private:
  // Spacing of a word put before part `part_index` (parts_.size(): after the end), all fields non-empty.
  Spacing spacing_before(std::size_t part_index) const;

  std::string name_;
  std::string text_;
  std::vector<TemplatePart> parts_;
  std::vector<int64_t> soft_sizes_;
  int mask_part_ = -1;
  bool trailing_space_ = false;  // the template ends with a separating space
};

}  // namespace ptlab::tasks
