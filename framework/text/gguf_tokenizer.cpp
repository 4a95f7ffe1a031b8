#include "framework/text/gguf_tokenizer.h"

#include "framework/core/error.h"
#include "framework/core/log.h"
#include "framework/io/gguf.h"
#include "framework/text/byte_level.h"
#include "framework/text/byte_level_bpe_tokenizer.h"
#include "framework/text/utf8.h"

namespace ptlab::text {
namespace {

using json = nlohmann::json;

// llama.cpp's token types (llama_token_type).
constexpr int64_t kControl = 3;
constexpr int64_t kUserDefined = 4;

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

}  // namespace

GgufTokenizerFiles gguf_tokenizer_files(const io::GgufFile& file) {
  const std::string& path = file.path();
  PTLAB_CHECK(file.has("tokenizer.ggml.model"),
              "GGUF file {}: no tokenizer (tokenizer.ggml.model is missing); give model.tokenizer separately", path);
  const std::string model = file.get_string("tokenizer.ggml.model");
  PTLAB_CHECK(model == "gpt2",
              "GGUF file {}: tokenizer.ggml.model '{}' is not supported; ptlab rebuilds byte-level BPE tokenizers "
              "('gpt2': SmolLM, Llama 3, Qwen 2). For SentencePiece ('llama') models give model.tokenizer a "
              "tokenizer.model file",
              path, model);
  const auto& tokens = file.get_strings("tokenizer.ggml.tokens");
  PTLAB_CHECK(!tokens.empty(), "GGUF file {}: tokenizer.ggml.tokens is empty", path);
  std::vector<int64_t> types;
  if (file.has("tokenizer.ggml.token_type")) {
    types = file.get_ints("tokenizer.ggml.token_type");
    PTLAB_CHECK(types.size() == tokens.size(),
                "GGUF file {}: tokenizer.ggml.token_type has {} entries for {} tokens; they must match", path,
                types.size(), tokens.size());
  }
  PTLAB_CHECK(file.has("tokenizer.ggml.merges"), "GGUF file {}: a 'gpt2' tokenizer needs tokenizer.ggml.merges", path);
  const auto& merges = file.get_strings("tokenizer.ggml.merges");

  // Tokens are stored in the byte-level alphabet; one that is not (a raw space, say) is respelled from its
  // UTF-8 bytes, as transformers does, so the merges built on it still match.
  const ByteLevelAlphabet& alphabet = ByteLevelAlphabet::get();
  auto in_alphabet = [&](const std::string& t) { return alphabet.decode(t).has_value(); };
  json vocab = json::object();
  std::vector<std::string> spelled(tokens.size());
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    if (find_invalid_utf8(tokens[i]) != std::string::npos)
      check_utf8(tokens[i], fmt::format("GGUF file {}: tokenizer.ggml.tokens[{}]", path, i));
    spelled[i] = in_alphabet(tokens[i]) ? tokens[i] : alphabet.encode(tokens[i]);
    PTLAB_CHECK(!vocab.contains(spelled[i]), "GGUF file {}: token '{}' appears twice (ids {} and {})", path, tokens[i],
                vocab[spelled[i]].get<int64_t>(), i);
    vocab[spelled[i]] = i;
  }

  GgufTokenizerFiles out;
  json added = json::array();
  json decoder = json::object();
  for (std::size_t i = 0; i < types.size(); ++i) {
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
  auto role_id = [&](const char* key) -> int64_t {
    const std::string k = fmt::format("tokenizer.ggml.{}_token_id", key);
    return file.has(k) ? file.get_int(k) : -1;
  };
  auto role = [&](const char* key) -> std::optional<std::string> {
    const std::string k = fmt::format("tokenizer.ggml.{}_token_id", key);
    if (!file.has(k)) return std::nullopt;
    const int64_t id = file.get_int(k);
    PTLAB_CHECK(id >= 0 && static_cast<std::size_t>(id) < tokens.size(),
                "GGUF file {}: {} = {} is outside the vocabulary (0..{})", path, k, id, tokens.size() - 1);
    return tokens[static_cast<std::size_t>(id)];
  };

  json single = json::array(), pair = json::array();
  json special_tokens = json::object();
  const auto bos = role("bos"), eos = role("eos");
  auto piece = [](const std::string& id) { return json{{"SpecialToken", {{"id", id}, {"type_id", 0}}}}; };
  auto seq = [](const char* id) { return json{{"Sequence", {{"id", id}, {"type_id", 0}}}}; };
  if (add_bos && bos) {
    single.push_back(piece(*bos));
    pair.push_back(piece(*bos));
    special_tokens[*bos] = {{"id", *bos}, {"ids", {role_id("bos")}},
                            {"tokens", {*bos}}};
  }
  single.push_back(seq("A"));
  pair.push_back(seq("A"));
  if (add_bos && bos) pair.push_back(piece(*bos));
  pair.push_back(seq("B"));
  if (add_eos && eos) {
    single.push_back(piece(*eos));
    pair.push_back(piece(*eos));
    special_tokens[*eos] = {{"id", *eos}, {"ids", {role_id("eos")}},
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
             {"model_max_length", file.has("general.architecture")
                                      ? file.get_int(file.get_string("general.architecture") + ".context_length", 2048)
                                      : 2048},
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
  return out;
}

std::unique_ptr<Tokenizer> load_gguf_tokenizer(const std::string& path) {
  io::GgufFile file(path);
  GgufTokenizerFiles files = gguf_tokenizer_files(file);
  return ByteLevelBpeTokenizer::from_tokenizer_json(files.tokenizer_json, path, files.config);
}

}  // namespace ptlab::text
