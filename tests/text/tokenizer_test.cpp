#include "framework/text/tokenizer.h"

#include "framework/core/error.h"
#include "framework/text/sentencepiece_library.h"
#include "tests/text/text_test_support.h"

#include <gtest/gtest.h>

#include <thread>

namespace ptlab::text {
namespace {

using testing::error_of;
using testing::shared_path;
using testing::TempDir;

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST(Tokenizer, CleanUpTokenizationMatchesTransformers) {
  EXPECT_EQ(clean_up_tokenization("it 's a test . do n't , ok ? yes ! i 'm we 've they 're"),
            "it's a test. don't, ok? yes! i'm we've they're");
  EXPECT_EQ(clean_up_tokenization("a ' b"), "a'b");
  EXPECT_EQ(clean_up_tokenization("do not"), "do not");  // only the Rust WordPiece decoder rewrites this
}

TEST(Tokenizer, LoadPicksTheKindFromTheDirectory) {
  PTLAB_REQUIRE_SHARED("golden/models");
  struct Case {
    const char* path;
    const char* kind;
    int vocab_size;
  } cases[] = {
      {"models/tokenizers/gpt2", "byte_level_bpe", 50257},
      {"models/tokenizers/gpt-neox-pythia", "byte_level_bpe", 50277},
      {"models/tokenizers/bert-base-uncased", "wordpiece", 30522},
      {"models/tokenizers/llama2-32k", "sentencepiece", 32000},
      {"models/stories260K", "sentencepiece", 512},
      {"golden/models/gpt2", "byte_level_bpe", 512},
      {"golden/models/gpt_neox", "byte_level_bpe", 512},
      {"golden/models/bert", "wordpiece", 512},
      {"golden/models/llama", "sentencepiece", 512},
      {"golden/models/t5", "sentencepiece", 157},
  };
  for (const auto& c : cases) {
    if (std::string(c.kind) == "sentencepiece" && !sentencepiece_supported()) continue;
    auto tok = load_tokenizer(shared_path(c.path));
    EXPECT_EQ(tok->kind(), c.kind) << c.path;
    EXPECT_EQ(tok->vocab_size(), c.vocab_size) << c.path;
    EXPECT_EQ(tok->source(), shared_path(c.path));
  }
}

TEST(Tokenizer, LoadSingleFiles) {
  PTLAB_REQUIRE_SENTENCEPIECE();
  PTLAB_REQUIRE_SHARED("models/tokenizers");
  EXPECT_EQ(load_tokenizer(shared_path("models/tokenizers/bert-base-uncased/vocab.txt"))->kind(), "wordpiece");
  EXPECT_EQ(load_tokenizer(shared_path("models/tokenizers/gpt2/merges.txt"))->kind(), "byte_level_bpe");
  EXPECT_EQ(load_tokenizer(shared_path("models/tokenizers/gpt-neox-pythia/tokenizer.json"))->kind(), "byte_level_bpe");
  EXPECT_EQ(load_tokenizer(shared_path("golden/models/t5/spiece.model"))->kind(), "sentencepiece");
}

TEST(Tokenizer, SpecialIdsOfEachKit) {
  PTLAB_REQUIRE_SHARED("golden/models");
  auto bert = load_tokenizer(shared_path("models/tokenizers/bert-base-uncased"));
  EXPECT_EQ(bert->cls_id(), 101);
  EXPECT_EQ(bert->sep_id(), 102);
  EXPECT_EQ(bert->pad_id(), 0);
  EXPECT_EQ(bert->unk_id(), 100);
  EXPECT_EQ(bert->mask_id(), 103);
  EXPECT_EQ(bert->bos_id(), -1);
  EXPECT_TRUE(bert->is_special(101));
  EXPECT_FALSE(bert->is_special(7592));
  auto gpt2 = load_tokenizer(shared_path("models/tokenizers/gpt2"));
  EXPECT_EQ(gpt2->bos_id(), 50256);
  EXPECT_EQ(gpt2->eos_id(), 50256);
  EXPECT_EQ(gpt2->pad_id(), -1);
  auto pythia = load_tokenizer(shared_path("models/tokenizers/gpt-neox-pythia"));
  EXPECT_EQ(pythia->eos_id(), 0);
  EXPECT_TRUE(pythia->is_special(1));       // <|padding|>
  EXPECT_FALSE(pythia->is_special(50276));  // a run of spaces is an added token but not special
  PTLAB_REQUIRE_SENTENCEPIECE();
  auto llama = load_tokenizer(shared_path("golden/models/llama"));
  EXPECT_EQ(llama->bos_id(), 1);
  EXPECT_EQ(llama->eos_id(), 2);
  EXPECT_EQ(llama->unk_id(), 0);
  EXPECT_EQ(llama->pad_id(), -1);  // "pad_token": null
  auto t5 = load_tokenizer(shared_path("golden/models/t5"));
  EXPECT_EQ(t5->eos_id(), 1);
  EXPECT_EQ(t5->pad_id(), 0);
  EXPECT_EQ(t5->unk_id(), 2);
  EXPECT_EQ(t5->bos_id(), -1);
  EXPECT_EQ(t5->token_to_id("<extra_id_0>"), 156);
  EXPECT_EQ(t5->id_to_token(147), "<extra_id_9>");
}

TEST(Tokenizer, TokenIdRoundTripAndRangeErrors) {
  PTLAB_REQUIRE_SENTENCEPIECE();
  PTLAB_REQUIRE_SHARED("models/tokenizers");
  for (const char* path :
       {"models/tokenizers/gpt2", "models/tokenizers/bert-base-uncased", "models/tokenizers/llama2-32k"}) {
    auto tok = load_tokenizer(shared_path(path));
    for (int id : {0, 5, 1000, tok->vocab_size() - 1}) EXPECT_EQ(tok->token_to_id(tok->id_to_token(id)), id) << path;
    EXPECT_EQ(tok->token_to_id("no such token \xE2\x9C\x97"), -1) << path;
    std::string message = error_of([&] { tok->id_to_token(tok->vocab_size()); });
    EXPECT_TRUE(contains(message, "is not in the vocabulary")) << message;
    message = error_of([&] { tok->decode({1, -3}); });
    EXPECT_TRUE(contains(message, "token id -3")) << message;
  }
}

TEST(Tokenizer, InvalidUtf8IsAnErrorWithTheByteOffset) {
  PTLAB_REQUIRE_SENTENCEPIECE();
  PTLAB_REQUIRE_SHARED("models/tokenizers");
  for (const char* path :
       {"models/tokenizers/gpt2", "models/tokenizers/bert-base-uncased", "models/tokenizers/llama2-32k"}) {
    auto tok = load_tokenizer(shared_path(path));
    std::string message = error_of([&] { tok->encode("ok \xC3(", true); });
    EXPECT_TRUE(contains(message, "invalid UTF-8 in the text to encode at byte offset 3")) << path << ": " << message;
    message = error_of([&] { tok->encode_pair("fine", "bad\xFF"); });
    EXPECT_TRUE(contains(message, "second text of the pair at byte offset 3")) << message;
  }
}

TEST(Tokenizer, PairsWithoutSpecialTokensConcatenate) {
  PTLAB_REQUIRE_SHARED("models/tokenizers/bert-base-uncased");
  auto tok = load_tokenizer(shared_path("models/tokenizers/bert-base-uncased"));
  Encoding e = tok->encode_pair("hello", "world", false);
  EXPECT_EQ(e.ids, (std::vector<int>{7592, 2088}));
  EXPECT_EQ(e.type_ids, (std::vector<int>{0, 1}));
  EXPECT_EQ(tok->encode("hello world", false).type_ids, (std::vector<int>{0, 0}));
}

TEST(Tokenizer, EncodingIsThreadSafe) {
  // One tokenizer shared by four threads (BPE cache, regex match data and WordPiece buffers are the
  // shared or per-thread state) gives the same ids as one thread.
  PTLAB_REQUIRE_SHARED("golden/tokenizers/gpt2.jsonl");
  for (const char* path : {"models/tokenizers/gpt2", "models/tokenizers/bert-base-uncased"}) {
    auto tok = load_tokenizer(shared_path(path));
    std::vector<std::string> texts;
    for (const auto& line : testing::read_golden("gpt2")) texts.push_back(line["text"]);
    std::vector<std::vector<int>> expected;
    for (const auto& t : texts) expected.push_back(tok->encode(t).ids);
    tok = load_tokenizer(shared_path(path));  // fresh cache
    std::vector<int> mismatches(4, 0);
    std::vector<std::thread> threads;
    for (int k = 0; k < 4; ++k)
      threads.emplace_back([&, k] {
        for (std::size_t i = 0; i < texts.size(); ++i) {
          std::size_t j = (i * 7 + k * 101) % texts.size();  // a different order in each thread
          if (tok->encode(texts[j]).ids != expected[j]) ++mismatches[k];
        }
      });
    for (auto& t : threads) t.join();
    EXPECT_EQ(mismatches, std::vector<int>(4, 0)) << path;
  }
}

TEST(Tokenizer, MissingAndUnknownLayoutsAreErrors) {
  std::string message = error_of([] { load_tokenizer("/no/such/dir"); });
  EXPECT_TRUE(contains(message, "/no/such/dir does not exist")) << message;
  message = error_of([] { load_tokenizer(""); });
  EXPECT_TRUE(contains(message, "empty tokenizer path")) << message;

  TempDir dir;
  message = error_of([&] { load_tokenizer(dir.path()); });
  for (const char* looked_for :
       {"tokenizer.json", "vocab.json + merges.txt", "vocab.txt", "tokenizer.model", "spiece.model"})
    EXPECT_TRUE(contains(message, looked_for)) << message;

  dir.write("vocab.json", "{\"a\": 0}");
  message = error_of([&] { load_tokenizer(dir.path()); });
  EXPECT_TRUE(contains(message, "merges.txt is missing")) << message;
  message = error_of([&] { load_tokenizer(dir.path() + "/vocab.json"); });
  EXPECT_TRUE(contains(message, "merges.txt")) << message;

  std::string other = dir.write("weights.bin", "x");
  message = error_of([&] { load_tokenizer(other); });
  EXPECT_TRUE(contains(message, "not a tokenizer file")) << message;
}

TEST(Tokenizer, UnsupportedTokenizerJsonSaysWhatIsSupported) {
  TempDir dir;
  dir.write("tokenizer.json", R"({"model": {"type": "Unigram", "vocab": [["<unk>", 0.0]]}})");
  std::string message = error_of([&] { load_tokenizer(dir.path()); });
  EXPECT_TRUE(contains(message, "model type is 'Unigram'")) << message;
  EXPECT_TRUE(contains(message, "byte-level BPE")) << message;
  EXPECT_TRUE(contains(message, "WordPiece")) << message;

  // SentencePiece-style BPE (Llama 2's tokenizer.json) points to the .model file.
  dir.write("tokenizer.json", R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [], "byte_fallback": true},
                                  "pre_tokenizer": null, "decoder": {"type": "Sequence", "decoders": [{"type": "ByteFallback"}]}})");
  message = error_of([&] { load_tokenizer(dir.path() + "/tokenizer.json"); });
  EXPECT_TRUE(contains(message, "without a ByteLevel")) << message;
  EXPECT_TRUE(contains(message, "tokenizer.model")) << message;

  dir.write("tokenizer.json", "not json");
  message = error_of([&] { load_tokenizer(dir.path()); });
  EXPECT_TRUE(contains(message, "is not valid JSON")) << message;
}

TEST(Tokenizer, UnsupportedTokenizerJsonFallsBackToTheModelFile) {
  PTLAB_REQUIRE_SENTENCEPIECE();
  PTLAB_REQUIRE_SHARED("models/tokenizers/llama2-32k/tokenizer.model");
  TempDir dir;
  dir.write("tokenizer.json", R"({"model": {"type": "Unigram", "vocab": []}})");
  dir.link("tokenizer.model", shared_path("models/tokenizers/llama2-32k/tokenizer.model"));
  auto tok = load_tokenizer(dir.path());
  EXPECT_EQ(tok->kind(), "sentencepiece");
  EXPECT_EQ(tok->encode("Hello world").ids, (std::vector<int>{1, 15043, 3186}));
}

}  // namespace
}  // namespace ptlab::text
