#include "framework/text/byte_level_bpe_tokenizer.h"

#include "framework/core/error.h"
#include "framework/text/pre_tokenizer.h"
#include "tests/text/text_test_support.h"

#include <gtest/gtest.h>

#include <fstream>

namespace ptlab::text {
namespace {

using testing::expect_golden;
using testing::shared_available;
using testing::shared_path;

TEST(ByteLevelBpeTokenizer, Gpt2MatchesGolden) {
  PTLAB_REQUIRE_SHARED("models/tokenizers/gpt2");
  auto tok = load_tokenizer(shared_path("models/tokenizers/gpt2"));
  EXPECT_EQ(tok->kind(), "byte_level_bpe");
  EXPECT_EQ(tok->encode("Hello world").ids, (std::vector<int>{15496, 995}));
  expect_golden(*tok, "gpt2");
}

TEST(ByteLevelBpeTokenizer, TinyGpt2MatchesGolden) {
  PTLAB_REQUIRE_SHARED("golden/models/gpt2");
  auto tok = load_tokenizer(shared_path("golden/models/gpt2"));
  expect_golden(*tok, "tiny-gpt2");
}

TEST(ByteLevelBpeTokenizer, PythiaTokenizerJsonMatchesGolden) {
  PTLAB_REQUIRE_SHARED("models/tokenizers/gpt-neox-pythia");
  auto tok = load_tokenizer(shared_path("models/tokenizers/gpt-neox-pythia"));
  EXPECT_EQ(tok->encode("Hello world! This is a test.").ids,
            (std::vector<int>{12092, 1533, 2, 831, 310, 247, 1071, 15}));
  expect_golden(*tok, "gpt-neox-pythia");
}

}  // namespace
}  // namespace ptlab::text

namespace ptlab::text {
namespace {

using testing::error_of;
using testing::read_golden;
using testing::TempDir;

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// A tokenizer.json around GPT-2's vocabulary with the given pre_tokenizer / post_processor / model flags.
std::string gpt2_tokenizer_json(const TempDir& dir, const nlohmann::json& pre_tokenizer,
                                const nlohmann::json& post_processor = nullptr, bool ignore_merges = false) {
  nlohmann::json vocab = read_json_file(shared_path("models/tokenizers/gpt2/vocab.json"));
  nlohmann::json merges = nlohmann::json::array();
  std::ifstream in(shared_path("models/tokenizers/gpt2/merges.txt"));
  std::string line;
  std::getline(in, line);  // #version
  while (std::getline(in, line))
    if (!line.empty()) merges.push_back(line);
  nlohmann::json j = {
      {"version", "1.0"},
      {"added_tokens", {{{"id", 50256}, {"content", "<|endoftext|>"}, {"special", true}}}},
      {"normalizer", nullptr},
      {"pre_tokenizer", pre_tokenizer},
      {"post_processor", post_processor},
      {"decoder", {{"type", "ByteLevel"}}},
      {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}, {"ignore_merges", ignore_merges}}}};
  return dir.write("tokenizer.json", j.dump());
}

TEST(ByteLevelBpeTokenizer, SplitRegexTokenizerJsonEqualsGpt2) {
  // Llama 3 / Qwen style: Split(regex) + ByteLevel(use_regex=false). With GPT-2's own pattern this must
  // give GPT-2's golden ids.
  PTLAB_REQUIRE_SHARED("models/tokenizers/gpt2");
  TempDir dir;
  nlohmann::json pre = {
      {"type", "Sequence"},
      {"pretokenizers",
       {{{"type", "Split"}, {"pattern", {{"Regex", kGpt2Pattern}}}, {"behavior", "Isolated"}, {"invert", false}},
        {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}};
  auto tok = load_tokenizer(gpt2_tokenizer_json(dir, pre));
  int checked = 0;
  for (const auto& line : read_golden("gpt2")) {
    const std::string text = line["text"];
    EXPECT_EQ(tok->encode(text, false).ids, line["ids"].get<std::vector<int>>()) << line["source"];
    EXPECT_EQ(tok->decode(line["ids"].get<std::vector<int>>()), line["decoded"].get<std::string>()) << line["source"];
    ++checked;
  }
  EXPECT_EQ(checked, 406);
}

TEST(ByteLevelBpeTokenizer, Llama3StylePatternAndTemplate) {
  PTLAB_REQUIRE_SHARED("models/tokenizers/gpt2");
  TempDir dir;
  nlohmann::json pre = {
      {"type", "Sequence"},
      {"pretokenizers",
       {{{"type", "Split"},
         {"pattern",
          {{"Regex",
            R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"}}},
         {"behavior", "Isolated"}},
        {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}};
  nlohmann::json post = nlohmann::json::parse(R"({"type": "TemplateProcessing",
      "single": [{"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
      "pair": [{"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
               {"SpecialToken": {"id": "<|endoftext|>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
      "special_tokens": {"<|endoftext|>": {"id": "<|endoftext|>", "ids": [50256], "tokens": ["<|endoftext|>"]}}})");
  auto tok = load_tokenizer(gpt2_tokenizer_json(dir, pre, post, /*ignore_merges=*/true));
  // Digits go in groups of three (GPT-2's own pattern would keep "12345" whole: "123" + "45" either way
  // for its merges, so check a number its merges would join).
  Encoding e = tok->encode("I'M 12345 2024");
  EXPECT_EQ(e.tokens, (std::vector<std::string>{"<|endoftext|>", "I", "'", "M", "\xC4\xA0", "123", "45", "\xC4\xA0",
                                                "202", "4"}));
  Encoding p = tok->encode_pair("a", "b");
  EXPECT_EQ(p.ids, (std::vector<int>{50256, 64, 50256, 65}));
  EXPECT_EQ(p.type_ids, (std::vector<int>{0, 0, 1, 1}));
  EXPECT_EQ(tok->decode(e.ids, true), "I'M 12345 2024");
}

TEST(ByteLevelBpeTokenizer, OffsetsPointIntoTheInput) {
  PTLAB_REQUIRE_SHARED("models/tokenizers/gpt2");
  auto tok = load_tokenizer(shared_path("models/tokenizers/gpt2"));
  Encoding e = tok->encode("Hello world<|endoftext|> caf\xC3\xA9");
  ASSERT_TRUE(e.has_offsets());
  using O = std::pair<std::size_t, std::size_t>;
  EXPECT_EQ(e.offsets[0], (O{0, 5}));
  EXPECT_EQ(e.offsets[1], (O{5, 11}));
  EXPECT_EQ(e.offsets[2], (O{11, 24}));
  EXPECT_EQ(e.offsets.back().second, 30u);
  // On every golden line the tokens tile the text exactly.
  for (const auto& line : read_golden("gpt2")) {
    const std::string text = line["text"];
    Encoding g = tok->encode(text, false);
    if (text.empty()) continue;
    ASSERT_TRUE(g.has_offsets()) << line["source"];
    std::size_t at = 0;
    for (const auto& [b, end] : g.offsets) {
      EXPECT_EQ(b, at) << line["source"];
      at = end;
    }
    EXPECT_EQ(at, text.size()) << line["source"];
  }
}

TEST(ByteLevelBpeTokenizer, SideConfigPrefixSpaceBosAndLegacyAddedTokens) {
  PTLAB_REQUIRE_SHARED("models/tokenizers/gpt2");
  TempDir dir;
  dir.link("vocab.json", shared_path("models/tokenizers/gpt2/vocab.json"));
  dir.link("merges.txt", shared_path("models/tokenizers/gpt2/merges.txt"));
  dir.write("tokenizer_config.json", R"({"add_prefix_space": true, "add_bos_token": true,
      "added_tokens_decoder": {"50257": {"content": "<new>", "special": false}}})");
  auto tok = load_tokenizer(dir.path());
  EXPECT_EQ(tok->vocab_size(), 50258);
  Encoding e = tok->encode("Hello");
  EXPECT_EQ(e.ids, (std::vector<int>{50256, 18435}));  // <|endoftext|> ĠHello
  EXPECT_EQ(e.offsets[1], (std::pair<std::size_t, std::size_t>{0, 5}));
  EXPECT_EQ(tok->encode("a<new>b", false).ids, (std::vector<int>{257, 50257, 65}));  // Ġa <new> b
  // Slow decode writes non-special added tokens as separate words.
  EXPECT_EQ(tok->decode({15496, 50257, 995}), "Hello <new>  world");
}

TEST(ByteLevelBpeTokenizer, BadVocabularyFilesAreErrors) {
  TempDir dir;
  dir.write("vocab.json", R"({"a": 0, "b": 1, "ab": 2})");
  dir.write("merges.txt", "#version: 0.2\na b\nab c\n");
  std::string message = testing::error_of([&] { load_tokenizer(dir.path()); });
  EXPECT_TRUE(contains(message, "merges.txt line 3")) << message;
  EXPECT_TRUE(contains(message, "'c'")) << message;

  dir.write("merges.txt", "#version: 0.2\na b extra\n");
  message = testing::error_of([&] { load_tokenizer(dir.path()); });
  EXPECT_TRUE(contains(message, "merges.txt line 2: expected two tokens")) << message;

  dir.write("vocab.json", "{}");
  dir.write("merges.txt", "#version: 0.2\n");
  message = testing::error_of([&] { load_tokenizer(dir.path()); });
  EXPECT_TRUE(contains(message, "empty vocabulary")) << message;

  dir.write("vocab.json", R"({"a": "zero"})");
  message = testing::error_of([&] { load_tokenizer(dir.path()); });
  EXPECT_TRUE(contains(message, "id of token 'a' must be an integer")) << message;
}

TEST(ByteLevelBpeTokenizer, BadTokenizerJsonIsAnError) {
  TempDir dir;
  dir.write("tokenizer.json", R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a b"]},
                                  "pre_tokenizer": {"type": "ByteLevel"}})");
  std::string message = testing::error_of([&] { load_tokenizer(dir.path()); });
  EXPECT_TRUE(contains(message, "merges[0]")) << message;
  EXPECT_TRUE(contains(message, "'b'")) << message;

  dir.write("tokenizer.json", R"({"model": {"type": "BPE", "vocab": {}, "merges": []},
                                  "pre_tokenizer": {"type": "ByteLevel"}})");
  message = testing::error_of([&] { load_tokenizer(dir.path()); });
  EXPECT_TRUE(contains(message, "empty vocabulary")) << message;

  dir.write("tokenizer.json",
            R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [], "continuing_subword_prefix": "##"},
                                  "pre_tokenizer": {"type": "ByteLevel"}})");
  message = testing::error_of([&] { load_tokenizer(dir.path()); });
  EXPECT_TRUE(contains(message, "continuing_subword_prefix")) << message;
}

}  // namespace
}  // namespace ptlab::text
