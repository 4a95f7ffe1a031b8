#include "framework/text/tokenizer_config.h"

#include "framework/core/error.h"
#include "tests/text/text_test_support.h"

#include <gtest/gtest.h>

namespace ptlab::text {
namespace {

using testing::error_of;
using testing::TempDir;

TEST(TokenizerConfig, MissingFilesGiveAnEmptyConfig) {
  TempDir dir;
  TokenizerConfig c = read_tokenizer_config(dir.path());
  EXPECT_TRUE(c.files.empty());
  EXPECT_TRUE(c.special_tokens.empty());
  EXPECT_FALSE(c.add_bos_token.has_value());
}

TEST(TokenizerConfig, ReadsTheTinyT5Directory) {
  PTLAB_REQUIRE_SHARED("golden/models/t5");
  TokenizerConfig c = read_tokenizer_config(testing::shared_path("golden/models/t5"));
  EXPECT_EQ(c.files.size(), 3u);
  EXPECT_EQ(c.tokenizer_class, "T5Tokenizer");
  EXPECT_EQ(c.special("eos"), "</s>");
  EXPECT_EQ(c.special("pad"), "<pad>");
  EXPECT_FALSE(c.has_special("bos"));
  EXPECT_EQ(c.extra_ids, 10);
  EXPECT_EQ(c.legacy, true);
  ASSERT_EQ(c.additional_special_tokens.size(), 10u);
  EXPECT_EQ(c.additional_special_tokens[0], "<extra_id_0>");
  const AddedToken* extra = nullptr;
  for (const auto& t : c.added_tokens)
    if (t.content == "<extra_id_0>") extra = &t;
  ASSERT_NE(extra, nullptr);
  EXPECT_EQ(extra->id, 156);
  EXPECT_TRUE(extra->special && extra->lstrip && extra->rstrip);
}

TEST(TokenizerConfig, SpecialTokensMapOverridesAndNullSwitchesOff) {
  TempDir dir;
  dir.write("tokenizer_config.json", R"({"bos_token": "<s>", "pad_token": null, "do_lower_case": false,
      "strip_accents": null, "unk_token": {"content": "<unk>", "lstrip": true, "normalized": false},
      "model_max_length": 1e30, "tokenizer_class": "LlamaTokenizer"})");
  dir.write("special_tokens_map.json", R"({"bos_token": {"content": "<|begin|>", "rstrip": true}})");
  dir.write("added_tokens.json", R"({"<|begin|>": 7, "<new>": 8})");
  TokenizerConfig c = read_tokenizer_config(dir.path());
  EXPECT_EQ(c.special("bos"), "<|begin|>");
  EXPECT_TRUE(c.has_special("pad"));
  EXPECT_FALSE(c.special("pad").has_value());
  EXPECT_EQ(c.do_lower_case, false);
  EXPECT_FALSE(c.strip_accents.has_value());
  EXPECT_TRUE(c.special_token_flags.at("<unk>").lstrip);
  ASSERT_EQ(c.added_tokens.size(), 2u);
  for (const auto& t : c.added_tokens) {
    if (t.content == "<|begin|>") {
      EXPECT_EQ(t.id, 7);
      EXPECT_TRUE(t.special);
      EXPECT_TRUE(t.rstrip);
    } else {
      EXPECT_EQ(t.content, "<new>");
      EXPECT_FALSE(t.special);
    }
  }
}

TEST(TokenizerConfig, WrongTypesAndBadJsonNameTheFileAndKey) {
  TempDir dir;
  dir.write("tokenizer_config.json", R"({"add_bos_token": "yes"})");
  std::string message = error_of([&] { read_tokenizer_config(dir.path()); });
  EXPECT_NE(message.find("tokenizer_config.json"), std::string::npos) << message;
  EXPECT_NE(message.find("\"add_bos_token\" must be true or false"), std::string::npos) << message;

  dir.write("tokenizer_config.json", R"({"bos_token": 5})");
  message = error_of([&] { read_tokenizer_config(dir.path()); });
  EXPECT_NE(message.find("\"bos_token\""), std::string::npos) << message;

  dir.write("tokenizer_config.json", R"({"added_tokens_decoder": {"x1": {"content": "a"}}})");
  message = error_of([&] { read_tokenizer_config(dir.path()); });
  EXPECT_NE(message.find("'x1' is not a token id"), std::string::npos) << message;

  dir.write("tokenizer_config.json", "{\"a\": [1, 2,}");
  message = error_of([&] { read_tokenizer_config(dir.path()); });
  EXPECT_NE(message.find("is not valid JSON"), std::string::npos) << message;
  EXPECT_NE(message.find("tokenizer_config.json"), std::string::npos) << message;
}

TEST(TokenizerConfig, AddedTokensFromTokenizerJson) {
  auto list = nlohmann::json::parse(R"([{"id": 0, "content": "<|endoftext|>", "special": true},
                                        {"id": 50276, "content": "  ", "special": false}])");
  auto tokens = added_tokens_from_json(list, "t.json added_tokens");
  ASSERT_EQ(tokens.size(), 2u);
  EXPECT_FALSE(tokens[0].normalized);  // Rust default: normalized = !special
  EXPECT_TRUE(tokens[1].normalized);
  std::string message =
      error_of([] { added_tokens_from_json(nlohmann::json::parse(R"([{"content": "x"}])"), "t.json added_tokens"); });
  EXPECT_NE(message.find("t.json added_tokens[0]"), std::string::npos) << message;
}

}  // namespace
}  // namespace ptlab::text
