#include "framework/text/wordpiece_tokenizer.h"

#include "framework/core/error.h"
#include "framework/text/unicode.h"
#include "framework/text/utf8.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

namespace ptlab::text {
namespace {

using json = nlohmann::json;

// The Rust WordPiece decoder's cleanup (applied per token).
std::string rust_wordpiece_cleanup(std::string s) {
  static const std::pair<const char*, const char*> kRules[] = {
      {" .", "."},   {" ?", "?"},           {" !", "!"},   {" ,", ","},     {" ' ", "'"},   {" n't", "n't"},
      {" 'm", "'m"}, {" do not", " don't"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
  for (const auto& [from, to] : kRules) s = replace_all(std::move(s), from, to);
  return s;
}

}  // namespace

std::unique_ptr<WordPieceTokenizer> WordPieceTokenizer::from_vocab_txt(const std::string& path,
                                                                       const TokenizerConfig& config) {
  std::ifstream in(path, std::ios::binary);
  PTLAB_CHECK(in.good(), "cannot open {}", path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string data = buffer.str();
  std::unique_ptr<WordPieceTokenizer> tok(new WordPieceTokenizer());
  // Python's text-mode readlines(): \n, \r\n and \r end a line; a final newline does not start a new one.
  std::size_t pos = 0;
  while (pos < data.size()) {
    std::size_t end = data.find_first_of("\r\n", pos);
    if (end == std::string::npos) end = data.size();
    std::string token = data.substr(pos, end - pos);
    const int id = static_cast<int>(tok->id_to_token_.size());
    tok->vocab_[token] = id;  // a repeated token keeps its last line, like BertTokenizer's dict
    tok->id_to_token_.push_back(std::move(token));
    if (end == data.size()) break;
    pos = end + (data[end] == '\r' && end + 1 < data.size() && data[end + 1] == '\n' ? 2 : 1);
  }
  PTLAB_CHECK(!tok->id_to_token_.empty(), "empty vocabulary in {}: vocab.txt needs one token per line", path);
  check_utf8(data, path);

  tok->lower_case_ = config.do_lower_case.value_or(true);
  if (config.do_basic_tokenize.value_or(true)) {
    BasicTokenizer::Options options;
    options.lower_case = tok->lower_case_;
    options.strip_accents = config.strip_accents;
    options.tokenize_chinese_chars = config.tokenize_chinese_chars.value_or(true);
    // BertTokenizer lower-cases everything but special tokens before splitting, so only never_split
    // entries that are already lower case can ever match.
    for (const std::string& s : config.never_split)
      if (!tok->lower_case_ || python_lower(s) == s) options.never_split.push_back(s);
    tok->basic_ = std::make_unique<BasicTokenizer>(options);
  }
  tok->clean_up_ = config.clean_up_tokenization_spaces.value_or(true);
  tok->spaces_between_special_ = config.spaces_between_special_tokens.value_or(true);
  tok->unk_token_ = config.special("unk").value_or("[UNK]");
  tok->finish_setup(config, path);
  return tok;
}

std::unique_ptr<WordPieceTokenizer> WordPieceTokenizer::from_tokenizer_json(const json& j, const std::string& path,
                                                                            const TokenizerConfig& config) {
  const json& model = j["model"];
  const std::string where = path + " model";
  std::unique_ptr<WordPieceTokenizer> tok(new WordPieceTokenizer());
  tok->from_json_ = true;
  PTLAB_CHECK(model.contains("vocab") && model["vocab"].is_object(), "{}.vocab must be an object of token -> id",
              where);
  int max_id = -1;
  for (const auto& [token, id] : model["vocab"].items()) {
    PTLAB_CHECK(id.is_number_integer() && id.get<int>() >= 0, "{}.vocab: id of '{}' must be a non-negative integer",
                where, token);
    tok->vocab_[token] = id.get<int>();
    max_id = std::max(max_id, id.get<int>());
  }
  PTLAB_CHECK(max_id >= 0, "empty vocabulary in {}.vocab", where);
  tok->id_to_token_.assign(max_id + 1, std::string());
  for (const auto& [token, id] : tok->vocab_) tok->id_to_token_[id] = token;
  if (model.contains("unk_token") && model["unk_token"].is_string())
    tok->unk_token_ = model["unk_token"].get<std::string>();
  if (model.contains("continuing_subword_prefix") && model["continuing_subword_prefix"].is_string())
    tok->prefix_ = model["continuing_subword_prefix"].get<std::string>();
  if (model.contains("max_input_chars_per_word") && model["max_input_chars_per_word"].is_number_unsigned())
    tok->max_chars_per_word_ = model["max_input_chars_per_word"].get<std::size_t>();

  BasicTokenizer::Options options;
  options.lower_case = false;
  options.tokenize_chinese_chars = false;
  options.clean_text = false;
  options.strip_accents = false;
  const json& norm = j.value("normalizer", json());
  if (!norm.is_null()) {
    PTLAB_CHECK(norm.value("type", "") == "BertNormalizer",
                "{} normalizer: type '{}' is not supported for WordPiece (supported: BertNormalizer or null)", path,
                norm.value("type", ""));
    options.clean_text = norm.value("clean_text", true);
    options.tokenize_chinese_chars = norm.value("handle_chinese_chars", true);
    options.lower_case = norm.value("lowercase", true);
    options.strip_accents.reset();
    if (norm.contains("strip_accents") && norm["strip_accents"].is_boolean())
      options.strip_accents = norm["strip_accents"].get<bool>();
  }
  const json& pre = j.value("pre_tokenizer", json());
  PTLAB_CHECK(pre.is_null() || pre.value("type", "") == "BertPreTokenizer",
              "{} pre_tokenizer: type '{}' is not supported for WordPiece (supported: BertPreTokenizer or null)", path,
              pre.value("type", ""));
  tok->lower_case_ = options.lower_case;
  tok->basic_ = std::make_unique<BasicTokenizer>(options);
  tok->post_processor_ = PostProcessor::from_json(j.value("post_processor", json()), path + " post_processor");
  const json& dec = j.value("decoder", json());
  if (!dec.is_null()) {
    PTLAB_CHECK(dec.value("type", "") == "WordPiece",
                "{} decoder: type '{}' is not supported for WordPiece (supported: WordPiece or null)", path,
                dec.value("type", ""));
    tok->prefix_ = dec.value("prefix", tok->prefix_);
    tok->decoder_cleanup_ = dec.value("cleanup", true);
  }
  tok->clean_up_ = config.clean_up_tokenization_spaces.value_or(true);

  TokenizerConfig merged = config;
  for (AddedToken& t : added_tokens_from_json(j.value("added_tokens", json()), path + " added_tokens"))
    merged.added_tokens.push_back(std::move(t));
  if (!merged.has_special("unk")) merged.special_tokens["unk"] = tok->unk_token_;
  tok->finish_setup(merged, path);
  return tok;
}

void WordPieceTokenizer::finish_setup(const TokenizerConfig& config, std::string_view where) {
  auto lookup = [this](const std::string& s) {
    auto it = vocab_.find(s);
    return it == vocab_.end() ? -1 : it->second;
  };
  // BertTokenizer's defaults; in a tokenizer.json only those present in the vocabulary are used.
  std::map<std::string, std::string> defaults = {
      {"unk", "[UNK]"}, {"sep", "[SEP]"}, {"pad", "[PAD]"}, {"cls", "[CLS]"}, {"mask", "[MASK]"}};
  if (from_json_) {
    for (auto it = defaults.begin(); it != defaults.end();) it = lookup(it->second) < 0 ? defaults.erase(it) : ++it;
  }
  register_tokens(config, defaults, lookup, static_cast<int>(id_to_token_.size()));
  unk_id_ = lookup(unk_token_);
  if (unk_id_ < 0 && added_.find(unk_token_)) unk_id_ = added_.find(unk_token_)->id;
  PTLAB_CHECK(unk_id_ >= 0,
              "{}: the unknown token '{}' is not in the vocabulary; WordPiece needs it for words it "
              "cannot split",
              where, unk_token_);
  for (const auto& [token, id] : vocab_) max_token_chars_ = std::max(max_token_chars_, count_code_points(token));
  if (!from_json_ && special_ids_.cls >= 0 && special_ids_.sep >= 0) {
    std::pair<int, std::string> cls{special_ids_.cls, id_to_token(special_ids_.cls)};
    std::pair<int, std::string> sep{special_ids_.sep, id_to_token(special_ids_.sep)};
    post_processor_ = PostProcessor::surround({cls}, {sep}, {}, {sep}, 1);
  }
}

int WordPieceTokenizer::token_to_id(std::string_view token) const {
  if (const AddedToken* t = added_.find(token)) return t->id;
  auto it = vocab_.find(std::string(token));
  return it == vocab_.end() ? -1 : it->second;
}

std::string WordPieceTokenizer::id_to_token(int id) const {
  if (const AddedToken* t = added_.find(id)) return t->content;
  PTLAB_CHECK(id >= 0 && id < static_cast<int>(id_to_token_.size()),
              "token id {} is not in the vocabulary of {} (ids "
              "0..{})",
              id, source_, vocab_size() - 1);
  return id_to_token_[id];
}

int WordPieceTokenizer::vocab_size() const {
  return std::max(static_cast<int>(id_to_token_.size()), added_.max_id() + 1);
}

void WordPieceTokenizer::encode_word(std::string_view word, std::vector<int>& out) const {
  // Code point boundaries: bounds[i] is the byte offset of code point i.
  thread_local std::vector<std::size_t> bounds;
  bounds.clear();
  for (std::size_t pos = 0; pos < word.size(); pos += utf8_length(static_cast<unsigned char>(word[pos])))
    bounds.push_back(pos);
  const std::size_t n = bounds.size();
  bounds.push_back(word.size());
  if (n > max_chars_per_word_) {
    out.push_back(unk_id_);
    return;
  }
  const std::size_t first = out.size();
  std::string key;
  for (std::size_t start = 0; start < n;) {
    int found = -1;
    std::size_t end = std::min(n, start + max_token_chars_);
    for (; end > start; --end) {
      key.assign(start > 0 ? prefix_ : std::string());
      key.append(word.substr(bounds[start], bounds[end] - bounds[start]));
      auto it = vocab_.find(key);
      if (it != vocab_.end()) {
        found = it->second;
        break;
      }
    }
    if (found < 0) {  // the whole word becomes one unknown token
      out.resize(first);
      out.push_back(unk_id_);
      return;
    }
    out.push_back(found);
    start = end;
  }
}

Encoding WordPieceTokenizer::encode_text(std::string_view text) const {
  Encoding out;
  std::vector<std::string> words;
  for (const auto& seg : added_.split(text)) {
    if (seg.token != nullptr) {
      out.ids.push_back(seg.token->id);
      continue;
    }
    const std::string_view piece = text.substr(seg.begin, seg.end - seg.begin);
    words.clear();
    if (basic_) {
      basic_->tokenize(piece, words);
    } else {  // do_basic_tokenize=false: whitespace split only
      std::size_t pos = 0, start = std::string_view::npos;
      while (pos <= piece.size()) {
        std::size_t at = pos;
        bool space = pos == piece.size() || is_python_space(next_code_point(piece, pos));
        if (at == piece.size()) pos = piece.size() + 1;
        if (space && start != std::string_view::npos) {
          words.emplace_back(piece.substr(start, at - start));
          start = std::string_view::npos;
        } else if (!space && start == std::string_view::npos) {
          start = at;
        }
      }
    }
    for (const std::string& w : words) {
      // never_split words pass through whole (BasicTokenizer kept them intact).
      if (basic_ && basic_->is_never_split(w)) {
        int id = token_to_id(w);
        out.ids.push_back(id >= 0 ? id : unk_id_);
        continue;
      }
      encode_word(w, out.ids);
    }
  }
  out.tokens.reserve(out.ids.size());
  for (int id : out.ids) out.tokens.push_back(id_to_token(id));
  return out;
}

std::string WordPieceTokenizer::decode_ids(const std::vector<int>& ids, bool skip_special_tokens, bool clean_up) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int id : ids)
    if (!(skip_special_tokens && is_special(id))) tokens.push_back(id_to_token(id));

  if (from_json_) {
    // Rust WordPiece decoder.
    std::string text;
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      std::string t = tokens[i];
      if (i > 0) t = t.rfind(prefix_, 0) == 0 ? t.substr(prefix_.size()) : " " + t;
      text += decoder_cleanup_ ? rust_wordpiece_cleanup(std::move(t)) : t;
    }
    return clean_up ? clean_up_tokenization(text) : text;
  }

  // transformers' slow _decode: non-special added tokens are separate words; runs of other tokens are
  // " ".join(tokens).replace(" ##", "").strip().
  std::vector<std::string> sub_texts;
  std::string run;
  bool pending = false;
  auto flush = [&](bool keep_empty) {
    std::string s(python_strip(replace_all(run, " " + prefix_, "")));
    if (keep_empty || !s.empty()) sub_texts.push_back(std::move(s));
    run.clear();
    pending = false;
  };
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const AddedToken* added = added_.find(tokens[i]);
    if (added != nullptr && !added->special) {
      if (pending) flush(false);
      sub_texts.push_back(tokens[i]);
      continue;
    }
    if (pending) run += ' ';
    run += tokens[i];
    pending = true;
  }
  if (pending) flush(true);
  return join_decoded_runs(sub_texts, spaces_between_special_, clean_up);
}

}  // namespace ptlab::text
