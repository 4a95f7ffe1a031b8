#include "tasks/metrics.h"

#include "framework/core/error.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

namespace ptlab::tasks {
namespace {

using ::testing::HasSubstr;

// 3 classes; rows gold 0: [2,1,0], gold 1: [0,2,1], gold 2: [1,0,3].
const std::vector<int64_t> kGold = {0, 0, 0, 1, 1, 2, 2, 2, 2, 1};
const std::vector<int64_t> kPred = {0, 1, 0, 1, 2, 2, 2, 0, 2, 1};

template <class Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no ptlab::Error thrown";
  return "";
}

TEST(ConfusionMatrix, CountsAndHandComputedValues) {
  ConfusionMatrix m(3);
  for (std::size_t i = 0; i < kGold.size(); ++i) m.add(kGold[i], kPred[i]);
  EXPECT_EQ(m.count(0, 0), 2);
  EXPECT_EQ(m.count(0, 1), 1);
  EXPECT_EQ(m.count(1, 2), 1);
  EXPECT_EQ(m.count(2, 0), 1);
  EXPECT_EQ(m.count(2, 2), 3);
  EXPECT_EQ(m.total(), 10);
  EXPECT_EQ(m.correct(), 7);
  EXPECT_EQ(m.gold_counts(), std::vector<int64_t>({3, 3, 4}));
  EXPECT_EQ(m.predicted_counts(), std::vector<int64_t>({3, 3, 4}));
  EXPECT_DOUBLE_EQ(m.accuracy(), 0.7);
  // F1 per class: 4/6, 4/6, 6/8.
  EXPECT_NEAR(m.macro_f1(), (2.0 / 3 + 2.0 / 3 + 0.75) / 3, 1e-12);
  // Gorodkin: (7*10 - 34) / sqrt((100 - 34) * (100 - 34)) = 36 / 66.
  EXPECT_NEAR(m.mcc(), 36.0 / 66.0, 1e-12);
}

TEST(ConfusionMatrix, BinaryMccEqualsTheTextbookFormula) {
  ConfusionMatrix m(2);
  const std::vector<int64_t> gold = {1, 1, 1, 0, 0, 0, 0, 1}, pred = {1, 1, 0, 0, 0, 1, 0, 1};
  for (std::size_t i = 0; i < gold.size(); ++i) m.add(gold[i], pred[i]);
  // TP=3 TN=3 FP=1 FN=1: (9 - 1) / sqrt(4*4*4*4) = 0.5
  EXPECT_NEAR(m.mcc(), 0.5, 1e-12);
}

TEST(ConfusionMatrix, DegenerateAndNonePredictions) {
  ConfusionMatrix constant(2);
  for (int i = 0; i < 4; ++i) constant.add(i % 2, 1);
  EXPECT_EQ(constant.mcc(), 0.0);  // a constant prediction: undefined -> 0
  EXPECT_DOUBLE_EQ(constant.accuracy(), 0.5);
  // Class 0 predicted never, gold twice: F1_0 = 0, F1_1 = 2*2/(4+2) -> mean 1/3.
  EXPECT_NEAR(constant.macro_f1(), (0 + 4.0 / 6) / 2, 1e-12);

  ConfusionMatrix none(3);  // class 2 never occurs: averaged over classes 0 and 1 only
  none.add(0, 0);
  none.add(1, -1);  // a prediction naming no class
  none.add(1, 1);
  EXPECT_EQ(none.count(1, -1), 1);
  EXPECT_NEAR(none.accuracy(), 2.0 / 3, 1e-12);
  EXPECT_NEAR(none.macro_f1(), (1.0 + 2.0 / 3) / 2, 1e-12);  // F1_1: tp 1, fn 1
  EXPECT_THAT(error_of([&] { none.add(3, 0); }), HasSubstr("gold class 3 is outside [0, 3)"));
  EXPECT_THAT(error_of([&] { none.add(0, 7); }), HasSubstr("predicted class 7"));
}

TEST(Metrics, MergingTwoHalvesEqualsTheWhole) {
  const std::vector<std::string> names = {"accuracy", "macro_f1", "mcc", "confusion_matrix"};
  MetricSet whole(names, 3, {"neg", "neu", "pos"});
  whole.add_classes(kPred, kGold);

  MetricSet first(names, 3), second(names, 3), merged(names, 3, {"neg", "neu", "pos"});
  first.add_classes({kPred.begin(), kPred.begin() + 4}, {kGold.begin(), kGold.begin() + 4});
  second.add_classes({kPred.begin() + 4, kPred.end()}, {kGold.begin() + 4, kGold.end()});
  // What an all-reduce does: sum the two states element-wise, then merge into an empty set.
  std::vector<double> sum = first.state();
  const std::vector<double> s2 = second.state();
  ASSERT_EQ(sum.size(), s2.size());
  for (std::size_t i = 0; i < sum.size(); ++i) sum[i] += s2[i];
  merged.merge(sum);
  EXPECT_EQ(merged.state(), whole.state());
  EXPECT_EQ(merged.values(), whole.values());
  EXPECT_DOUBLE_EQ(merged.values().at("accuracy"), 0.7);
  EXPECT_EQ(merged.values().at("confusion_matrix/pos/neg"), 1.0);
  EXPECT_EQ(merged.values().at("confusion_matrix/neu/none"), 0.0);
  // The per-rank accuracies (3/4 and 4/6) averaged would give 0.7083, not 0.7.
  EXPECT_NE((first.values().at("accuracy") + second.values().at("accuracy")) / 2, 0.7);

  // Merging one state after another adds them too.
  MetricSet sequential(names, 3, {"neg", "neu", "pos"});
  sequential.merge(first.state());
  sequential.merge(second.state());
  EXPECT_EQ(sequential.values(), whole.values());
}

TEST(Metrics, TextMetricsMergeAndTakeTheBestGold) {
  auto em = make_metric("exact_match", 0), f1 = make_metric("token_f1", 0);
  const std::vector<std::string> pred = {"The Eiffel Tower!", "in Paris, France", "北京市"};
  const std::vector<std::vector<std::string>> gold = {{"eiffel tower"}, {"London", "Paris"}, {"北京"}};
  em->add_texts(pred, gold);
  f1->add_texts(pred, gold);
  EXPECT_NEAR(em->values().at("exact_match"), 1.0 / 3, 1e-12);
  EXPECT_NEAR(f1->values().at("token_f1"), (1.0 + 0.5 + 0.8) / 3, 1e-12);
  auto half = make_metric("token_f1", 0), rest = make_metric("token_f1", 0);
  half->add_texts({pred[0]}, {gold[0]});
  rest->add_texts({pred[1], pred[2]}, {gold[1], gold[2]});
  half->merge(rest->state());
  EXPECT_EQ(half->values(), f1->values());
}

TEST(Metrics, TokenAccuracyAndPerplexity) {
  MetricSet set({"token_accuracy", "perplexity"}, 0);
  set.add_tags({1, 2, 3, 4}, {1, -100, 3, 5});
  set.add_token_loss(2 * std::log(4.0), 2);
  set.add_classes({1}, {1});  // no class metric in the set: ignored
  EXPECT_NEAR(set.values().at("token_accuracy"), 2.0 / 3, 1e-12);
  EXPECT_NEAR(set.values().at("perplexity"), 4.0, 1e-12);
  EXPECT_EQ(set.state(), std::vector<double>({2, 3, 2 * std::log(4.0), 2}));
  set.reset();
  EXPECT_EQ(set.state(), std::vector<double>({0, 0, 0, 0}));
}

TEST(Metrics, Errors) {
  std::string unknown = error_of([] { make_metric("acuracy", 2, {}, "task.metric (sst2.yaml)"); });
  EXPECT_THAT(unknown, HasSubstr("task.metric (sst2.yaml): unknown metric 'acuracy'"));
  EXPECT_THAT(unknown, HasSubstr("did you mean accuracy"));
  EXPECT_THAT(unknown, HasSubstr("known metrics: accuracy, macro_f1, mcc, confusion_matrix, exact_match"));
  EXPECT_THAT(error_of([] { make_metric("mcc", 0); }), HasSubstr("metric mcc needs the task's classes"));
  auto acc = make_metric("accuracy", 2);
  EXPECT_THAT(error_of([&] { acc->merge({1, 2, 3}); }), HasSubstr("cannot merge a state of 3 values into one of 6"));
  EXPECT_THAT(error_of([&] { acc->add_classes({0, 1}, {0}); }), HasSubstr("2 predictions for 1 gold labels"));
  EXPECT_THAT(error_of([] { MetricSet({"accuracy", "accuracy"}, 2); }), HasSubstr("listed twice"));
  MetricSet set({"accuracy"}, 2);
  EXPECT_THAT(error_of([&] { set.merge({1}); }), HasSubstr("cannot merge a metric state of 1 values into one of 6"));
  EXPECT_EQ(metric_input("token_f1"), MetricInput::kTexts);
}

}  // namespace
}  // namespace ptlab::tasks
