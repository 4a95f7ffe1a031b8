#include "framework/text/wordlevel_tokenizer.h"

#include "framework/core/error.h"
#include "framework/core/suggest.h"

#include <nlohmann/json.hpp>

namespace ptlab::text {
namespace {

using json = nlohmann::json;

// Far above any real vocabulary (Llama 3 and Gemma have 128k-256k); keeps a mistyped id from sizing the
// id table to billions of entries.
constexpr int64_t kMaxId = 1 << 24;

}  // namespace

std::unique_ptr<WordLevelTokenizer> WordLevelTokenizer::from_tokenizer_json(const json& j, const std::string& path,
                                                                            const TokenizerConfig& config) {
  const json& model = j["model"];
  std::unique_ptr<WordLevelTokenizer> tok(new WordLevelTokenizer());

  PTLAB_CHECK(model.contains("vocab"),
              "{} model has no \"vocab\": a WordLevel model needs \"vocab\": {{\"token\": id, ...}} holding its "
              "unk_token",
              path);
  const json& vocab = model["vocab"];
  PTLAB_CHECK(vocab.is_object(), "{} model.vocab must be an object of token -> id, got {}", path, vocab.type_name());
  PTLAB_CHECK(!vocab.empty(), "{} model.vocab is empty: a WordLevel model needs at least its unk_token", path);
  tok->vocab_.reserve(vocab.size());
  int max_id = -1;
  for (const auto& [token, id] : vocab.items()) {
    PTLAB_CHECK(id.is_number_integer() && id.get<int64_t>() >= 0 && id.get<int64_t>() < kMaxId,
                "{} model.vocab: the id of '{}' must be an integer in [0, {}), got {}", path, token, kMaxId, id.dump());
    tok->vocab_.emplace(token, id.get<int>());
    max_id = std::max(max_id, id.get<int>());
  }
  tok->id_to_token_.assign(static_cast<std::size_t>(max_id) + 1, std::nullopt);
  for (const auto& [token, id] : tok->vocab_) {
    auto& slot = tok->id_to_token_[id];
    PTLAB_CHECK(!slot, "{} model.vocab: '{}' and '{}' both have id {}; every token needs its own id", path,
                std::min(*slot, token), std::max(*slot, token), id);
    slot = token;
  }

  if (model.contains("unk_token")) {
    PTLAB_CHECK(model["unk_token"].is_string(), "{} model.unk_token must be a string, got {}", path,
                model["unk_token"].dump());
    tok->unk_token_ = model["unk_token"].get<std::string>();
  }
  auto unk = tok->vocab_.find(tok->unk_token_);
  if (unk == tok->vocab_.end()) {
    std::vector<std::string> names;
    names.reserve(tok->vocab_.size());
    for (const auto& entry : tok->vocab_) names.push_back(entry.first);
    PTLAB_FAIL(
        "{} model.unk_token '{}' is not in model.vocab{}: WordLevel maps every unknown word to it, so add it to "
        "the vocabulary or set unk_token to one of its tokens",
        path, tok->unk_token_, did_you_mean(tok->unk_token_, names));
  }
  tok->unk_id_ = unk->second;

  tok->normalizer_ = Normalizer::from_json(j.value("normalizer", json()), path + " normalizer");
  tok->pre_tokenizer_ = PreTokenizer::from_json(j.value("pre_tokenizer", json()), path + " pre_tokenizer");
  PTLAB_CHECK(!tok->pre_tokenizer_.has_byte_level(),
              "{} pre_tokenizer: a ByteLevel step is not supported with a WordLevel model (use WhitespaceSplit, "
              "Whitespace, Punctuation, Digits or Split)",
              path);
  tok->post_processor_ = PostProcessor::from_json(j.value("post_processor", json()), path + " post_processor");
  const json& decoder = j.value("decoder", json());
  if (!decoder.is_null()) {
    const bool named = decoder.is_object() && decoder.contains("type") && decoder["type"].is_string();
    PTLAB_FAIL(
        "{} decoder: {} is not supported for a WordLevel model (supported: null, which joins the tokens "
        "with spaces)",
        path, named ? "type '" + decoder["type"].get<std::string>() + "'" : decoder.dump());
  }
  tok->clean_up_ = config.clean_up_tokenization_spaces.value_or(true);

  // tokenizer.json's added_tokens are authoritative: they go last so that they win over the side files.
  TokenizerConfig merged = config;
  for (AddedToken& t : added_tokens_from_json(j.value("added_tokens", json()), path + " added_tokens"))
    merged.added_tokens.push_back(std::move(t));
  const WordLevelTokenizer& self = *tok;
  tok->register_tokens(
      merged, {{"unk", tok->unk_token_}},
      [&](const std::string& s) {
        auto it = self.vocab_.find(s);
        return it == self.vocab_.end() ? -1 : it->second;
      },
      static_cast<int>(tok->id_to_token_.size()));
  return tok;
}

int WordLevelTokenizer::token_to_id(std::string_view token) const {
  if (const AddedToken* t = added_.find(token)) return t->id;
  auto it = vocab_.find(std::string(token));
  return it == vocab_.end() ? -1 : it->second;
}

std::string WordLevelTokenizer::id_to_token(int id) const {
  if (const AddedToken* t = added_.find(id)) return t->content;
  const bool known = id >= 0 && id < static_cast<int>(id_to_token_.size()) && id_to_token_[id].has_value();
  PTLAB_CHECK(known, "token id {} is not in the vocabulary of {} (ids 0..{}{})", id, source_, vocab_size() - 1,
              id >= 0 && id < vocab_size() ? ", which has no token with this id" : "");
  return *id_to_token_[id];
}

int WordLevelTokenizer::vocab_size() const {
  return std::max(static_cast<int>(id_to_token_.size()), added_.max_id() + 1);
}

void WordLevelTokenizer::encode_words(std::string_view chunk, std::size_t base, Encoding& out) const {
  thread_local std::vector<Span> pieces;
  pieces.clear();
  pre_tokenizer_.split(chunk, pieces);
  thread_local std::string word;
  for (const Span& piece : pieces) {
    word.assign(chunk.substr(piece.first, piece.second - piece.first));
    auto it = vocab_.find(word);
    if (it != vocab_.end()) {
      out.ids.push_back(it->second);
      out.tokens.push_back(word);
    } else {
      out.ids.push_back(unk_id_);
      out.tokens.push_back(unk_token_);
    }
    out.offsets.emplace_back(base + piece.first, base + piece.second);
  }
}

Encoding WordLevelTokenizer::encode_text(std::string_view text) const {
  Encoding out;
  bool offsets_valid = true;
  auto push_added = [&out](const AddedToken& token, std::size_t begin, std::size_t end) {
    out.ids.push_back(token.id);
    out.tokens.push_back(token.content);
    out.offsets.emplace_back(begin, end);
  };
  for (const auto& seg : added_.split(text, AddedVocabulary::Match::kRawOnly)) {
    if (seg.token != nullptr) {
      push_added(*seg.token, seg.begin, seg.end);
      continue;
    }
    const std::string_view raw = text.substr(seg.begin, seg.end - seg.begin);
    const std::string normalized = normalizer_.apply(raw);
    offsets_valid = offsets_valid && normalized == raw;
    for (const auto& sub : added_.split(normalized, AddedVocabulary::Match::kNormalizedOnly)) {
      if (sub.token != nullptr) {
        push_added(*sub.token, seg.begin + sub.begin, seg.begin + sub.end);
      } else {
        encode_words(std::string_view(normalized).substr(sub.begin, sub.end - sub.begin), seg.begin + sub.begin, out);
      }
    }
  }
  if (!offsets_valid) out.offsets.clear();
  return out;
}

std::string WordLevelTokenizer::decode_ids(const std::vector<int>& ids, bool skip_special_tokens, bool clean_up) const {
  // The Rust library without a decoder: tokens.join(" ").
  std::string text;
  bool first = true;
  for (int id : ids) {
    if (skip_special_tokens && is_special(id)) continue;
    if (!first) text += ' ';
    text += id_to_token(id);
    first = false;
  }
  return clean_up ? clean_up_tokenization(text) : text;
}

}  // namespace ptlab::text
