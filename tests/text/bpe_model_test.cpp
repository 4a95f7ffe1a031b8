#include "framework/text/bpe_model.h"

#include "framework/core/error.h"
#include "framework/text/byte_level.h"
#include "tests/text/text_test_support.h"

#include <gtest/gtest.h>

#include <chrono>

namespace ptlab::text {
namespace {

using testing::error_of;

// All 256 byte tokens (ids 0..255) plus the given extra tokens.
std::unordered_map<std::string, int> byte_vocab(const std::vector<std::string>& extra) {
  std::unordered_map<std::string, int> v;
  for (int b = 0; b < 256; ++b) v[ByteLevelAlphabet::get().utf8(static_cast<unsigned char>(b))] = b;
  for (const auto& t : extra) v[t] = static_cast<int>(v.size());
  return v;
}

auto describe = [](std::size_t i) { return "merge " + std::to_string(i); };

TEST(BpeModel, MergesByRank) {
  // "ab" ranks before "bc", so "abc" -> "ab" + "c" -> "abc".
  BpeModel m(byte_vocab({"ab", "bc", "abc"}), {{"a", "b"}, {"b", "c"}, {"ab", "c"}}, describe, "test", {});
  std::vector<int> ids;
  m.encode("abc", ids);
  EXPECT_EQ(ids, (std::vector<int>{m.token_to_id("abc")}));
  ids.clear();
  m.encode("bca", ids);
  EXPECT_EQ(ids, (std::vector<int>{m.token_to_id("bc"), 'a'}));
  // With "bc" first, "abc" becomes "a" + "bc" and "ab c" never applies.
  BpeModel m2(byte_vocab({"bc", "ab", "abc"}), {{"b", "c"}, {"a", "b"}, {"ab", "c"}}, describe, "test", {});
  ids.clear();
  m2.encode("abc", ids);
  EXPECT_EQ(ids, (std::vector<int>{'a', m2.token_to_id("bc")}));
  EXPECT_EQ(m.merge_count(), 3u);
  EXPECT_EQ(*m.id_to_token(m.token_to_id("ab")), "ab");
}

TEST(BpeModel, SpaceIsTheByteLevelG) {
  BpeModel m(byte_vocab({"\xC4\xA0"
                         "a"}),
             {{"\xC4\xA0", "a"}}, describe, "test", {});
  std::vector<int> ids;
  m.encode(" a", ids);
  EXPECT_EQ(ids, (std::vector<int>{256}));
}

TEST(BpeModel, CachesPreTokens) {
  BpeModel m(byte_vocab({"ab"}), {{"a", "b"}}, describe, "test", {});
  std::vector<int> ids;
  m.encode("abab", ids);
  m.encode("abab", ids);
  m.encode("ab", ids);
  EXPECT_EQ(m.cache_size(), 2u);
  EXPECT_EQ(ids, (std::vector<int>{256, 256, 256, 256, 256}));
}

TEST(BpeModel, IgnoreMergesTakesWholeVocabularyWords) {
  // "abc" is in the vocabulary but no merge builds it.
  BpeModel::Options o;
  o.ignore_merges = true;
  BpeModel m(byte_vocab({"ab", "abc"}), {{"a", "b"}}, describe, "test", o);
  std::vector<int> ids;
  m.encode("abc", ids);
  EXPECT_EQ(ids, (std::vector<int>{257}));
}

TEST(BpeModel, LongWordsAreFast) {
  // 20,000 'a's with merges a a -> aa -> aaaa: 5,000 tokens; quadratic merging would take seconds.
  BpeModel m(byte_vocab({"aa", "aaaa"}), {{"a", "a"}, {"aa", "aa"}}, describe, "test", {});
  std::vector<int> ids;
  auto t0 = std::chrono::steady_clock::now();
  m.encode(std::string(20000, 'a'), ids);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 0.5);
  EXPECT_EQ(ids.size(), 5000u);
  EXPECT_EQ(ids.front(), m.token_to_id("aaaa"));
}

TEST(BpeModel, BadInputsAreErrors) {
  std::string message = error_of([] { BpeModel({}, {}, describe, "vocab.json", {}); });
  EXPECT_NE(message.find("empty vocabulary in vocab.json"), std::string::npos) << message;

  message = error_of([] { BpeModel(byte_vocab({"ab"}), {{"a", "b"}, {"ab", "zz"}}, describe, "vocab.json", {}); });
  EXPECT_NE(message.find("merge 1"), std::string::npos) << message;
  EXPECT_NE(message.find("'zz'"), std::string::npos) << message;
  EXPECT_NE(message.find("not in the vocabulary vocab.json"), std::string::npos) << message;

  // The merged token itself must exist too.
  message = error_of([] { BpeModel(byte_vocab({}), {{"a", "b"}}, describe, "vocab.json", {}); });
  EXPECT_NE(message.find("'ab'"), std::string::npos) << message;

  // A byte without a token is an error unless there is an unknown token.
  std::unordered_map<std::string, int> ascii = {{"a", 0}, {"b", 1}};
  BpeModel small(ascii, {}, describe, "vocab.json", {});
  std::vector<int> ids;
  message = error_of([&] { small.encode("ac", ids); });
  EXPECT_NE(message.find("byte 0x63"), std::string::npos) << message;
  BpeModel::Options o;
  o.unk_id = 1;
  BpeModel with_unk(ascii, {}, describe, "vocab.json", o);
  ids.clear();
  with_unk.encode("ac", ids);
  EXPECT_EQ(ids, (std::vector<int>{0, 1}));
}

}  // namespace
}  // namespace ptlab::text
