#include "framework/text/wordpiece_tokenizer.h"

#include "framework/core/error.h"
#include "tests/text/text_test_support.h"

#include <gtest/gtest.h>

namespace ptlab::text {
namespace {

using testing::expect_golden;
using testing::shared_available;
using testing::shared_path;

TEST(WordPieceTokenizer, BertBaseUncasedMatchesGolden) {
  PTLAB_REQUIRE_SHARED("models/tokenizers/bert-base-uncased");
  auto tok = load_tokenizer(shared_path("models/tokenizers/bert-base-uncased"));
  EXPECT_EQ(tok->encode("hello world").ids, (std::vector<int>{101, 7592, 2088, 102}));
  expect_golden(*tok, "bert-base-uncased");
}

TEST(WordPieceTokenizer, TinyBertMatchesGolden) {
  PTLAB_REQUIRE_SHARED("golden/models/bert");
  auto tok = load_tokenizer(shared_path("golden/models/bert"));
  expect_golden(*tok, "tiny-bert");
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

TEST(WordPieceTokenizer, TokenizerJsonMatchesTheGoldenIds) {
  // The fast-tokenizer form of bert-base-uncased (what BertConverter writes): same ids, same pairs.
  PTLAB_REQUIRE_SHARED("models/tokenizers/bert-base-uncased");
  auto slow = load_tokenizer(shared_path("models/tokenizers/bert-base-uncased"));
  nlohmann::json vocab = nlohmann::json::object();
  for (int id = 0; id < slow->vocab_size(); ++id) vocab[slow->id_to_token(id)] = id;
  nlohmann::json j = nlohmann::json::parse(R"({
    "added_tokens": [{"id": 0, "content": "[PAD]", "special": true}, {"id": 100, "content": "[UNK]", "special": true},
                     {"id": 101, "content": "[CLS]", "special": true}, {"id": 102, "content": "[SEP]", "special": true},
                     {"id": 103, "content": "[MASK]", "special": true}],
    "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true, "strip_accents": null,
                   "lowercase": true},
    "pre_tokenizer": {"type": "BertPreTokenizer"},
    "post_processor": {"type": "TemplateProcessing",
      "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                 {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
      "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
               {"SpecialToken": {"id": "[SEP]", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}},
               {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
      "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [101], "tokens": ["[CLS]"]},
                         "[SEP]": {"id": "[SEP]", "ids": [102], "tokens": ["[SEP]"]}}},
    "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true},
    "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
              "max_input_chars_per_word": 100}})");
  j["model"]["vocab"] = vocab;
  TempDir dir;
  auto fast = load_tokenizer(dir.write("tokenizer.json", j.dump()));
  EXPECT_EQ(fast->kind(), "wordpiece");
  EXPECT_EQ(fast->cls_id(), 101);
  EXPECT_EQ(fast->mask_id(), 103);
  for (const auto& line : read_golden("bert-base-uncased")) {
    const std::string text = line["text"];
    EXPECT_EQ(fast->encode(text, false).ids, line["ids"].get<std::vector<int>>()) << line["source"];
    EXPECT_EQ(fast->encode(text).ids, line["ids_special"].get<std::vector<int>>()) << line["source"];
    Encoding pair = fast->encode_pair(text, line["pair_text_b"].get<std::string>());
    EXPECT_EQ(pair.ids, line["pair_ids"].get<std::vector<int>>()) << line["source"];
    EXPECT_EQ(pair.type_ids, line["pair_token_type_ids"].get<std::vector<int>>()) << line["source"];
    EXPECT_EQ(fast->decode(line["ids"].get<std::vector<int>>()), line["decoded"].get<std::string>()) << line["source"];
  }
  // The Rust WordPiece decoder's cleanup, which the slow tokenizer does not have.
  std::vector<int> ids = fast->encode("i do not know.", false).ids;
  EXPECT_EQ(fast->decode(ids), "i do not know.");
  EXPECT_EQ(slow->decode(ids), "i do not know.");
}

TEST(WordPieceTokenizer, GreedyLongestMatchAndLongWords) {
  PTLAB_REQUIRE_SHARED("models/tokenizers/bert-base-uncased");
  auto tok = load_tokenizer(shared_path("models/tokenizers/bert-base-uncased"));
  EXPECT_EQ(tok->encode("unaffable", false).tokens, (std::vector<std::string>{"una", "##ffa", "##ble"}));
  EXPECT_NE(tok->encode(std::string(100, 'b'), false).ids, (std::vector<int>{100}));  // 100 chars: split into pieces
  EXPECT_EQ(tok->encode(std::string(101, 'c'), false).ids, (std::vector<int>{100}));  // > 100 chars: [UNK]
  EXPECT_EQ(tok->decode(tok->encode("unaffable, isn't it?").ids, true), "unaffable, isn't it?");
  EXPECT_EQ(tok->decode(tok->encode("unaffable, isn't it?").ids, false, false), "[CLS] unaffable , isn ' t it ? [SEP]");
}

TEST(WordPieceTokenizer, SideConfigOptions) {
  PTLAB_REQUIRE_SHARED("models/tokenizers/bert-base-uncased");
  TempDir dir;
  dir.link("vocab.txt", shared_path("models/tokenizers/bert-base-uncased/vocab.txt"));
  dir.write("tokenizer_config.json", R"({"do_lower_case": false, "tokenize_chinese_chars": false})");
  auto tok = load_tokenizer(dir.path());
  auto* wp = dynamic_cast<const WordPieceTokenizer*>(tok.get());
  ASSERT_NE(wp, nullptr);
  EXPECT_FALSE(wp->basic_tokenizer().options().lower_case);
  EXPECT_FALSE(wp->basic_tokenizer().options().tokenize_chinese_chars);
  EXPECT_EQ(tok->encode("hello HELLO", false).ids.front(), 7592);
  EXPECT_NE(tok->encode("hello HELLO", false).ids.back(), 7592);  // case is kept, so HELLO is not "hello"
}

TEST(WordPieceTokenizer, BadVocabulariesAreErrors) {
  TempDir dir;
  dir.write("vocab.txt", "");
  std::string message = error_of([&] { load_tokenizer(dir.path()); });
  EXPECT_TRUE(contains(message, "empty vocabulary")) << message;
  dir.write("vocab.txt", "[PAD]\nhello\nworld\n");
  dir.write("tokenizer_config.json", R"({"unk_token": null})");
  message = error_of([&] { load_tokenizer(dir.path()); });
  EXPECT_TRUE(contains(message, "unknown token '[UNK]' is not in the vocabulary")) << message;
  std::filesystem::remove(dir.path() + "/tokenizer_config.json");
  dir.write("vocab.txt", "[UNK]\nhello\n\xFF\n");
  message = error_of([&] { load_tokenizer(dir.path()); });
  EXPECT_TRUE(contains(message, "invalid UTF-8")) << message;
  EXPECT_TRUE(contains(message, "vocab.txt")) << message;
  // Special tokens missing from the vocabulary get the next ids, as transformers' add_tokens gives them.
  dir.write("vocab.txt", "[UNK]\nhello\n");
  auto tok = load_tokenizer(dir.path());
  EXPECT_EQ(tok->pad_id(), 2);
  EXPECT_EQ(tok->sep_id(), 3);
  EXPECT_EQ(tok->cls_id(), 4);
  EXPECT_EQ(tok->vocab_size(), 6);
  EXPECT_EQ(tok->encode("hello there").ids, (std::vector<int>{4, 1, 0, 3}));
}

}  // namespace
}  // namespace ptlab::text
