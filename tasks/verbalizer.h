// Verbalizers: how a task turns the backbone's output into class scores (hook point 3 of DESIGN.md).
//
//   verbalizer:
//     mode: auto                # auto | mlm | next_token | rank | generate | linear_head
//     label_words:              # class name -> one word or a list of words (YAML order = class order
//       negative: [terrible]    #   unless the dataset lists its labels, see reorder())
//       positive: [great, good]
//     reduction: first_token    # several sub-tokens at one position: first_token | mean
//                               #   | single (every word must be one token: PET's and LM-BFF's rule)
//     aggregation: mean         # several words per class: mean | max | logsumexp
//     length_normalize: false   # rank: mean instead of sum of the label's token log-probs
//     pooling: mask             # linear_head: mask | cls | last | pooler (mask on a causal LM: the state
//                               #   before {mask}, the one that predicts it)
//     dropout: 0.1              # linear_head: dropout before the head (P-Tuning v2: hidden_dropout_prob)
//     labels: [neg, pos]        # linear_head: the classes, when there are no label words (neither:
//                               #   the dataset's classes)
//
// Modes (`auto` is resolved by the task from the backbone kind, see task.h):
//  - mlm (PET, LM-BFF; BERT/RoBERTa): logits at the {mask} position, only for the label-word rows
//    (LogitsRequest::kPositions with vocab_rows). Per word: log-softmax over those rows, then its first
//    sub-token's log-prob (first_token) or the mean over its sub-tokens (mean), all read at the one mask
//    position (OpenPrompt's multi_token_handler). Per class: the aggregation over its words.
//  - next_token (causal LMs): the same, read at the answer position — the position before where the label
//    word would go: mask_position - 1, or the last position when the template has no {mask}.
//  - rank (rank classification, T0 / lm-eval style): each label word is put at the mask (or appended when
//    there is none), and its score is the sum (or, length-normalised, the mean) of its tokens' full-
//    vocabulary log-probs; rank_candidates() builds the C continuations, rank_scores() reduces.
//  - generate (T5 / causal LMs): the model generates text; class_of_text() maps it back to the class whose
//    label word equals it after SQuAD normalisation (answer_normalization.h), else -1.
//  - linear_head (P-Tuning v2): a trainable Linear(d, C) on the hidden state at the mask / the {cls} token /
//    the last token, or on BERT's pooler output (linear_head.h); label words are optional.
// Class scores are log-probabilities normalised over the label words (mlm, next_token), log-likelihoods
// (rank) or logits (linear_head): train with cross-entropy over the classes, predict with argmax.
//
// Label words are tokenised with the spacing the template gives the word at the mask (piece_encoder.h):
// " great" for GPT-2/RoBERTa after "It was {mask}", "▁great" for SentencePiece.
#pragma once

#include "framework/config/reader.h"
#include "framework/text/tokenizer.h"
#include "tasks/piece_encoder.h"
#include "tasks/template.h"

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace ptlab::models {
struct LogitsRequest;
}  // namespace ptlab::models

namespace ptlab::tasks {

enum class ScoringMode { kAuto, kMlm, kNextToken, kRank, kGenerate, kLinearHead };
enum class TokenReduction { kFirstToken, kMean, kSingle };
enum class WordAggregation { kMean, kMax, kLogSumExp };
enum class HeadPooling { kMask, kCls, kLast, kPooler };

/// "auto", "mlm", "next_token", "rank", "generate", "linear_head".
const char* scoring_mode_name(ScoringMode mode);

struct VerbalizerConfig {
  ScoringMode mode = ScoringMode::kAuto;
  /// Class name -> label words, in class order.
  std::vector<std::pair<std::string, std::vector<std::string>>> label_words;
  TokenReduction reduction = TokenReduction::kFirstToken;
  WordAggregation aggregation = WordAggregation::kMean;
  bool length_normalize = false;
  HeadPooling pooling = HeadPooling::kMask;
  /// Set by the task, not read from YAML: on a causal LM, pooling mask reads the hidden state that predicts
  /// the {mask} slot (mask_position - 1, the next_token verbalizer's answer position), not the state at
  /// the slot's placeholder token, which the model has never seen in pretraining.
  bool head_reads_before_mask = false;
  double dropout = 0.1;
  std::vector<std::string> labels;   ///< linear_head without label words
  std::string where = "verbalizer";  ///< key path and file, for messages

  /// Decodes a `verbalizer:` mapping and calls reader.finish(). Errors name the key path: an unknown mode,
  /// no label words (or labels, for linear_head), a class without words, an empty word.
  static VerbalizerConfig decode(config::Reader reader, const std::string& where);

  /// The class names in order.
  std::vector<std::string> class_names() const;

  /// Puts the classes in the order of `labels` (the dataset's). The two must hold the same names; a class
  /// the verbalizer lacks or one the dataset does not know is an Error naming both lists.
  void reorder(const std::vector<std::string>& labels);
};

/// One rank-classification continuation: a label word put at the answer slot.
struct RankCandidate {
  int64_t class_index = 0;
  int64_t word_index = 0;                ///< index among its class's words
  RenderedExample example;               ///< the rendered example with the word's tokens at the mask / appended
  std::vector<int64_t> score_positions;  ///< [L]: positions whose logits predict the word's tokens
  std::vector<int64_t> score_ids;        ///< [L]: the word's tokens
};

class Verbalizer {
 public:
  /// Tokenises the label words with `word_spacing` (Template::mask_spacing()); config.mode must not be
  /// auto any more (the task resolves it). A word that gives no tokens,
  /// or two classes that the chosen reduction cannot tell apart (same first token under first_token, same
  /// tokens under mean), are Errors naming the words.
  Verbalizer(VerbalizerConfig config, const text::Tokenizer& tokenizer, Spacing word_spacing);

  const VerbalizerConfig& config() const { return config_; }
  ScoringMode mode() const { return config_.mode; }
  int64_t num_classes() const { return static_cast<int64_t>(classes_.size()); }
  const std::vector<std::string>& class_names() const { return classes_; }
  /// Index of a class name, or -1.
  int64_t class_index(const std::string& name) const;
  /// Tokens of every label word: [class][word][token].
  const std::vector<std::vector<std::vector<int64_t>>>& word_tokens() const { return word_tokens_; }

  // ---- mlm / next_token ----
  /// The vocabulary rows to score, sorted and unique: the label words' first tokens (first_token) or all
  /// their tokens (mean). [V'] int64 on the CPU.
  const at::Tensor& vocab_rows() const { return vocab_rows_; }
  /// Where the answer is read: mlm the mask position; next_token the position before the mask (or the
  /// last position without a mask). Errors when that does not exist.
  int64_t answer_position(const RenderedExample& example) const;
  /// A request for the logits at `positions` ([B] or [B, 1] int64, already shifted for padding and
  /// prefixes) and only the vocab_rows() (moved to the positions' device).
  models::LogitsRequest logits_request(const at::Tensor& positions) const;
  /// Class scores [B, C] from the label-word rows' logits [B, V'] (or [B, 1, V']) in vocab_rows() order.
  at::Tensor class_scores(const at::Tensor& row_logits) const;
  /// The same from full-vocabulary logits [B, V] (or [B, 1, V]).
  at::Tensor class_scores_from_vocab_logits(const at::Tensor& logits) const;

  // ---- rank ----
  /// One candidate per label word, classes in order. The text after the mask is kept (soft groups after it
  /// keep their sizes) and shifted. The answer slot at position 0 (nothing to condition on) is an Error.
  std::vector<RankCandidate> rank_candidates(const RenderedExample& example) const;
  /// Number of candidates per example (all label words) and the longest word in tokens.
  int64_t num_candidates() const;
  int64_t max_word_tokens() const;
  /// Class scores [B, C] from the candidates' token log-probs [B, N, L] (N = num_candidates(), L >=
  /// max_word_tokens(); entries past a word's length are ignored): sum (or mean) per word, then the
  /// aggregation per class.
  at::Tensor rank_scores(const at::Tensor& token_logprobs) const;

  // ---- generate ----
  /// The class whose label word equals `generated` after normalisation, or -1. When words of several
  /// classes match, the first class wins.
  int64_t class_of_text(const std::string& generated) const;

  // ---- linear_head ----
  /// Where the head reads the hidden state: the mask, the first {cls} token (position 0 when the example
  /// has none), or the last position. pooler reads BackboneOutput::pooled, so it has no position (-1).
  int64_t head_position(const RenderedExample& example) const;

  // ---- prompt initialisation ----
  /// Lester et al.'s class-label init: per class, the mean of its first label word's sub-token rows of
  /// `word_embeddings` [V, d]. Returns [C, d] float32 on the embeddings' device. A class without label
  /// words (linear_head with labels only) is an Error.
  at::Tensor class_label_embeddings(const at::Tensor& word_embeddings) const;
  /// The same for every label word, classes in order: [W, d] float32 (W = num_candidates()).
  at::Tensor label_word_embeddings(const at::Tensor& word_embeddings) const;

 private:
  at::Tensor aggregate(const at::Tensor& word_scores) const;  // [B, W] -> [B, C]
  // Mean of the rows of `ids` (a label word of class c) in word_embeddings [V, d] -> [d] float32.
  at::Tensor mean_embedding(const at::Tensor& word_embeddings, const std::vector<int64_t>& ids, std::size_t c,
                            std::size_t w) const;

  VerbalizerConfig config_;
  std::vector<std::string> classes_;
  std::vector<std::vector<std::vector<int64_t>>> word_tokens_;  // [C][W][L]
  std::vector<int64_t> word_class_;                             // flat word -> class
  std::vector<std::vector<int64_t>> flat_words_;                // flat word -> tokens
  at::Tensor vocab_rows_;                                       // [V']
  at::Tensor word_columns_;                                     // [W, Lmax] columns into vocab_rows_
  at::Tensor word_column_mask_;                                 // [W, Lmax] float 1/0
};

/// log_softmax over the last dimension of `logits` [..., V], read at `ids` [...] (int64): token
/// log-probabilities, computed in float32.
at::Tensor gather_log_probs(const at::Tensor& logits, const at::Tensor& ids);

}  // namespace ptlab::tasks
