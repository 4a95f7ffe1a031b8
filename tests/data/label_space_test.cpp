#include "framework/data/label_space.h"

#include "tests/data/data_test_support.h"

#include <gtest/gtest.h>

namespace ptlab::data {
namespace {
using testing::error_of;
using testing::row_error_of;

Example with_label(const std::string& label) {
  Example e;
  e.label = label;
  e.source = Provenance{"train.tsv", 7, ""};
  return e;
}

TEST(LabelSpace, MapGivesNamesAndIds) {
  const LabelSpace s({{"0", "negative"}, {"1", "positive"}}, {}, "task.data");
  EXPECT_EQ(s.names(), (std::vector<std::string>{"negative", "positive"}));
  Example e = with_label("1");
  s.apply(e);
  EXPECT_EQ(e.label, "1");
  EXPECT_EQ(e.label_name, "positive");
  EXPECT_EQ(e.label_id, 1);
}

TEST(LabelSpace, UnknownValueNamesRowAndKnownLabels) {
  const LabelSpace s({{"0", "negative"}, {"1", "positive"}}, {}, "task.data (configs/task/sst2.yaml)");
  Example e = with_label("2");
  const std::string msg = row_error_of([&] { s.apply(e); });
  EXPECT_CONTAINS(msg, "train.tsv:7: label '2' is not in label_map (task.data (configs/task/sst2.yaml)); known labels: 0, 1");
}

TEST(LabelSpace, LabelsOrderIdsAndManyValuesPerClass) {
  const LabelSpace s({{"1", "World"}, {"World", "World"}, {"2", "Sports"}}, {"Sports", "World"}, "d");
  Example a = with_label("World"), b = with_label("1"), c = with_label("2");
  s.apply(a);
  s.apply(b);
  s.apply(c);
  EXPECT_EQ(a.label_id, 1);
  EXPECT_EQ(b.label_id, 1);
  EXPECT_EQ(c.label_id, 0);
}

TEST(LabelSpace, LabelsOnlyAndNeither) {
  const LabelSpace s({}, {"entailment", "not_entailment"}, "d");
  Example e = with_label("not_entailment");
  s.apply(e);
  EXPECT_EQ(e.label_id, 1);
  Example bad = with_label("neutral");
  EXPECT_CONTAINS(row_error_of([&] { s.apply(bad); }), "label 'neutral' is not one of labels (d): entailment, not_entailment");
  const LabelSpace none;
  Example f = with_label("x");
  none.apply(f);
  EXPECT_EQ(f.label_name, "x");
  EXPECT_EQ(f.label_id, -1);
  Example unlabeled = with_label("");
  s.apply(unlabeled);
  EXPECT_FALSE(unlabeled.has_label());
}

TEST(LabelSpace, ConfigErrors) {
  EXPECT_CONTAINS(error_of([] { LabelSpace({{"0", "neg"}}, {"negative", "positive"}, "task.data"); }),
                  "task.data: label_map maps '0' to 'neg', which is not one of labels: negative, positive");
  EXPECT_CONTAINS(error_of([] { LabelSpace({}, {"a", "a"}, "task.data"); }), "label 'a' is listed twice");
  EXPECT_CONTAINS(error_of([] { LabelSpace({{"0", "a"}, {"0", "b"}}, {}, "task.data"); }), "label_map lists '0' twice");
}

}  // namespace
}  // namespace ptlab::data
