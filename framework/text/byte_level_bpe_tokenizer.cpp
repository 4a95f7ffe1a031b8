#include "framework/text/byte_level_bpe_tokenizer.h"

#include "framework/core/error.h"
#include "framework/text/byte_level.h"
#include "framework/text/utf8.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

namespace ptlab::text {
namespace {

using json = nlohmann::json;

std::unordered_map<std::string, int> parse_vocab(const json& j, std::string_view where) {
  PTLAB_CHECK(j.is_object(), "{} must be a JSON object of token -> id", where);
  std::unordered_map<std::string, int> vocab;
  vocab.reserve(j.size());
  for (const auto& [token, id] : j.items()) {
    PTLAB_CHECK(id.is_number_integer(), "{}: id of token '{}' must be an integer, not {}", where, token, id.dump());
    vocab.emplace(token, id.get<int>());
  }
  return vocab;
}

// Splits "left right" at ASCII whitespace (Python str.split()); false unless exactly two parts.
bool split_merge(std::string_view line, std::pair<std::string, std::string>& out) {
  std::vector<std::string_view> parts;
  std::size_t pos = 0;
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; };
  while (pos < line.size()) {
    while (pos < line.size() && space(line[pos])) ++pos;
    std::size_t start = pos;
    while (pos < line.size() && !space(line[pos])) ++pos;
    if (pos > start) parts.push_back(line.substr(start, pos - start));
  }
  if (parts.size() != 2) return false;
  out = {std::string(parts[0]), std::string(parts[1])};
  return true;
}

bool json_has_byte_level(const json& j) {
  if (!j.is_object()) return false;
  if (j.value("type", "") == "ByteLevel") return true;
  for (const char* list : {"pretokenizers", "decoders", "processors"})
    if (j.contains(list) && j[list].is_array())
      for (const json& item : j[list])
        if (json_has_byte_level(item)) return true;
  return false;
}

}  // namespace

bool ByteLevelBpeTokenizer::is_byte_level(const json& j) {
  return json_has_byte_level(j.value("pre_tokenizer", json())) || json_has_byte_level(j.value("decoder", json()));
}

std::unique_ptr<ByteLevelBpeTokenizer> ByteLevelBpeTokenizer::from_vocab_files(const std::string& vocab_json,
                                                                               const std::string& merges_txt,
                                                                               const TokenizerConfig& config) {
  auto vocab = parse_vocab(read_json_file(vocab_json), vocab_json);

  std::ifstream in(merges_txt, std::ios::binary);
  PTLAB_CHECK(in.good(), "cannot open {}", merges_txt);
  std::vector<std::pair<std::string, std::string>> merges;
  std::vector<std::size_t> lines;
  std::string line;
  for (std::size_t number = 1; std::getline(in, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || (number == 1 && line.rfind("#version", 0) == 0)) continue;
    std::pair<std::string, std::string> merge;
    PTLAB_CHECK(split_merge(line, merge), "{} line {}: expected two tokens separated by a space, got '{}'", merges_txt,
                number, line);
    merges.push_back(std::move(merge));
    lines.push_back(number);
  }

  std::unique_ptr<ByteLevelBpeTokenizer> tok(new ByteLevelBpeTokenizer());
  tok->flavor_ = Flavor::kSlow;
  tok->model_ = std::make_unique<BpeModel>(
      std::move(vocab), merges, [&](std::size_t i) { return fmt::format("{} line {}", merges_txt, lines[i]); },
      vocab_json, BpeModel::Options{});
  tok->pre_tokenizer_ = PreTokenizer::gpt2();
  tok->add_prefix_space_ = config.add_prefix_space.value_or(false);
  tok->clean_up_ = config.clean_up_tokenization_spaces.value_or(true);
  tok->spaces_between_special_ = config.spaces_between_special_tokens.value_or(true);
  // GPT2Tokenizer's defaults: <|endoftext|> is bos, eos and unk; no pad.
  const BpeModel& model = *tok->model_;
  tok->register_tokens(
      config, {{"bos", "<|endoftext|>"}, {"eos", "<|endoftext|>"}, {"unk", "<|endoftext|>"}},
      [&](const std::string& s) { return model.token_to_id(s); }, model.size());
  if (config.add_bos_token.value_or(false) && tok->special_ids_.bos >= 0) {
    std::pair<int, std::string> bos{tok->special_ids_.bos, tok->id_to_token(tok->special_ids_.bos)};
    tok->post_processor_ = PostProcessor::surround({bos}, {}, {bos}, {}, 1);
  }
  return tok;
}

std::unique_ptr<ByteLevelBpeTokenizer> ByteLevelBpeTokenizer::from_tokenizer_json(const json& j,
                                                                                  const std::string& path,
                                                                                  const TokenizerConfig& config) {
  const json& model = j["model"];
  const std::string where = path + " model";
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    PTLAB_CHECK(!model.contains(key) || model[key].is_null() || model[key] == "",
                "{}.{} is set; byte-level BPE with subword prefixes/suffixes is not supported", where, key);
  }
  if (model.contains("dropout") && model["dropout"].is_number())
    PTLAB_CHECK(model["dropout"].get<double>() == 0.0,
                "{}.dropout is {}; BPE dropout is a training-time option and is "
                "not supported (set it to null)",
                where, model["dropout"].dump());
  PTLAB_CHECK(model.contains("vocab"), "{} has no \"vocab\"", where);
  auto vocab = parse_vocab(model["vocab"], where + ".vocab");

  std::vector<std::pair<std::string, std::string>> merges;
  const json& list = model.value("merges", json::array());
  PTLAB_CHECK(list.is_array(), "{}.merges must be a list", where);
  merges.reserve(list.size());
  for (std::size_t i = 0; i < list.size(); ++i) {
    const json& m = list[i];
    std::pair<std::string, std::string> merge;
    bool ok = false;
    if (m.is_string()) {
      ok = split_merge(m.get_ref<const std::string&>(), merge);
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      merge = {m[0].get<std::string>(), m[1].get<std::string>()};
      ok = true;
    }
    PTLAB_CHECK(ok, "{}.merges[{}] must be \"left right\" or [\"left\", \"right\"], got {}", where, i, m.dump());
    merges.push_back(std::move(merge));
  }

  std::unique_ptr<ByteLevelBpeTokenizer> tok(new ByteLevelBpeTokenizer());
  tok->flavor_ = Flavor::kFast;
  BpeModel::Options options;
  options.ignore_merges = model.value("ignore_merges", false);
  std::string unk =
      model.contains("unk_token") && model["unk_token"].is_string() ? model["unk_token"].get<std::string>() : "";
  if (!unk.empty() && vocab.count(unk)) options.unk_id = vocab.at(unk);
  tok->model_ = std::make_unique<BpeModel>(
      std::move(vocab), merges, [&](std::size_t i) { return fmt::format("{}.merges[{}]", where, i); }, where + ".vocab",
      options);
  tok->normalizer_ = Normalizer::from_json(j.value("normalizer", json()), path + " normalizer");
  tok->pre_tokenizer_ = PreTokenizer::from_json(j.value("pre_tokenizer", json()), path + " pre_tokenizer");
  tok->post_processor_ = PostProcessor::from_json(j.value("post_processor", json()), path + " post_processor");
  tok->clean_up_ = config.clean_up_tokenization_spaces.value_or(true);

  // tokenizer.json's added_tokens are authoritative: they go last so that they win over the side files.
  TokenizerConfig merged = config;
  for (AddedToken& t : added_tokens_from_json(j.value("added_tokens", json()), path + " added_tokens"))
    merged.added_tokens.push_back(std::move(t));
  // Without side files, the conventional names fill the roles (GPTNeoXTokenizerFast's defaults).
  std::map<std::string, std::string> defaults;
  const BpeModel& m = *tok->model_;
  auto known = [&](const std::string& s) {
    if (m.token_to_id(s) >= 0) return true;
    for (const auto& t : merged.added_tokens)
      if (t.content == s) return true;
    return false;
  };
  if (known("<|endoftext|>")) defaults = {{"bos", "<|endoftext|>"}, {"eos", "<|endoftext|>"}, {"unk", "<|endoftext|>"}};
  if (!unk.empty()) defaults["unk"] = unk;
  tok->register_tokens(
      merged, defaults, [&](const std::string& s) { return m.token_to_id(s); }, m.size());
  return tok;
}

int ByteLevelBpeTokenizer::token_to_id(std::string_view token) const {
  if (const AddedToken* t = added_.find(token)) return t->id;
  return model_->token_to_id(token);
}

std::string ByteLevelBpeTokenizer::id_to_token(int id) const {
  if (const AddedToken* t = added_.find(id)) return t->content;
  const std::string* s = model_->id_to_token(id);
  PTLAB_CHECK(s != nullptr, "token id {} is not in the vocabulary of {} (ids 0..{})", id, source_, vocab_size() - 1);
  return *s;
}

int ByteLevelBpeTokenizer::vocab_size() const { return std::max(model_->size(), added_.max_id() + 1); }

void ByteLevelBpeTokenizer::push_added(const AddedToken& token, std::size_t begin, std::size_t end,
                                       Encoding& out) const {
  out.ids.push_back(token.id);
  out.tokens.push_back(token.content);
  out.offsets.emplace_back(begin, end);
}

void ByteLevelBpeTokenizer::encode_plain(std::string_view work, std::size_t base, std::size_t shift,
                                         Encoding& out) const {
  thread_local std::vector<Span> pieces;
  pieces.clear();
  pre_tokenizer_.split(work, pieces);
  auto input_pos = [&](std::size_t p) { return base + (p > shift ? p - shift : 0); };
  for (const Span& piece : pieces) {
    const std::size_t first = out.ids.size();
    model_->encode(work.substr(piece.first, piece.second - piece.first), out.ids);
    std::size_t pos = piece.first;
    for (std::size_t i = first; i < out.ids.size(); ++i) {
      const std::string* token = model_->id_to_token(out.ids[i]);
      PTLAB_ASSERT(token != nullptr, "BPE produced id {} without a token", out.ids[i]);
      out.tokens.push_back(*token);
      // Each code point of a byte-level token stands for one byte.
      const std::size_t end = std::min(piece.second, pos + count_code_points(*token));
      out.offsets.emplace_back(input_pos(pos), input_pos(end));
      pos = end;
    }
  }
}

Encoding ByteLevelBpeTokenizer::encode_text(std::string_view text) const {
  Encoding out;
  if (flavor_ == Flavor::kSlow) {
    std::string buffer;
    std::string_view work = text;
    std::size_t shift = 0;
    if (add_prefix_space_) {
      buffer = " " + std::string(text);
      work = buffer;
      shift = 1;
    }
    for (const auto& seg : added_.split(work)) {
      if (seg.token != nullptr) {
        push_added(*seg.token, seg.begin > shift ? seg.begin - shift : 0, seg.end - shift, out);
      } else {
        encode_plain(work.substr(seg.begin, seg.end - seg.begin), seg.begin > shift ? seg.begin - shift : 0,
                     seg.begin < shift ? shift - seg.begin : 0, out);
      }
    }
    return out;
  }

  bool offsets_valid = true;
  for (const auto& seg : added_.split(text, AddedVocabulary::Match::kRawOnly)) {
    if (seg.token != nullptr) {
      push_added(*seg.token, seg.begin, seg.end, out);
      continue;
    }
    const std::string_view raw = text.substr(seg.begin, seg.end - seg.begin);
    const std::string normalized = normalizer_.apply(raw);
    offsets_valid = offsets_valid && normalized == raw;
    for (const auto& sub : added_.split(normalized, AddedVocabulary::Match::kNormalizedOnly)) {
      if (sub.token != nullptr) {
        push_added(*sub.token, seg.begin + sub.begin, seg.begin + sub.end, out);
        continue;
      }
      std::string_view chunk = std::string_view(normalized).substr(sub.begin, sub.end - sub.begin);
      if (pre_tokenizer_.add_prefix_space() && chunk.front() != ' ') {
        encode_plain(" " + std::string(chunk), seg.begin + sub.begin, 1, out);
      } else {
        encode_plain(chunk, seg.begin + sub.begin, 0, out);
      }
    }
  }
  if (!offsets_valid) out.offsets.clear();
  return out;
}

std::string ByteLevelBpeTokenizer::decode_ids(const std::vector<int>& ids, bool skip_special_tokens,
                                              bool clean_up) const {
  return flavor_ == Flavor::kSlow ? decode_slow(ids, skip_special_tokens, clean_up)
                                  : decode_fast(ids, skip_special_tokens, clean_up);
}

namespace {

// Byte-level text back to text; code points outside the byte alphabet keep their own UTF-8.
void append_token_bytes(const std::string& token, std::string& bytes) {
  const auto& alphabet = ByteLevelAlphabet::get();
  if (auto b = alphabet.decode(token)) {
    bytes += *b;
    return;
  }
  for (std::size_t pos = 0; pos < token.size();) {
    std::size_t start = pos;
    auto byte = alphabet.byte(next_code_point(token, pos));
    if (byte) {
      bytes += static_cast<char>(*byte);
    } else {
      bytes.append(token, start, pos - start);
    }
  }
}

}  // namespace

std::string ByteLevelBpeTokenizer::decode_fast(const std::vector<int>& ids, bool skip_special_tokens,
                                               bool clean_up) const {
  // Rust ByteLevel decoder: a token whose characters are all in the alphabet becomes its bytes, any
  // other token its raw UTF-8; the whole byte string is then read lossily as UTF-8.
  const auto& alphabet = ByteLevelAlphabet::get();
  std::string bytes;
  for (int id : ids) {
    if (skip_special_tokens && is_special(id)) continue;
    const std::string token = id_to_token(id);
    if (auto b = alphabet.decode(token)) {
      bytes += *b;
    } else {
      bytes += token;
    }
  }
  std::string text = decode_utf8_lossy(bytes);
  return clean_up ? clean_up_tokenization(text) : text;
}

std::string ByteLevelBpeTokenizer::decode_slow(const std::vector<int>& ids, bool skip_special_tokens,
                                               bool clean_up) const {
  // transformers' PreTrainedTokenizer._decode: "legacy" added tokens (not special ones, and extra special
  // tokens beyond the base vocabulary) are written as separate words; the runs between them go through
  // convert_tokens_to_string (bytes, errors="replace").
  std::vector<std::string> sub_texts;
  std::string bytes;
  bool pending = false;
  auto is_role = [&](int id) {
    const auto& s = special_ids_;
    return id == s.bos || id == s.eos || id == s.unk || id == s.pad || id == s.sep || id == s.cls || id == s.mask;
  };
  for (int id : ids) {
    if (skip_special_tokens && is_special(id)) continue;
    const std::string token = id_to_token(id);
    const AddedToken* added = added_.find(id);
    const bool legacy = added != nullptr && (!added->special || (id >= model_->size() && !is_role(id)));
    if (legacy) {
      if (pending) {
        std::string s = decode_utf8_lossy(bytes);
        if (!s.empty()) sub_texts.push_back(std::move(s));
        bytes.clear();
        pending = false;
      }
      sub_texts.push_back(token);
    } else {
      append_token_bytes(token, bytes);
      pending = true;
    }
  }
  if (pending) sub_texts.push_back(decode_utf8_lossy(bytes));
  return join_decoded_runs(sub_texts, spaces_between_special_, clean_up);
}

}  // namespace ptlab::text
