#include "framework/text/sentencepiece_tokenizer.h"

#include "framework/core/error.h"
#include "tests/text/text_test_support.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace ptlab::text {
namespace {

using testing::expect_golden;
using testing::shared_available;
using testing::shared_path;

TEST(SentencePieceTokenizer, Llama2MatchesGolden) {
  PTLAB_REQUIRE_SENTENCEPIECE();
  PTLAB_REQUIRE_SHARED("models/tokenizers/llama2-32k");
  auto tok = load_tokenizer(shared_path("models/tokenizers/llama2-32k"));
  EXPECT_EQ(tok->encode("Hello world").ids, (std::vector<int>{1, 15043, 3186}));
  expect_golden(*tok, "llama2-32k");
}

TEST(SentencePieceTokenizer, Stories260KMatchesGolden) {
  PTLAB_REQUIRE_SENTENCEPIECE();
  PTLAB_REQUIRE_SHARED("models/stories260K/tokenizer.model");
  auto tok = load_tokenizer(shared_path("models/stories260K/tokenizer.model"));
  EXPECT_EQ(tok->encode("Once upon a time").ids, (std::vector<int>{1, 403, 407, 261, 378}));
  expect_golden(*tok, "stories260K");
}

TEST(SentencePieceTokenizer, TinyLlamaMatchesGolden) {
  PTLAB_REQUIRE_SENTENCEPIECE();
  PTLAB_REQUIRE_SHARED("golden/models/llama");
  auto tok = load_tokenizer(shared_path("golden/models/llama"));
  expect_golden(*tok, "tiny-llama");
}

TEST(SentencePieceTokenizer, TinyT5MatchesGolden) {
  PTLAB_REQUIRE_SENTENCEPIECE();
  PTLAB_REQUIRE_SHARED("golden/models/t5");
  auto tok = load_tokenizer(shared_path("golden/models/t5"));
  expect_golden(*tok, "tiny-t5");
}

}  // namespace
}  // namespace ptlab::text

namespace ptlab::text {
namespace {

using testing::error_of;
using testing::TempDir;

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST(SentencePieceTokenizer, LegacyFalseFollowsTheNewTransformersRule) {
  PTLAB_REQUIRE_SENTENCEPIECE();
  // transformers' documented example: after a special token, legacy=true encodes "." as "▁." (869),
  // legacy=false as "." (29889).
  PTLAB_REQUIRE_SHARED("models/tokenizers/llama2-32k/tokenizer.model");
  auto legacy = load_tokenizer(shared_path("models/tokenizers/llama2-32k"));
  EXPECT_EQ(legacy->encode("Hello <s>.", false).ids, (std::vector<int>{15043, 29871, 1, 869}));
  TempDir dir;
  dir.link("tokenizer.model", shared_path("models/tokenizers/llama2-32k/tokenizer.model"));
  dir.write("tokenizer_config.json", R"({"legacy": false, "add_eos_token": true})");
  auto tok = load_tokenizer(dir.path());
  auto* sp = dynamic_cast<const SentencePieceTokenizer*>(tok.get());
  ASSERT_NE(sp, nullptr);
  EXPECT_FALSE(sp->legacy());
  EXPECT_EQ(tok->encode("Hello <s>.", false).ids, (std::vector<int>{15043, 29871, 1, 29889}));
  EXPECT_EQ(tok->encode("Hello world", false).ids, (std::vector<int>{15043, 3186}));
  EXPECT_EQ(tok->encode("Hello").ids, (std::vector<int>{1, 15043, 2}));  // add_eos_token
  // Decoding as the slow classes do: legacy puts a space before a special token (and SentencePiece drops
  // the "▁" of the first piece after it), non-legacy does not.
  EXPECT_EQ(tok->decode({15043, 29871, 1, 29889}), "Hello <s>.");
  EXPECT_EQ(legacy->decode({15043, 29871, 1, 869}), " Hello <s>.");
}

TEST(SentencePieceTokenizer, LlamaPairTemplateAndOffsets) {
  PTLAB_REQUIRE_SENTENCEPIECE();
  PTLAB_REQUIRE_SHARED("models/tokenizers/llama2-32k/tokenizer.model");
  auto tok = load_tokenizer(shared_path("models/tokenizers/llama2-32k/tokenizer.model"));
  Encoding pair = tok->encode_pair("Hello", "world");
  EXPECT_EQ(pair.ids, (std::vector<int>{1, 15043, 1, 3186}));
  EXPECT_EQ(pair.type_ids, (std::vector<int>{0, 0, 1, 1}));
  Encoding e = tok->encode("Hello world</s>", false);
  ASSERT_TRUE(e.has_offsets());
  using O = std::pair<std::size_t, std::size_t>;
  EXPECT_EQ(e.offsets, (std::vector<O>{{0, 5}, {5, 11}, {11, 15}}));
}

TEST(SentencePieceTokenizer, T5TemplateAndDefaultExtraIds) {
  PTLAB_REQUIRE_SENTENCEPIECE();
  PTLAB_REQUIRE_SHARED("golden/models/t5/spiece.model");
  // A bare spiece.model is T5 with 100 extra ids (T5Tokenizer's default).
  TempDir dir;
  dir.link("spiece.model", shared_path("golden/models/t5/spiece.model"));
  auto bare = load_tokenizer(dir.path());
  auto* sp = dynamic_cast<const SentencePieceTokenizer*>(bare.get());
  ASSERT_NE(sp, nullptr);
  EXPECT_EQ(sp->flavor(), SentencePieceTokenizer::Flavor::kT5);
  EXPECT_EQ(sp->piece_count(), 147);
  EXPECT_EQ(bare->vocab_size(), 247);
  EXPECT_EQ(bare->token_to_id("<extra_id_0>"), 246);
  EXPECT_EQ(bare->token_to_id("<extra_id_99>"), 147);
  auto tok = load_tokenizer(shared_path("golden/models/t5"));
  Encoding pair = tok->encode_pair("a", "b</s>");
  EXPECT_EQ(pair.ids.back(), 1);
  EXPECT_EQ(std::count(pair.ids.begin(), pair.ids.end(), 1), 2);  // b already ends with </s>: not doubled
  EXPECT_EQ(pair.type_ids, std::vector<int>(pair.ids.size(), 0));
}

TEST(SentencePieceTokenizer, BadModelFilesAreErrors) {
  PTLAB_REQUIRE_SENTENCEPIECE();
  TempDir dir;
  std::string empty = dir.write("empty.model", "");
  std::string message = error_of([&] { load_tokenizer(empty); });
  EXPECT_TRUE(contains(message, "empty")) << message;
  std::string text = dir.write("bad.model", "this is not a protobuf");
  message = error_of([&] { load_tokenizer(text); });
  EXPECT_TRUE(contains(message, "cannot load the SentencePiece model")) << message;
  EXPECT_TRUE(contains(message, "bad.model")) << message;
}

}  // namespace
}  // namespace ptlab::text
