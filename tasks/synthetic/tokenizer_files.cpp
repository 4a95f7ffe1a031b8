#include "tasks/synthetic/tokenizer_files.h"

#include <nlohmann/json.hpp>

namespace ptlab::tasks::synthetic {
namespace {

// transformers writes model_max_length = int(1e30) when the tokenizer has no limit; JSON libraries in C++
// hold no such integer, so it is spliced into the text.
constexpr std::string_view kMaxLengthPlaceholder = "\"@MODEL_MAX_LENGTH@\"";
constexpr std::string_view kMaxLength = "1000000000000000019884624838656";

nlohmann::json added_token_flags(bool with_special) {
  nlohmann::json t = {{"lstrip", false}, {"normalized", false}, {"rstrip", false}, {"single_word", false}};
  if (with_special) t["special"] = true;
  return t;
}

}  // namespace

std::vector<std::string> vocabulary(const Lexicon& lex) {
  std::vector<std::string> vocab(kSpecialTokens.begin(), kSpecialTokens.end());
  for (const auto& w : lex.words) vocab.push_back(w.text);
  return vocab;
}

std::string tokenizer_json(const Lexicon& lex) {
  using ordered = nlohmann::ordered_json;
  ordered added = ordered::array();
  for (std::size_t i = 0; i < kSpecialTokens.size(); ++i) {
    added.push_back(ordered{{"id", i},
                            {"content", kSpecialTokens[i]},
                            {"single_word", false},
                            {"lstrip", false},
                            {"rstrip", false},
                            {"normalized", false},
                            {"special", true}});
  }
  ordered vocab = ordered::object();
  const auto words = vocabulary(lex);
  for (std::size_t i = 0; i < words.size(); ++i) vocab[words[i]] = i;
  ordered doc = ordered::object();
  doc["version"] = "1.0";
  doc["truncation"] = nullptr;
  doc["padding"] = nullptr;
  doc["added_tokens"] = added;
  doc["normalizer"] = nullptr;
  doc["pre_tokenizer"] = ordered{{"type", "WhitespaceSplit"}};
  doc["post_processor"] = nullptr;
  doc["decoder"] = nullptr;
  doc["model"] = ordered{{"type", "WordLevel"}, {"vocab", vocab}, {"unk_token", "<unk>"}};
  return doc.dump(2) + "\n";
}

std::string tokenizer_config_json() {
  nlohmann::json decoder = nlohmann::json::object();
  for (std::size_t i = 0; i < kSpecialTokens.size(); ++i) {
    nlohmann::json t = added_token_flags(true);
    t["content"] = kSpecialTokens[i];
    decoder[std::to_string(i)] = t;
  }
  nlohmann::json doc = {{"added_tokens_decoder", decoder},
                        {"bos_token", "<s>"},
                        {"clean_up_tokenization_spaces", false},
                        {"eos_token", "</s>"},
                        {"mask_token", "<mask>"},
                        {"model_max_length", "@MODEL_MAX_LENGTH@"},
                        {"pad_token", "<pad>"},
                        {"tokenizer_class", "PreTrainedTokenizerFast"},
                        {"unk_token", "<unk>"}};
  std::string text = doc.dump(2) + "\n";  // nlohmann::json sorts keys, as transformers does
  text.replace(text.find(kMaxLengthPlaceholder), kMaxLengthPlaceholder.size(), kMaxLength);
  return text;
}

std::string special_tokens_map_json() {
  nlohmann::json doc = {{"bos_token", "<s>"},
                        {"eos_token", "</s>"},
                        {"mask_token", "<mask>"},
                        {"pad_token", "<pad>"},
                        {"unk_token", "<unk>"}};
  return doc.dump(2) + "\n";
}

}  // namespace ptlab::tasks::synthetic
