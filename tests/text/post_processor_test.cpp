#include "framework/text/post_processor.h"

#include "framework/core/error.h"
#include "framework/text/encoding.h"
#include "tests/text/text_test_support.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace ptlab::text {
namespace {

using json = nlohmann::json;

Encoding seq(std::vector<int> ids, bool offsets = false) {
  Encoding e;
  for (int id : ids) {
    e.ids.push_back(id);
    e.tokens.push_back("t" + std::to_string(id));
    if (offsets) e.offsets.emplace_back(id, id + 1);
  }
  return e;
}

TEST(PostProcessor, IdentityPairsWithTypeIds) {
  PostProcessor p;
  Encoding a = seq({5, 6}), b = seq({7});
  Encoding out = p.apply(a, &b);
  EXPECT_EQ(out.ids, (std::vector<int>{5, 6, 7}));
  EXPECT_EQ(out.type_ids, (std::vector<int>{0, 0, 1}));
  EXPECT_EQ(p.added_count(true), 0u);
}

TEST(PostProcessor, TemplateProcessingFromJson) {
  json j = json::parse(R"({"type": "TemplateProcessing",
    "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
               {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
    "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
             {"SpecialToken": {"id": "[SEP]", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}},
             {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
    "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [101], "tokens": ["[CLS]"]},
                       "[SEP]": {"id": "[SEP]", "ids": [102], "tokens": ["[SEP]"]}}})");
  PostProcessor p = PostProcessor::from_json(j, "tokenizer.json post_processor");
  Encoding a = seq({1, 2}, true), b = seq({3}, true);
  Encoding single = p.apply(a, nullptr);
  EXPECT_EQ(single.ids, (std::vector<int>{101, 1, 2, 102}));
  EXPECT_EQ(single.tokens.front(), "[CLS]");
  ASSERT_TRUE(single.has_offsets());
  EXPECT_EQ(single.offsets[0], (std::pair<std::size_t, std::size_t>{0, 0}));
  EXPECT_EQ(single.offsets[1], (std::pair<std::size_t, std::size_t>{1, 2}));
  Encoding pair = p.apply(a, &b);
  EXPECT_EQ(pair.ids, (std::vector<int>{101, 1, 2, 102, 3, 102}));
  EXPECT_EQ(pair.type_ids, (std::vector<int>{0, 0, 0, 0, 1, 1}));
  EXPECT_EQ(p.added_count(false), 2u);
  EXPECT_EQ(p.added_count(true), 3u);
}

TEST(PostProcessor, BertRobertaAndSequence) {
  PostProcessor bert = PostProcessor::from_json(
      json::parse(R"({"type": "BertProcessing", "sep": ["[SEP]", 102], "cls": ["[CLS]", 101]})"), "p");
  Encoding a = seq({1}), b = seq({2});
  EXPECT_EQ(bert.apply(a, &b).ids, (std::vector<int>{101, 1, 102, 2, 102}));
  PostProcessor roberta =
      PostProcessor::from_json(json::parse(R"({"type": "Sequence", "processors": [{"type": "ByteLevel"},
                     {"type": "RobertaProcessing", "sep": ["</s>", 2], "cls": ["<s>", 0]}]})"),
                               "p");
  EXPECT_EQ(roberta.apply(a, &b).ids, (std::vector<int>{0, 1, 2, 2, 2, 2}));
  EXPECT_EQ(PostProcessor::from_json(json::parse(R"({"type": "ByteLevel"})"), "p").apply(a, nullptr).ids,
            (std::vector<int>{1}));
}

TEST(PostProcessor, BadJsonIsAnError) {
  std::string message = testing::error_of([] {
    PostProcessor::from_json(json::parse(R"({"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>"}}],
                                             "pair": [], "special_tokens": {}})"),
                             "t.json post_processor");
  });
  EXPECT_NE(message.find("'<s>' is not defined"), std::string::npos) << message;
  message = testing::error_of(
      [] { PostProcessor::from_json(json::parse(R"({"type": "Whatever"})"), "t.json post_processor"); });
  EXPECT_NE(message.find("'Whatever' is not supported"), std::string::npos) << message;
  EXPECT_NE(message.find("TemplateProcessing"), std::string::npos) << message;
}

}  // namespace
}  // namespace ptlab::text
