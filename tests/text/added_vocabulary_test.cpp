#include "framework/text/added_vocabulary.h"

#include <gtest/gtest.h>

namespace ptlab::text {
namespace {

std::vector<std::string> pieces(const AddedVocabulary& v, std::string_view text,
                                AddedVocabulary::Match match = AddedVocabulary::Match::kAll) {
  std::vector<std::string> out;
  for (const auto& s : v.split(text, match))
    out.push_back((s.token ? "<" + std::to_string(s.token->id) + ">" : "") +
                  std::string(text.substr(s.begin, s.end - s.begin)));
  return out;
}

AddedToken token(std::string content, int id) {
  AddedToken t;
  t.content = std::move(content);
  t.id = id;
  t.special = true;
  return t;
}

TEST(AddedVocabulary, SplitsLeftmostLongest) {
  AddedVocabulary v;
  v.add(token("<s>", 1));
  v.add(token("</s>", 2));
  v.add(token("<s>x", 3));
  EXPECT_EQ(pieces(v, "a<s>xb</s><s>"), (std::vector<std::string>{"a", "<3><s>x", "b", "<2></s>", "<1><s>"}));
  EXPECT_EQ(pieces(v, "plain"), (std::vector<std::string>{"plain"}));
  EXPECT_TRUE(v.split("").empty());
  EXPECT_EQ(v.find("</s>")->id, 2);
  EXPECT_EQ(v.find(3)->content, "<s>x");
  EXPECT_EQ(v.find(9), nullptr);
  EXPECT_EQ(v.max_id(), 3);
}

TEST(AddedVocabulary, StripFlagsSwallowWhitespace) {
  AddedVocabulary v;
  AddedToken t = token("<extra_id_0>", 156);
  t.lstrip = t.rstrip = true;
  v.add(t);
  EXPECT_EQ(pieces(v, "Hello <extra_id_0>  world"), (std::vector<std::string>{"Hello", "<156><extra_id_0>", "world"}));
  EXPECT_EQ(pieces(v, " <extra_id_0> "), (std::vector<std::string>{"<156><extra_id_0>"}));
}

TEST(AddedVocabulary, SingleWordAndNormalizedFilter) {
  AddedVocabulary v;
  AddedToken word = token("cat", 7);
  word.single_word = true;
  v.add(word);
  EXPECT_EQ(pieces(v, "a cat, concat"), (std::vector<std::string>{"a ", "<7>cat", ", concat"}));
  AddedToken spaces = token("  ", 9);
  spaces.normalized = true;
  spaces.special = false;
  v.add(spaces);
  EXPECT_EQ(pieces(v, "x  y", AddedVocabulary::Match::kRawOnly), (std::vector<std::string>{"x  y"}));
  EXPECT_EQ(pieces(v, "x  y", AddedVocabulary::Match::kNormalizedOnly), (std::vector<std::string>{"x", "<9>  ", "y"}));
}

TEST(AddedVocabulary, SameContentReplaces) {
  AddedVocabulary v;
  v.add(token("[MASK]", 4));
  v.add(token("[MASK]", 103));
  EXPECT_EQ(v.size(), 1u);
  EXPECT_EQ(v.find("[MASK]")->id, 103);
  EXPECT_EQ(v.find(4), nullptr);
}

}  // namespace
}  // namespace ptlab::text
