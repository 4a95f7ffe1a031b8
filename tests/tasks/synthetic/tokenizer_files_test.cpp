#include "tasks/synthetic/tokenizer_files.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <set>

namespace ptlab::tasks::synthetic {

TEST(TokenizerFiles, VocabularyIsSpecialsThenEveryWord) {
  const Lexicon& lex = lexicon();
  auto vocab = vocabulary(lex);
  ASSERT_EQ(vocab.size(), lex.words.size() + 5);
  EXPECT_EQ(vocab[0], "<pad>");
  EXPECT_EQ(vocab[1], "<unk>");
  EXPECT_EQ(vocab[2], "<s>");
  EXPECT_EQ(vocab[3], "</s>");
  EXPECT_EQ(vocab[4], "<mask>");
  for (std::size_t i = 0; i < lex.words.size(); ++i) EXPECT_EQ(vocab[i + 5], lex.words[i].text);
  EXPECT_EQ(std::set<std::string>(vocab.begin(), vocab.end()).size(), vocab.size());
}

TEST(TokenizerFiles, TokenizerJsonIsAWordLevelModelWithWhitespaceSplit) {
  const Lexicon& lex = lexicon();
  const std::string text = tokenizer_json(lex);
  ASSERT_EQ(text.back(), '\n');
  auto j = nlohmann::json::parse(text);
  EXPECT_EQ(j["version"], "1.0");
  EXPECT_TRUE(j["normalizer"].is_null());
  EXPECT_TRUE(j["post_processor"].is_null());
  EXPECT_TRUE(j["decoder"].is_null());
  EXPECT_EQ(j["pre_tokenizer"], (nlohmann::json{{"type", "WhitespaceSplit"}}));
  EXPECT_EQ(j["model"]["type"], "WordLevel");
  EXPECT_EQ(j["model"]["unk_token"], "<unk>");
  const auto& vocab = j["model"]["vocab"];
  const auto words = vocabulary(lex);
  ASSERT_EQ(vocab.size(), words.size());
  for (std::size_t i = 0; i < words.size(); ++i) EXPECT_EQ(vocab[words[i]].get<std::size_t>(), i) << words[i];
  ASSERT_EQ(j["added_tokens"].size(), 5u);
  for (std::size_t i = 0; i < 5; ++i) {
    const auto& t = j["added_tokens"][i];
    EXPECT_EQ(t["id"], i);
    EXPECT_EQ(t["content"], std::string(kSpecialTokens[i]));
    EXPECT_EQ(t["special"], true);
    EXPECT_EQ(t["normalized"], false);
  }
  // The vocabulary is written in id order, as the tokenizers library saves it.
  EXPECT_LT(text.find("\"<pad>\": 0"), text.find("\"<mask>\": 4"));
  EXPECT_LT(text.find("\"<mask>\": 4"), text.find("\"" + lex.words[0].text + "\": 5"));
}

TEST(TokenizerFiles, ConfigAndSpecialTokensMapAsTransformersWritesThem) {
  const std::string config_text = tokenizer_config_json();
  // transformers' "no limit" value, as an integer literal.
  EXPECT_NE(config_text.find("\"model_max_length\": 1000000000000000019884624838656,"), std::string::npos)
      << config_text;
  auto c = nlohmann::json::parse(config_text);
  EXPECT_EQ(c["tokenizer_class"], "PreTrainedTokenizerFast");
  EXPECT_EQ(c["clean_up_tokenization_spaces"], false);
  EXPECT_EQ(c["bos_token"], "<s>");
  EXPECT_EQ(c["eos_token"], "</s>");
  EXPECT_EQ(c["pad_token"], "<pad>");
  EXPECT_EQ(c["unk_token"], "<unk>");
  EXPECT_EQ(c["mask_token"], "<mask>");
  ASSERT_EQ(c["added_tokens_decoder"].size(), 5u);
  EXPECT_EQ(c["added_tokens_decoder"]["4"]["content"], "<mask>");
  EXPECT_EQ(c["added_tokens_decoder"]["0"]["special"], true);
  // Keys sorted, as json.dumps(sort_keys=True) writes them.
  EXPECT_LT(config_text.find("\"added_tokens_decoder\""), config_text.find("\"bos_token\""));
  EXPECT_LT(config_text.find("\"tokenizer_class\""), config_text.find("\"unk_token\": \"<unk>\"\n"));

  auto m = nlohmann::json::parse(special_tokens_map_json());
  EXPECT_EQ(m, (nlohmann::json{{"bos_token", "<s>"},
                               {"eos_token", "</s>"},
                               {"mask_token", "<mask>"},
                               {"pad_token", "<pad>"},
                               {"unk_token", "<unk>"}}));
}

}  // namespace ptlab::tasks::synthetic
