#include "framework/text/gguf_tokenizer.h"

#include "framework/core/error.h"
#include "framework/core/log.h"
#include "framework/io/gguf.h"
#include "framework/text/byte_level.h"
#include "framework/text/byte_level_bpe_tokenizer.h"
#include "framework/text/sentencepiece_tokenizer.h"
#include "framework/text/utf8.h"

#include <cstring>
#include <set>

namespace ptlab::text {
namespace {

using json = nlohmann::json;

// llama.cpp's token types (llama_token_type). SentencePiece's ModelProto.SentencePiece.Type uses the same
// codes for 1..6; 0 (undefined) has no SentencePiece counterpart and is read as normal.
constexpr int64_t kNormal = 1;
constexpr int64_t kUnknown = 2;
constexpr int64_t kControl = 3;
constexpr int64_t kUserDefined = 4;
constexpr int64_t kByte = 6;

constexpr const char* kLlama3Split =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|"
    "\\s+(?!\\S)|\\s+";
constexpr const char* kQwen2Split =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|"
    "\\s+(?!\\S)|\\s+";

json byte_level(bool use_regex) {
  return {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", use_regex}};
}

// The pre-tokenizer llama.cpp uses for tokenizer.ggml.pre (llama-vocab.cpp's pre-type switch).
json pre_tokenizer_for(const std::string& pre, const std::string& path) {
  if (pre.empty() || pre == "default" || pre == "gpt-2" || pre == "gpt2") return byte_level(true);
  if (pre == "smollm")
    return {{"type", "Sequence"},
            {"pretokenizers", json::array({{{"type", "Digits"}, {"individual_digits", true}}, byte_level(true)})}};
  const char* split = nullptr;
  if (pre == "llama-bpe" || pre == "llama3" || pre == "llama-v3" || pre == "smaug-bpe" || pre == "falcon3")
    split = kLlama3Split;
  else if (pre == "qwen2" || pre == "deepseek-r1-qwen")
    split = kQwen2Split;
  if (split)
    return {{"type", "Sequence"},
            {"pretokenizers", json::array({{{"type", "Split"},
                                            {"pattern", {{"Regex", split}}},
                                            {"behavior", "Isolated"},
                                            {"invert", false}},
                                           byte_level(false)})}};
  log_warn("{}: tokenizer.ggml.pre '{}' is not one ptlab knows (smollm, gpt-2, llama-bpe, qwen2); using GPT-2's "
           "pre-tokenizer, which may split text differently from the model's own tokenizer",
           path, pre);
  return byte_level(true);
}

// --- The protobuf wire format, as much of it as a SentencePiece ModelProto needs. ---------------------

void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

// An int32 / bool / enum field. Negative values are sign-extended to 64 bits (10 bytes), as protobuf does.
void put_int(std::string& out, int field, int64_t v) {
  put_varint(out, static_cast<uint64_t>(field) << 3);
  put_varint(out, static_cast<uint64_t>(v));
}

void put_bytes(std::string& out, int field, const std::string& bytes) {
  put_varint(out, (static_cast<uint64_t>(field) << 3) | 2);
  put_varint(out, bytes.size());
  out += bytes;
}

void put_float(std::string& out, int field, float v) {
  put_varint(out, (static_cast<uint64_t>(field) << 3) | 5);
  uint32_t bits = 0;
  std::memcpy(&bits, &v, sizeof bits);
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((bits >> (8 * i)) & 0xFF));
}

// The model_max_length for tokenizer_config.json: the architecture's context length.
int64_t context_length(const io::GgufFile& file) {
  return file.has("general.architecture")
             ? file.get_int(file.get_string("general.architecture") + ".context_length", 2048)
             : 2048;
}

// tokenizer.ggml.<key>_token_id, checked against the vocabulary; -1 when absent.
int64_t role_id(const io::GgufFile& file, const char* key, std::size_t vocab) {
  const std::string k = fmt::format("tokenizer.ggml.{}_token_id", key);
  if (!file.has(k)) return -1;
  const int64_t id = file.get_int(k);
  PTLAB_CHECK(id >= 0 && static_cast<std::size_t>(id) < vocab,
              "GGUF file {}: {} = {} is outside the vocabulary (0..{})", file.path(), k, id, vocab - 1);
  return id;
}

// tokenizer.ggml.token_type, checked against the token count; all normal when the file has none.
std::vector<int64_t> token_types(const io::GgufFile& file, std::size_t n) {
  if (!file.has("tokenizer.ggml.token_type")) return std::vector<int64_t>(n, kNormal);
  std::vector<int64_t> types = file.get_ints("tokenizer.ggml.token_type");
  PTLAB_CHECK(types.size() == n, "GGUF file {}: tokenizer.ggml.token_type has {} entries for {} tokens; they must match",
              file.path(), types.size(), n);
  return types;
}

// tokenizer.ggml.model "llama": llama.cpp's SPM tokenizer, rebuilt as the SentencePiece BPE model it came
// from (see the header comment for the field-by-field mapping).
void llama_tokenizer_files(const io::GgufFile& file, GgufTokenizerFiles& out) {
  const std::string& path = file.path();
  const auto& tokens = file.get_strings("tokenizer.ggml.tokens");
  PTLAB_CHECK(!tokens.empty(), "GGUF file {}: tokenizer.ggml.tokens is empty", path);
  const std::size_t n = tokens.size();
  std::vector<double> scores(n, 0.0);  // llama.cpp reads a missing scores array as all zero
  if (file.has("tokenizer.ggml.scores")) {
    scores = file.get_floats("tokenizer.ggml.scores");
    PTLAB_CHECK(scores.size() == n, "GGUF file {}: tokenizer.ggml.scores has {} entries for {} tokens; they must match",
                path, scores.size(), n);
  }
  std::vector<int64_t> types = token_types(file, n);
  const int64_t bos = role_id(file, "bos", n), eos = role_id(file, "eos", n);
  const int64_t pad = role_id(file, "padding", n);
  int64_t unk = role_id(file, "unknown", n);

  std::map<std::string, std::size_t> seen;
  std::size_t byte_pieces = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const std::string& t = tokens[i];
    PTLAB_CHECK(!t.empty(), "GGUF file {}: tokenizer.ggml.tokens[{}] is empty", path, i);
    if (find_invalid_utf8(t) != std::string::npos)
      check_utf8(t, fmt::format("GGUF file {}: tokenizer.ggml.tokens[{}]", path, i));
    auto [it, fresh] = seen.emplace(t, i);
    PTLAB_CHECK(fresh, "GGUF file {}: token '{}' appears twice (ids {} and {})", path, t, it->second, i);
    if (types[i] == 0) types[i] = kNormal;
    PTLAB_CHECK(types[i] >= kNormal && types[i] <= kByte,
                "GGUF file {}: tokenizer.ggml.token_type[{}] = {} (token '{}') is not a token type (1 normal, 2 "
                "unknown, 3 control, 4 user defined, 5 unused, 6 byte)",
                path, i, types[i], t);
    if (types[i] == kByte) ++byte_pieces;
  }
  // SentencePiece needs exactly one unknown piece: the file's unknown_token_id, else its one type-2 token.
  std::vector<std::size_t> unknowns;
  for (std::size_t i = 0; i < n; ++i)
    if (types[i] == kUnknown) unknowns.push_back(i);
  if (unk < 0) {
    PTLAB_CHECK(!unknowns.empty(),
                "GGUF file {}: the 'llama' tokenizer has no unknown token (no tokenizer.ggml.unknown_token_id and "
                "no token of type 2); SentencePiece needs one",
                path);
    PTLAB_CHECK(unknowns.size() == 1,
                "GGUF file {}: {} tokens have type 2 (unknown: ids {} and {}) and tokenizer.ggml.unknown_token_id "
                "does not say which is the one; SentencePiece needs exactly one",
                path, unknowns.size(), unknowns[0], unknowns[1]);
    unk = static_cast<int64_t>(unknowns[0]);
  }
  for (std::size_t i : unknowns)
    PTLAB_CHECK(static_cast<int64_t>(i) == unk,
                "GGUF file {}: token {} ('{}') has type 2 (unknown) but tokenizer.ggml.unknown_token_id is {}; "
                "SentencePiece needs exactly one unknown token",
                path, i, tokens[i], unk);
  types[static_cast<std::size_t>(unk)] = kUnknown;
  // Byte fallback (what llama.cpp does when the <0xXX> tokens exist) needs all 256 of them.
  PTLAB_CHECK(byte_pieces == 0 || byte_pieces == 256,
              "GGUF file {}: {} tokens have type 6 (byte); byte fallback needs all 256 (<0x00> .. <0xFF>)", path,
              byte_pieces);
  const bool add_space_prefix = file.get_bool("tokenizer.ggml.add_space_prefix", true);

  std::string& model = out.sentencepiece_model;
  for (std::size_t i = 0; i < n; ++i) {
    std::string piece;
    put_bytes(piece, 1, tokens[i]);
    put_float(piece, 2, static_cast<float>(scores[i]));
    put_int(piece, 3, types[i]);
    put_bytes(model, 1, piece);  // ModelProto.pieces
  }
  std::string trainer;
  put_int(trainer, 3, 2);                        // model_type: BPE
  put_int(trainer, 4, static_cast<int64_t>(n));  // vocab_size
  put_int(trainer, 35, byte_pieces == 256);      // byte_fallback
  put_int(trainer, 40, unk);                     // unk_id
  put_int(trainer, 41, bos);                     // bos_id (-1: none)
  put_int(trainer, 42, eos);                     // eos_id
  put_int(trainer, 43, pad);                     // pad_id
  put_bytes(model, 2, trainer);                  // ModelProto.trainer_spec
  std::string normalizer;
  put_bytes(normalizer, 1, "identity");      // name (no precompiled_charsmap: no character mapping)
  put_int(normalizer, 3, add_space_prefix);  // add_dummy_prefix
  put_int(normalizer, 4, 0);                 // remove_extra_whitespaces
  put_int(normalizer, 5, 1);                 // escape_whitespaces: " " -> "▁"
  put_bytes(model, 3, normalizer);           // ModelProto.normalizer_spec
  out.vocab_size = static_cast<int64_t>(n);

  // The wrapper: transformers' LlamaTokenizer (legacy), which splits special-token strings out of the text
  // and gives each chunk its own dummy prefix, as llama.cpp's tokenizer gives a space prefix to the text
  // after every special token.
  const bool add_bos = file.get_bool("tokenizer.ggml.add_bos_token", true);
  const bool add_eos = file.get_bool("tokenizer.ggml.add_eos_token", false);
  TokenizerConfig& cfg = out.config;
  cfg.files.push_back(path);
  cfg.tokenizer_class = "LlamaTokenizer";
  cfg.add_bos_token = add_bos;
  cfg.add_eos_token = add_eos;
  cfg.legacy = true;
  cfg.add_prefix_space = add_space_prefix;
  cfg.clean_up_tokenization_spaces = false;
  json tc = {{"tokenizer_class", "LlamaTokenizer"},
             {"add_bos_token", add_bos},
             {"add_eos_token", add_eos},
             {"legacy", true},
             {"add_prefix_space", add_space_prefix},
             {"clean_up_tokenization_spaces", false},
             {"model_max_length", context_length(file)}};
  std::set<int64_t> role_ids;
  const std::pair<const char*, int64_t> roles[] = {
      {"bos", bos}, {"eos", eos}, {"unk", unk}, {"pad", pad}, {"sep", role_id(file, "seperator", n)}};
  for (const auto& [name, id] : roles) {
    if (id < 0) continue;
    const std::string& t = tokens[static_cast<std::size_t>(id)];
    cfg.special_tokens[name] = t;
    tc[std::string(name) + "_token"] = t;
    role_ids.insert(id);
  }
  // Other control tokens (chat markers and the like) are special tokens too: matched whole in the text and
  // skipped by decode(skip_special_tokens).
  json extra = json::array();
  for (std::size_t i = 0; i < n; ++i) {
    if (types[i] != kControl || role_ids.count(static_cast<int64_t>(i))) continue;
    cfg.additional_special_tokens.push_back(tokens[i]);
    extra.push_back(tokens[i]);
  }
  if (!extra.empty()) tc["additional_special_tokens"] = extra;
  // User-defined tokens are matched in the raw text, before "▁" escaping, as llama.cpp does (its converter
  // writes Gemma's whitespace pieces "▁▁" as "  "; only a raw-text match finds them): plain added tokens.
  // Decoding concatenates them with the text around them, as llama.cpp does.
  json decoder = json::object();
  for (std::size_t i = 0; i < n; ++i) {
    if (types[i] != kUserDefined) continue;
    AddedToken t;
    t.content = tokens[i];
    t.id = static_cast<int>(i);
    cfg.added_tokens.push_back(t);
    decoder[std::to_string(i)] = {{"content", tokens[i]}, {"lstrip", false},      {"normalized", false},
                                  {"rstrip", false},      {"single_word", false}, {"special", false}};
  }
  if (!decoder.empty()) tc["added_tokens_decoder"] = decoder;
  cfg.spaces_between_special_tokens = false;
  tc["spaces_between_special_tokens"] = false;
  out.tokenizer_config_json = std::move(tc);
}

// tokenizer.ggml.model "gpt2": byte-level BPE, rebuilt as a tokenizer.json (see the header comment).
void gpt2_tokenizer_files(const io::GgufFile& file, GgufTokenizerFiles& out) {
  const std::string& path = file.path();
  const auto& tokens = file.get_strings("tokenizer.ggml.tokens");
  PTLAB_CHECK(!tokens.empty(), "GGUF file {}: tokenizer.ggml.tokens is empty", path);
  const std::size_t n = tokens.size();
  const std::vector<int64_t> types = token_types(file, n);
  PTLAB_CHECK(file.has("tokenizer.ggml.merges"), "GGUF file {}: a 'gpt2' tokenizer needs tokenizer.ggml.merges", path);
  const auto& merges = file.get_strings("tokenizer.ggml.merges");

  // Tokens are stored in the byte-level alphabet; one that is not (a raw space, say) is respelled from its
  // UTF-8 bytes, as transformers does, so the merges built on it still match.
  const ByteLevelAlphabet& alphabet = ByteLevelAlphabet::get();
  auto in_alphabet = [&](const std::string& t) { return alphabet.decode(t).has_value(); };
  json vocab = json::object();
  for (std::size_t i = 0; i < n; ++i) {
    if (find_invalid_utf8(tokens[i]) != std::string::npos)
      check_utf8(tokens[i], fmt::format("GGUF file {}: tokenizer.ggml.tokens[{}]", path, i));
    const std::string spelled = in_alphabet(tokens[i]) ? tokens[i] : alphabet.encode(tokens[i]);
    PTLAB_CHECK(!vocab.contains(spelled), "GGUF file {}: token '{}' appears twice (ids {} and {})", path, tokens[i],
                vocab[spelled].get<int64_t>(), i);
    vocab[spelled] = i;
  }

  out.vocab_size = static_cast<int64_t>(n);
  json added = json::array();
  json decoder = json::object();
  for (std::size_t i = 0; i < n; ++i) {
    if (types[i] != kControl && types[i] != kUserDefined) continue;
    if (types[i] == kControl && !in_alphabet(tokens[i])) continue;  // a llama.cpp mislabel (see transformers)
    const bool special = types[i] == kControl;
    added.push_back({{"id", i},
                     {"content", tokens[i]},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", special}});
    decoder[std::to_string(i)] = {{"content", tokens[i]}, {"lstrip", false},  {"normalized", false},
                                  {"rstrip", false},      {"single_word", false}, {"special", special}};
  }

  const bool add_bos = file.get_bool("tokenizer.ggml.add_bos_token", false);
  const bool add_eos = file.get_bool("tokenizer.ggml.add_eos_token", false);
  auto role = [&](const char* key) -> std::optional<std::string> {
    const int64_t id = role_id(file, key, n);
    return id < 0 ? std::nullopt : std::optional<std::string>(tokens[static_cast<std::size_t>(id)]);
  };

  json single = json::array(), pair = json::array();
  json special_tokens = json::object();
  const auto bos = role("bos"), eos = role("eos");
  auto piece = [](const std::string& id) { return json{{"SpecialToken", {{"id", id}, {"type_id", 0}}}}; };
  auto seq = [](const char* id) { return json{{"Sequence", {{"id", id}, {"type_id", 0}}}}; };
  if (add_bos && bos) {
    single.push_back(piece(*bos));
    pair.push_back(piece(*bos));
    special_tokens[*bos] = {{"id", *bos}, {"ids", {role_id(file, "bos", n)}},
                            {"tokens", {*bos}}};
  }
  single.push_back(seq("A"));
  pair.push_back(seq("A"));
  if (add_bos && bos) pair.push_back(piece(*bos));
  pair.push_back(seq("B"));
  if (add_eos && eos) {
    single.push_back(piece(*eos));
    pair.push_back(piece(*eos));
    special_tokens[*eos] = {{"id", *eos}, {"ids", {role_id(file, "eos", n)}},
                            {"tokens", {*eos}}};
  }

  json merge_list = json::array();
  for (const auto& m : merges) merge_list.push_back(m);
  out.tokenizer_json = {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", added},
      {"normalizer", nullptr},
      {"pre_tokenizer", pre_tokenizer_for(file.get_string("tokenizer.ggml.pre", ""), path)},
      {"post_processor",
       {{"type", "TemplateProcessing"}, {"single", single}, {"pair", pair}, {"special_tokens", special_tokens}}},
      {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}}},
      {"model",
       {{"type", "BPE"},
        {"dropout", nullptr},
        {"unk_token", nullptr},
        {"continuing_subword_prefix", nullptr},
        {"end_of_word_suffix", nullptr},
        {"fuse_unk", false},
        {"byte_fallback", false},
        {"ignore_merges", false},
        {"vocab", vocab},
        {"merges", merge_list}}}};

  TokenizerConfig& cfg = out.config;
  cfg.files.push_back(path);
  json tc = {{"tokenizer_class", "PreTrainedTokenizerFast"},
             {"add_bos_token", add_bos},
             {"add_eos_token", add_eos},
             {"clean_up_tokenization_spaces", false},
             {"model_max_length", context_length(file)},
             {"added_tokens_decoder", decoder}};
  cfg.tokenizer_class = "PreTrainedTokenizerFast";
  cfg.add_bos_token = add_bos;
  cfg.add_eos_token = add_eos;
  cfg.clean_up_tokenization_spaces = false;
  for (const auto& [name, key] : std::vector<std::pair<std::string, const char*>>{
           {"bos", "bos"}, {"eos", "eos"}, {"unk", "unknown"}, {"pad", "padding"}, {"sep", "seperator"}}) {
    if (auto t = role(key)) {
      cfg.special_tokens[name] = *t;
      tc[name + "_token"] = *t;
    }
  }
  out.tokenizer_config_json = std::move(tc);
}

}  // namespace

GgufTokenizerFiles gguf_tokenizer_files(const io::GgufFile& file) {
  PTLAB_CHECK(file.has("tokenizer.ggml.model"),
              "GGUF file {}: no tokenizer (tokenizer.ggml.model is missing); give model.tokenizer separately",
              file.path());
  const std::string model = file.get_string("tokenizer.ggml.model");
  PTLAB_CHECK(model == "llama" || model == "gpt2",
              "GGUF file {}: tokenizer.ggml.model '{}' is not supported; ptlab rebuilds byte-level BPE ('gpt2': "
              "SmolLM, Llama 3, Qwen 2) and SentencePiece BPE ('llama': Llama 1/2, Mistral, Gemma) tokenizers; "
              "give model.tokenizer the model's own tokenizer files",
              file.path(), model);
  GgufTokenizerFiles out;
  if (model == "llama")
    llama_tokenizer_files(file, out);
  else
    gpt2_tokenizer_files(file, out);
  return out;
}

std::unique_ptr<Tokenizer> load_gguf_tokenizer(const std::string& path) {
  io::GgufFile file(path);
  GgufTokenizerFiles files = gguf_tokenizer_files(file);
  if (!files.sentencepiece_model.empty())
    return SentencePieceTokenizer::from_serialized_model(files.sentencepiece_model, path, files.config);
  return ByteLevelBpeTokenizer::from_tokenizer_json(files.tokenizer_json, path, files.config);
}

}  // namespace ptlab::text
