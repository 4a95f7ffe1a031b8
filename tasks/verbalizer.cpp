#include "tasks/verbalizer.h"

#include "framework/core/error.h"
#include "framework/core/suggest.h"
#include "framework/models/backbone.h"
#include "tasks/answer_normalization.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <map>
#include <set>

namespace ptlab::tasks {

namespace {

template <class E>
E choose(const std::string& value, const std::vector<std::pair<std::string, E>>& options, const std::string& key) {
  std::vector<std::string> names;
  for (const auto& [name, e] : options) {
    if (name == value) return e;
    names.push_back(name);
  }
  PTLAB_FAIL("{}: unknown value '{}'{}; expected one of: {}", key, value, did_you_mean(value, names),
             join_names(names));
}

const std::vector<std::pair<std::string, ScoringMode>> kModes = {
    {"auto", ScoringMode::kAuto}, {"mlm", ScoringMode::kMlm},           {"next_token", ScoringMode::kNextToken},
    {"rank", ScoringMode::kRank}, {"generate", ScoringMode::kGenerate}, {"linear_head", ScoringMode::kLinearHead}};

std::vector<int64_t> to_int64(const std::vector<int>& ids) { return {ids.begin(), ids.end()}; }

std::string shape_of(const at::Tensor& t) {
  std::string out;
  for (int64_t n : t.sizes()) out += (out.empty() ? "" : ", ") + std::to_string(n);
  return "[" + out + "]";
}

std::string join_ids(const std::vector<int64_t>& ids) {
  std::string out;
  for (int64_t id : ids) out += (out.empty() ? "" : " ") + std::to_string(id);
  return out;
}

}  // namespace

const char* scoring_mode_name(ScoringMode mode) {
  for (const auto& [name, m] : kModes)
    if (m == mode) return name.c_str();
  return "?";
}

// ---- VerbalizerConfig ---------------------------------------------------------------------------------

VerbalizerConfig VerbalizerConfig::decode(config::Reader reader, const std::string& where) {
  VerbalizerConfig c;
  c.where = where;
  c.mode = choose(reader.get<std::string>("mode", "auto"), kModes, reader.key_path("mode"));
  c.reduction = choose<TokenReduction>(reader.get<std::string>("reduction", "first_token"),
                                       {{"first_token", TokenReduction::kFirstToken},
                                        {"mean", TokenReduction::kMean},
                                        {"single", TokenReduction::kSingle}},
                                       reader.key_path("reduction"));
  c.aggregation = choose<WordAggregation>(
      reader.get<std::string>("aggregation", "mean"),
      {{"mean", WordAggregation::kMean}, {"max", WordAggregation::kMax}, {"logsumexp", WordAggregation::kLogSumExp}},
      reader.key_path("aggregation"));
  c.length_normalize = reader.get<bool>("length_normalize", false);
  c.pooling = choose<HeadPooling>(reader.get<std::string>("pooling", "mask"),
                                  {{"mask", HeadPooling::kMask},
                                   {"cls", HeadPooling::kCls},
                                   {"last", HeadPooling::kLast},
                                   {"pooler", HeadPooling::kPooler}},
                                  reader.key_path("pooling"));
  c.dropout = reader.get<double>("dropout", 0.1);
  PTLAB_CHECK(c.dropout >= 0 && c.dropout < 1, "{}: dropout must be in [0, 1), got {} ({})", reader.key_path("dropout"),
              c.dropout, where);
  c.labels = reader.get<std::vector<std::string>>("labels", {});

  config::Reader words = reader.child("label_words");
  for (const std::string& label : words.keys()) {
    std::vector<std::string> list;
    try {
      list = words.get<std::vector<std::string>>(label, {});
    } catch (const Error&) {
      try {
        list = {words.get<std::string>(label, "")};
      } catch (const Error&) {
        PTLAB_FAIL("{}: expected a label word or a list of label words ({})", words.key_path(label), where);
      }
    }
    PTLAB_CHECK(!list.empty(), "{}: class '{}' has no label words; give at least one ({})", words.key_path(label),
                label, where);
    for (const std::string& w : list)
      PTLAB_CHECK(!w.empty(), "{}: an empty label word for class '{}' ({})", words.key_path(label), label, where);
    c.label_words.emplace_back(label, std::move(list));
  }
  reader.finish();

  if (c.mode == ScoringMode::kLinearHead) {
    // Without labels or label_words the classes come from the dataset (the task calls reorder()).
    if (!c.label_words.empty() && !c.labels.empty()) c.reorder(c.labels);  // same classes, labels' order
  } else {
    PTLAB_CHECK(!c.label_words.empty(), "{}: mode {} needs label_words: {{class: [words]}} ({})", reader.path(),
                scoring_mode_name(c.mode), where);
    PTLAB_CHECK(c.labels.empty(),
                "{}: labels is only for mode linear_head; the classes of mode {} are the keys of "
                "label_words ({})",
                reader.key_path("labels"), scoring_mode_name(c.mode), where);
  }
  std::set<std::string> seen;
  for (const std::string& name : c.class_names())
    PTLAB_CHECK(seen.insert(name).second, "{}: class '{}' is listed twice ({})", reader.path(), name, where);
  return c;
}

std::vector<std::string> VerbalizerConfig::class_names() const {
  if (label_words.empty()) return labels;
  std::vector<std::string> out;
  for (const auto& [name, words] : label_words) out.push_back(name);
  return out;
}

void VerbalizerConfig::reorder(const std::vector<std::string>& order) {
  const std::vector<std::string> mine = class_names();
  if (mine.empty() && mode == ScoringMode::kLinearHead) {  // a head without its own class list
    labels = order;
    return;
  }
  std::vector<std::string> missing, unknown;
  for (const auto& name : order)
    if (std::find(mine.begin(), mine.end(), name) == mine.end()) missing.push_back(name);
  for (const auto& name : mine)
    if (std::find(order.begin(), order.end(), name) == order.end()) unknown.push_back(name);
  PTLAB_CHECK(missing.empty() && unknown.empty() && mine.size() == order.size(),
              "{}: the verbalizer's classes ({}) differ from the dataset's labels ({}){}{}", where, join_names(mine),
              join_names(order), missing.empty() ? "" : "; no label words for: " + join_names(missing),
              unknown.empty() ? "" : "; not a dataset label: " + join_names(unknown));
  if (label_words.empty()) {
    labels = order;
    return;
  }
  std::vector<std::pair<std::string, std::vector<std::string>>> sorted;
  for (const auto& name : order)
    for (const auto& entry : label_words)
      if (entry.first == name) sorted.push_back(entry);
  label_words = std::move(sorted);
  if (!labels.empty()) labels = order;
}

// ---- Verbalizer ---------------------------------------------------------------------------------------

Verbalizer::Verbalizer(VerbalizerConfig config, const text::Tokenizer& tokenizer, Spacing word_spacing)
    : config_(std::move(config)), classes_(config_.class_names()) {
  const std::string& where = config_.where;
  PTLAB_ASSERT(config_.mode != ScoringMode::kAuto, "{}: verbalizer mode auto must be resolved first", where);
  PTLAB_CHECK(!classes_.empty(),
              "{}: the verbalizer has no classes; give labels: [...] (or label_words), or list "
              "the dataset's classes in data.labels",
              where);
  for (std::size_t c = 0; c < config_.label_words.size(); ++c) {
    std::vector<std::vector<int64_t>> words;
    for (const std::string& word : config_.label_words[c].second) {
      std::vector<int64_t> ids = to_int64(encode_piece(tokenizer, word, word_spacing));
      PTLAB_CHECK(!ids.empty(), "{}: label word '{}' of class '{}' gives no tokens with the tokenizer from {}", where,
                  word, classes_[c], tokenizer.source());
      word_class_.push_back(static_cast<int64_t>(c));
      flat_words_.push_back(ids);
      words.push_back(std::move(ids));
    }
    word_tokens_.push_back(std::move(words));
  }
  if (word_tokens_.empty()) word_tokens_.resize(classes_.size());

  if (config_.mode != ScoringMode::kMlm && config_.mode != ScoringMode::kNextToken) return;

  // reduction single: the scorer reads one token per word (PET's verbalizers), so a word the tokenizer splits
  // is refused rather than silently scored by its first piece.
  if (config_.reduction == TokenReduction::kSingle) {
    for (std::size_t c = 0; c < word_tokens_.size(); ++c)
      for (std::size_t w = 0; w < word_tokens_[c].size(); ++w) {
        const auto& ids = word_tokens_[c][w];
        PTLAB_CHECK(ids.size() == 1,
                    "{}: label word '{}' of class '{}' is {} tokens [{}] with the tokenizer from {}; reduction single "
                    "scores exactly one token per word — choose a one-token word, or reduction: first_token | mean",
                    where, config_.label_words[c].second[w], classes_[c], ids.size(), join_ids(ids), tokenizer.source());
      }
  }
  // Words of different classes must be distinguishable by what is scored.
  const bool first = config_.reduction != TokenReduction::kMean;
  std::map<std::vector<int64_t>, std::size_t> owner;  // scored key -> flat word
  std::vector<std::string> flat_names;
  for (const auto& [name, words] : config_.label_words)
    for (const auto& w : words) flat_names.push_back(w);
  for (std::size_t w = 0; w < flat_words_.size(); ++w) {
    std::vector<int64_t> key = first ? std::vector<int64_t>{flat_words_[w][0]} : flat_words_[w];
    auto [it, inserted] = owner.emplace(key, w);
    if (!inserted && word_class_[it->second] != word_class_[w]) {
      const bool unknown = std::all_of(key.begin(), key.end(), [&](int64_t id) { return id == tokenizer.unk_id(); });
      PTLAB_FAIL(
          "{}: label words '{}' (class {}) and '{}' (class {}) are scored alike ({} [{}]{}); with reduction {} "
          "they cannot be told apart — choose other words{}",
          where, flat_names[it->second], classes_[static_cast<std::size_t>(word_class_[it->second])], flat_names[w],
          classes_[static_cast<std::size_t>(word_class_[w])], first ? "first token" : "tokens", join_ids(key),
          unknown ? ": the unknown token — the tokenizer from " + tokenizer.source() + " does not know them" : "",
          config_.reduction == TokenReduction::kSingle ? "single" : first ? "first_token" : "mean",
          first ? " or reduction: mean" : "");
    }
  }

  std::set<int64_t> rows;
  std::size_t longest = 1;
  for (const auto& ids : flat_words_) {
    if (first) {
      rows.insert(ids[0]);
    } else {
      rows.insert(ids.begin(), ids.end());
      longest = std::max(longest, ids.size());
    }
  }
  const std::vector<int64_t> row_list(rows.begin(), rows.end());
  vocab_rows_ = at::tensor(row_list, at::kLong);  // [V']
  const auto W = static_cast<int64_t>(flat_words_.size()), L = static_cast<int64_t>(longest);
  word_columns_ = at::zeros({W, L}, at::kLong);       // [W, L]
  word_column_mask_ = at::zeros({W, L}, at::kFloat);  // [W, L]
  auto columns = word_columns_.accessor<int64_t, 2>();
  auto mask = word_column_mask_.accessor<float, 2>();
  for (int64_t w = 0; w < W; ++w) {
    const auto& ids = flat_words_[static_cast<std::size_t>(w)];
    const std::size_t n = first ? 1 : ids.size();
    for (std::size_t k = 0; k < n; ++k) {
      columns[w][static_cast<int64_t>(k)] =
          std::lower_bound(row_list.begin(), row_list.end(), ids[k]) - row_list.begin();
      mask[w][static_cast<int64_t>(k)] = 1.0f;
    }
  }
}

int64_t Verbalizer::class_index(const std::string& name) const {
  auto it = std::find(classes_.begin(), classes_.end(), name);
  return it == classes_.end() ? -1 : static_cast<int64_t>(it - classes_.begin());
}

int64_t Verbalizer::answer_position(const RenderedExample& example) const {
  if (config_.mode == ScoringMode::kMlm) {
    PTLAB_CHECK(example.mask_position >= 0, "{}: mode mlm reads the logits at {{mask}}, but the template has none",
                config_.where);
    return example.mask_position;
  }
  PTLAB_ASSERT(config_.mode == ScoringMode::kNextToken, "answer_position in mode {}", scoring_mode_name(config_.mode));
  const int64_t slot = example.mask_position >= 0 ? example.mask_position : example.length;
  PTLAB_CHECK(slot >= 1,
              "{}: mode next_token predicts the label word from the token before it, but the answer slot "
              "is the first position; put some text before {{mask}}",
              config_.where);
  return slot - 1;
}

models::LogitsRequest Verbalizer::logits_request(const at::Tensor& positions) const {
  PTLAB_ASSERT(vocab_rows_.defined(), "logits_request in mode {}", scoring_mode_name(config_.mode));
  models::LogitsRequest request;
  request.mode = models::LogitsRequest::Mode::kPositions;
  request.positions = positions.dim() == 1 ? positions.unsqueeze(1) : positions;  // [B, 1]
  request.vocab_rows = vocab_rows_.to(positions.device());                        // [V']
  return request;
}

at::Tensor Verbalizer::class_scores(const at::Tensor& row_logits) const {
  PTLAB_ASSERT(vocab_rows_.defined(), "class_scores in mode {}", scoring_mode_name(config_.mode));
  at::Tensor x = row_logits;
  if (x.dim() == 3) {
    PTLAB_ASSERT(x.size(1) == 1, "class_scores takes one position per example, got {}", x.size(1));
    x = x.squeeze(1);  // [B, V']
  }
  PTLAB_ASSERT(x.dim() == 2 && x.size(1) == vocab_rows_.size(0), "logits of {} rows for {} label-word rows",
               x.dim() == 2 ? x.size(1) : -1, vocab_rows_.size(0));
  const int64_t B = x.size(0), W = word_columns_.size(0), L = word_columns_.size(1);
  const at::Tensor log_probs = at::log_softmax(x.to(at::kFloat), -1);  // [B, V'] over the label-word rows
  const at::Tensor columns = word_columns_.to(x.device()).reshape({-1});
  const at::Tensor mask = word_column_mask_.to(x.device());                         // [W, L]
  const at::Tensor per_token = log_probs.index_select(1, columns).view({B, W, L});  // [B, W, L]
  const at::Tensor word_scores = (per_token * mask).sum(-1) / mask.sum(-1);         // [B, W]
  return aggregate(word_scores);
}

at::Tensor Verbalizer::class_scores_from_vocab_logits(const at::Tensor& logits) const {
  PTLAB_ASSERT(vocab_rows_.defined(), "class_scores in mode {}", scoring_mode_name(config_.mode));
  return class_scores(logits.index_select(-1, vocab_rows_.to(logits.device())));  // [B, (1,) V']
}

at::Tensor Verbalizer::aggregate(const at::Tensor& word_scores) const {
  std::vector<at::Tensor> per_class;
  int64_t begin = 0;
  for (const auto& words : word_tokens_) {
    const auto n = static_cast<int64_t>(words.size());
    const at::Tensor scores = word_scores.narrow(1, begin, n);  // [B, n]
    switch (config_.aggregation) {
      case WordAggregation::kMean:
        per_class.push_back(scores.mean(1));
        break;
      case WordAggregation::kMax:
        per_class.push_back(std::get<0>(scores.max(1)));
        break;
      case WordAggregation::kLogSumExp:
        per_class.push_back(scores.logsumexp(1));
        break;
    }
    begin += n;
  }
  return at::stack(per_class, 1);  // [B, C]
}

std::vector<RankCandidate> Verbalizer::rank_candidates(const RenderedExample& example) const {
  const bool has_mask = example.mask_position >= 0;
  const int64_t slot = has_mask ? example.mask_position : example.length;
  const int64_t replaced = has_mask ? 1 : 0;
  PTLAB_CHECK(slot >= 1,
              "{}: rank scores the label words from the text before them, but the answer slot is the "
              "first position; put some text before {{mask}}",
              config_.where);
  const auto cut = static_cast<std::size_t>(slot);
  const int64_t slot_type =
      example.token_type_ids.empty() ? 0 : example.token_type_ids[std::min(cut, example.token_type_ids.size() - 1)];
  std::vector<RankCandidate> out;
  for (std::size_t c = 0; c < word_tokens_.size(); ++c) {
    for (std::size_t w = 0; w < word_tokens_[c].size(); ++w) {
      const std::vector<int64_t>& tokens = word_tokens_[c][w];
      const auto n = static_cast<int64_t>(tokens.size());
      const int64_t shift = n - replaced;
      auto moved = [&](int64_t p) { return p < slot ? p : p + shift; };
      RankCandidate cand;
      cand.class_index = static_cast<int64_t>(c);
      cand.word_index = static_cast<int64_t>(w);
      RenderedExample& r = cand.example;
      const auto after = cut + static_cast<std::size_t>(replaced);
      r.input_ids.assign(example.input_ids.begin(), example.input_ids.begin() + static_cast<std::ptrdiff_t>(cut));
      r.input_ids.insert(r.input_ids.end(), tokens.begin(), tokens.end());
      r.input_ids.insert(r.input_ids.end(), example.input_ids.begin() + static_cast<std::ptrdiff_t>(after),
                         example.input_ids.end());
      r.token_type_ids.assign(example.token_type_ids.begin(),
                              example.token_type_ids.begin() + static_cast<std::ptrdiff_t>(cut));
      r.token_type_ids.insert(r.token_type_ids.end(), tokens.size(), slot_type);
      r.token_type_ids.insert(r.token_type_ids.end(),
                              example.token_type_ids.begin() + static_cast<std::ptrdiff_t>(after),
                              example.token_type_ids.end());
      for (const auto& group : example.soft_positions) {
        std::vector<int64_t> g;
        for (int64_t p : group) g.push_back(moved(p));
        r.soft_positions.push_back(std::move(g));
      }
      r.cls_position = example.cls_position < 0 ? -1 : moved(example.cls_position);
      for (int64_t p : example.word_starts) r.word_starts.push_back(p < 0 ? -1 : moved(p));
      r.length = static_cast<int64_t>(r.input_ids.size());
      r.label = example.label;
      r.target_ids = tokens;
      r.target_begin = slot;
      r.target_end = slot + n;
      r.truncated = example.truncated;
      for (int64_t k = 0; k < n; ++k) cand.score_positions.push_back(slot - 1 + k);
      cand.score_ids = tokens;
      out.push_back(std::move(cand));
    }
  }
  return out;
}

int64_t Verbalizer::num_candidates() const {
  int64_t n = 0;
  for (const auto& words : word_tokens_) n += static_cast<int64_t>(words.size());
  return n;
}

int64_t Verbalizer::max_word_tokens() const {
  std::size_t n = 0;
  for (const auto& words : word_tokens_)
    for (const auto& ids : words) n = std::max(n, ids.size());
  return static_cast<int64_t>(n);
}

at::Tensor Verbalizer::rank_scores(const at::Tensor& token_logprobs) const {
  const int64_t N = num_candidates(), L = max_word_tokens();
  PTLAB_ASSERT(token_logprobs.dim() == 3 && token_logprobs.size(1) == N && token_logprobs.size(2) >= L,
               "rank_scores takes [B, {}, >= {}] log-probs, got {}", N, L, shape_of(token_logprobs));
  const int64_t width = token_logprobs.size(2);
  at::Tensor mask = at::zeros({N, width}, at::kFloat);  // [N, L']
  std::vector<float> lengths;
  int64_t i = 0;
  for (const auto& words : word_tokens_)
    for (const auto& ids : words) {
      mask[i++].narrow(0, 0, static_cast<int64_t>(ids.size())).fill_(1.0f);
      lengths.push_back(static_cast<float>(ids.size()));
    }
  mask = mask.to(token_logprobs.device());
  at::Tensor scores = (token_logprobs.to(at::kFloat) * mask).sum(-1);  // [B, N]
  if (config_.length_normalize) scores = scores / at::tensor(lengths, at::kFloat).to(token_logprobs.device());
  return aggregate(scores);
}

int64_t Verbalizer::class_of_text(const std::string& generated) const {
  const std::string norm = normalize_answer(generated);
  for (std::size_t c = 0; c < config_.label_words.size(); ++c)
    for (const std::string& word : config_.label_words[c].second)
      if (normalize_answer(word) == norm) return static_cast<int64_t>(c);
  return -1;
}

int64_t Verbalizer::head_position(const RenderedExample& example) const {
  switch (config_.pooling) {
    case HeadPooling::kMask:
      PTLAB_CHECK(example.mask_position >= 0,
                  "{}: pooling mask reads the hidden state at {{mask}}, but the template "
                  "has none; use pooling: cls or last",
                  config_.where);
      if (config_.head_reads_before_mask) {
        PTLAB_CHECK(example.mask_position >= 1,
                    "{}: pooling mask on a causal model reads the state before {{mask}}, but the template starts "
                    "with it; put some text before {{mask}}",
                    config_.where);
        return example.mask_position - 1;
      }
      return example.mask_position;
    case HeadPooling::kCls:
      return example.cls_position >= 0 ? example.cls_position : 0;
    case HeadPooling::kLast:
      return example.length - 1;
    case HeadPooling::kPooler:
      return -1;
  }
  return -1;
}

at::Tensor Verbalizer::mean_embedding(const at::Tensor& word_embeddings, const std::vector<int64_t>& ids, std::size_t c,
                                      std::size_t w) const {
  const int64_t V = word_embeddings.size(0);
  for (int64_t id : ids)
    PTLAB_CHECK(id < V,
                "{}: token {} of label word '{}' is outside the {} rows of the word embeddings (tokenizer "
                "and model do not match)",
                config_.where, id, config_.label_words[c].second[w], V);
  const at::Tensor index = at::tensor(ids, at::kLong).to(word_embeddings.device());
  return word_embeddings.index_select(0, index).to(at::kFloat).mean(0);  // [d]
}

at::Tensor Verbalizer::class_label_embeddings(const at::Tensor& word_embeddings) const {
  PTLAB_CHECK(word_embeddings.dim() == 2, "class-label init takes the word-embedding matrix [V, d], got {}",
              shape_of(word_embeddings));
  std::vector<at::Tensor> rows;
  for (std::size_t c = 0; c < classes_.size(); ++c) {
    PTLAB_CHECK(!word_tokens_[c].empty(), "{}: class-label init needs a label word for class '{}'; add label_words",
                config_.where, classes_[c]);
    rows.push_back(mean_embedding(word_embeddings, word_tokens_[c][0], c, 0));
  }
  return at::stack(rows, 0);  // [C, d]
}

at::Tensor Verbalizer::label_word_embeddings(const at::Tensor& word_embeddings) const {
  PTLAB_CHECK(word_embeddings.dim() == 2, "class-label init takes the word-embedding matrix [V, d], got {}",
              shape_of(word_embeddings));
  std::vector<at::Tensor> rows;
  for (std::size_t c = 0; c < classes_.size(); ++c)
    for (std::size_t w = 0; w < word_tokens_[c].size(); ++w)
      rows.push_back(mean_embedding(word_embeddings, word_tokens_[c][w], c, w));
  PTLAB_CHECK(!rows.empty(), "{}: class-label init needs label words; add label_words", config_.where);
  return at::stack(rows, 0);  // [W, d]
}

at::Tensor gather_log_probs(const at::Tensor& logits, const at::Tensor& ids) {
  const at::Tensor log_probs = at::log_softmax(logits.to(at::kFloat), -1);  // [..., V]
  return log_probs.gather(-1, ids.unsqueeze(-1)).squeeze(-1);               // [...]
}

}  // namespace ptlab::tasks
