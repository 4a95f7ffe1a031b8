#include "framework/text/tokenizer.h"

#include "framework/core/error.h"
#include "framework/core/log.h"
#include "framework/text/byte_level_bpe_tokenizer.h"
#include "framework/text/gguf_tokenizer.h"
#include "framework/text/sentencepiece_tokenizer.h"
#include "framework/text/utf8.h"
#include "framework/text/wordlevel_tokenizer.h"
#include "framework/text/wordpiece_tokenizer.h"

#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>

namespace ptlab::text {
namespace {

namespace fs = std::filesystem;

// The type of a tokenizer.json "model" object. Old files omit it; it is then inferred from the fields
// ("" when they fit no type: Unigram's vocab is a list).
std::string model_type(const nlohmann::json& model) {
  if (model.contains("type"))
    return model["type"].is_string() ? model["type"].get<std::string>() : model["type"].dump();
  if (model.contains("merges")) return "BPE";
  if (model.contains("continuing_subword_prefix") || model.contains("max_input_chars_per_word")) return "WordPiece";
  if (model.contains("vocab") && model["vocab"].is_object()) return "WordLevel";
  return "";
}

// Why a tokenizer.json cannot be loaded by ptlab, or "" when it can.
std::string unsupported_reason(const nlohmann::json& j) {
  if (!j.is_object() || !j.contains("model") || !j["model"].is_object()) return "it has no \"model\" object";
  const std::string type = model_type(j["model"]);
  if (type == "WordPiece" || type == "WordLevel") return "";
  if (type == "BPE") {
    if (ByteLevelBpeTokenizer::is_byte_level(j)) return "";
    return "its model is a BPE without a ByteLevel pre-tokenizer/decoder (SentencePiece-style BPE such as Llama 2 or "
           "Mistral; load its tokenizer.model instead)";
  }
  return fmt::format("its model type is '{}'", type.empty() ? "unknown" : type);
}

constexpr const char* kSupportedJson =
    "supported tokenizer.json models: byte-level BPE (GPT-2, GPT-NeoX/Pythia, "
    "Llama 3, Qwen), WordPiece (BERT) and WordLevel (the synthetic language)";

std::unique_ptr<Tokenizer> from_tokenizer_json(const std::string& file, const nlohmann::json& j,
                                               const TokenizerConfig& config) {
  const std::string type = model_type(j["model"]);
  if (type == "BPE") return ByteLevelBpeTokenizer::from_tokenizer_json(j, file, config);
  if (type == "WordLevel") return WordLevelTokenizer::from_tokenizer_json(j, file, config);
  return WordPieceTokenizer::from_tokenizer_json(j, file, config);
}

std::vector<std::string> model_files(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.is_regular_file() && entry.path().extension() == ".model") out.push_back(entry.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

std::unique_ptr<Tokenizer> load_directory(const fs::path& dir) {
  const TokenizerConfig config = read_tokenizer_config(dir.string());
  std::string skipped_json;
  const fs::path json_path = dir / "tokenizer.json";
  if (fs::is_regular_file(json_path)) {
    const nlohmann::json j = read_json_file(json_path.string());
    std::string reason = unsupported_reason(j);
    if (reason.empty()) return from_tokenizer_json(json_path.string(), j, config);
    skipped_json = fmt::format("{} is not supported: {} ({})", json_path.string(), reason, kSupportedJson);
    log_debug("{}; trying the other tokenizer files", skipped_json);
  }
  const fs::path vocab_json = dir / "vocab.json", merges = dir / "merges.txt";
  if (fs::is_regular_file(vocab_json) && fs::is_regular_file(merges))
    return ByteLevelBpeTokenizer::from_vocab_files(vocab_json.string(), merges.string(), config);
  if (fs::is_regular_file(dir / "vocab.txt"))
    return WordPieceTokenizer::from_vocab_txt((dir / "vocab.txt").string(), config);
  for (const char* name : {"tokenizer.model", "spiece.model"})
    if (fs::is_regular_file(dir / name)) return SentencePieceTokenizer::from_model_file((dir / name).string(), config);
  auto models = model_files(dir);
  if (models.size() == 1) return SentencePieceTokenizer::from_model_file(models[0], config);

  PTLAB_CHECK(skipped_json.empty(),
              "{}, and {} has no other tokenizer files (vocab.json + merges.txt, vocab.txt, "
              "tokenizer.model, spiece.model)",
              skipped_json, dir.string());
  std::string hint;
  if (fs::is_regular_file(vocab_json)) hint = " (vocab.json is there but merges.txt is missing)";
  if (fs::is_regular_file(merges)) hint = " (merges.txt is there but vocab.json is missing)";
  if (models.size() > 1) hint = fmt::format(" (several *.model files; pass one of them: {})", fmt::join(models, ", "));
  PTLAB_FAIL(
      "no tokenizer found in {}: looked for tokenizer.json, vocab.json + merges.txt, vocab.txt, "
      "tokenizer.model, spiece.model{}",
      dir.string(), hint);
}

std::unique_ptr<Tokenizer> load_file(const fs::path& file) {
  const fs::path dir = file.has_parent_path() ? file.parent_path() : fs::path(".");
  const std::string name = file.filename().string(), ext = file.extension().string();
  if (name == "vocab.json" || name == "merges.txt") {
    const fs::path vocab = dir / "vocab.json", merges = dir / "merges.txt";
    PTLAB_CHECK(fs::is_regular_file(vocab) && fs::is_regular_file(merges),
                "{}: byte-level BPE needs vocab.json and merges.txt side by side; {} is missing", file.string(),
                fs::is_regular_file(vocab) ? merges.string() : vocab.string());
    return ByteLevelBpeTokenizer::from_vocab_files(vocab.string(), merges.string(),
                                                   read_tokenizer_config(dir.string()));
  }
  if (ext == ".json") {
    const nlohmann::json j = read_json_file(file.string());
    std::string reason = unsupported_reason(j);
    PTLAB_CHECK(reason.empty(), "{} is not a supported tokenizer file: {} ({})", file.string(), reason, kSupportedJson);
    return from_tokenizer_json(file.string(), j, read_tokenizer_config(dir.string()));
  }
  if (ext == ".txt") return WordPieceTokenizer::from_vocab_txt(file.string(), read_tokenizer_config(dir.string()));
  if (ext == ".gguf") return load_gguf_tokenizer(file.string());
  if (ext == ".model")
    return SentencePieceTokenizer::from_model_file(file.string(), read_tokenizer_config(dir.string()));
  PTLAB_FAIL(
      "{} is not a tokenizer file ptlab knows: expected tokenizer.json, vocab.json, merges.txt, vocab.txt or "
      "a SentencePiece .model (tokenizer.model, spiece.model), a .gguf model file, or a model directory holding them",
      file.string());
}

}  // namespace

Encoding Tokenizer::encode(std::string_view text, bool add_special) const {
  check_utf8(text, "the text to encode");
  Encoding e = encode_text(text);
  if (add_special) return add_special_tokens(e, nullptr);
  e.type_ids.assign(e.ids.size(), 0);
  return e;
}

Encoding Tokenizer::encode_pair(std::string_view a, std::string_view b, bool add_special) const {
  check_utf8(a, "the first text of the pair");
  check_utf8(b, "the second text of the pair");
  Encoding ea = encode_text(a), eb = encode_text(b);
  if (add_special) return add_special_tokens(ea, &eb);
  return PostProcessor().apply(ea, &eb);
}

Encoding Tokenizer::add_special_tokens(const Encoding& a, const Encoding* b) const {
  return post_processor_.apply(a, b);
}

void Tokenizer::register_tokens(const TokenizerConfig& config, const std::map<std::string, std::string>& defaults,
                                const std::function<int(const std::string&)>& vocab_lookup, int first_free_id) {
  int next_id = std::max(first_free_id, 0);
  for (const AddedToken& t : config.added_tokens) {
    added_.add(t);
    next_id = std::max(next_id, t.id + 1);
  }
  // The id of a special string: an added token's, else the vocabulary's, else a new one.
  auto special_id = [&](const std::string& content) {
    if (const AddedToken* t = added_.find(content)) {
      const int id = t->id;
      if (!t->special) {
        AddedToken copy = *t;
        copy.special = true;
        added_.add(copy);
      }
      return id;
    }
    AddedToken t;
    auto it = config.special_token_flags.find(content);
    if (it != config.special_token_flags.end()) t = it->second;
    t.content = content;
    t.special = true;
    t.id = vocab_lookup(content);
    if (t.id < 0) t.id = next_id++;
    added_.add(t);
    return t.id;
  };
  const std::pair<const char*, int*> roles[] = {
      {"bos", &special_ids_.bos}, {"eos", &special_ids_.eos}, {"unk", &special_ids_.unk},  {"pad", &special_ids_.pad},
      {"sep", &special_ids_.sep}, {"cls", &special_ids_.cls}, {"mask", &special_ids_.mask}};
  for (const auto& [role, slot] : roles) {
    std::optional<std::string> content;
    if (config.has_special(role)) {
      content = config.special(role);
    } else if (auto it = defaults.find(role); it != defaults.end()) {
      content = it->second;
    }
    if (!content || content->empty()) continue;
    *slot = special_id(*content);
    special_set_.insert(*slot);
  }
  for (const std::string& content : config.additional_special_tokens) special_set_.insert(special_id(content));
  for (const AddedToken& t : added_.tokens())
    if (t.special) special_set_.insert(t.id);
}

std::string clean_up_tokenization(std::string_view text) {
  std::string s(text);
  static const std::pair<const char*, const char*> kRules[] = {
      {" .", "."},     {" ?", "?"},   {" !", "!"},   {" ,", ","},     {" ' ", "'"},
      {" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
  for (const auto& [from, to] : kRules) s = replace_all(std::move(s), from, to);
  return s;
}

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path) {
  PTLAB_CHECK(!path.empty(), "empty tokenizer path: give a model directory or a tokenizer file");
  const fs::path p(path);
  std::error_code ec;
  PTLAB_CHECK(fs::exists(p, ec), "tokenizer path {} does not exist", path);
  std::unique_ptr<Tokenizer> tok = fs::is_directory(p) ? load_directory(p) : load_file(p);
  tok->source_ = path;
  log_debug("loaded {} tokenizer from {} ({} ids)", tok->kind(), path, tok->vocab_size());
  return tok;
}

std::string replace_all(std::string s, std::string_view from, std::string_view to) {
  std::string out;
  std::size_t pos = 0;
  for (std::size_t hit; (hit = s.find(from, pos)) != std::string::npos; pos = hit + from.size())
    out.append(s, pos, hit - pos).append(to);
  out.append(s, pos, std::string::npos);
  return out;
}

std::string join_decoded_runs(const std::vector<std::string>& runs, bool spaces_between, bool clean_up) {
  std::string text;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    if (i > 0 && spaces_between) text += ' ';
    text += runs[i];
  }
  return clean_up ? clean_up_tokenization(text) : text;
}

}  // namespace ptlab::text
