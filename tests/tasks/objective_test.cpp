// tasks::Objective on token classification: the per-token head's loss against a hand computation (positions
// labelled -100 left out), eval/loss and the tag metrics (token_accuracy, macro_f1 over tags), and the
// errors for methods without a head or with a head of the wrong size.
#include "tasks/objective.h"

#include "tasks/builtin_tasks.h"
#include "tests/tasks/tasks_test_support.h"

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cmath>

namespace ptlab::tasks {
namespace {

using testing::encoder_only;
using testing::error_of;
using ::testing::HasSubstr;

std::unique_ptr<Task> token_task(const text::Tokenizer& tokenizer, const std::vector<std::string>& tags) {
  static config::Origins origins;
  YAML::Node node = YAML::Load("{type: token_classification, metric: [token_accuracy, macro_f1, accuracy]}");
  origins.set_subtree("task", node, "configs/task/test.yaml");
  auto task =
      make_task(TaskConfig::decode(config::Reader(node, "task", origins), origins, "test"), tokenizer, encoder_only());
  data::Example ex;
  ex.tokens = tags;  // any words: only the tag set is learned here
  ex.tags = tags;
  task->learn_labels({ex});
  return task;
}

// 2 rows x 3 positions, hidden size 2, 3 tags; -100 at the padding / sub-token positions.
struct Fixture {
  at::Tensor hidden = at::tensor({0.5, -1.0, 2.0, 0.25, -0.75, 1.5,  //
                                  1.0, 1.0, -2.0, 0.5, 0.0, 3.0},
                                 at::kFloat)
                          .view({2, 3, 2});                                                   // [B, T, d]
  at::Tensor labels = at::tensor({2, -100, 0, 1, 1, -100}, at::kLong).view({2, 3});           // [B, T]
  at::Tensor weight = at::tensor({0.3, -0.2, -0.1, 0.4, 0.2, 0.1}, at::kFloat).view({3, 2});  // [C, d]
  at::Tensor bias = at::tensor({0.05, -0.05, 0.1}, at::kFloat);                               // [C]
};

// The scores of one position, computed by hand: s_c = sum_j w[c][j] h[j] + b[c].
std::vector<double> hand_scores(const Fixture& f, int64_t b, int64_t t) {
  std::vector<double> s(3);
  for (int64_t c = 0; c < 3; ++c) {
    s[c] = f.bias[c].item<double>();
    for (int64_t j = 0; j < 2; ++j) s[c] += f.weight[c][j].item<double>() * f.hidden[b][t][j].item<double>();
  }
  return s;
}

TEST(TokenClassificationObjective, LossIsTheMeanCrossEntropyOverLabelledTokens) {
  PTLAB_SHARED_TOKENIZER(bert, testing::kBert);
  auto task = token_task(bert, {"a", "b", "c"});
  Fixture f;
  LinearHead head(2, 3, /*dropout=*/0.0);
  {
    at::NoGradGuard no_grad;
    head->weight().copy_(f.weight);
    head->bias().copy_(f.bias);
  }
  const Objective objective(*task, encoder_only(), head.get());
  EXPECT_FALSE(objective.is_classification());
  Batch batch;
  batch.token_labels = f.labels;
  models::BackboneInput input;
  objective.request(batch, input);
  EXPECT_EQ(input.logits.mode, models::LogitsRequest::Mode::kNone);  // the head reads hidden states only
  models::BackboneOutput output;
  output.last_hidden_state = f.hidden;

  // By hand: -log softmax(s)[gold], averaged over the 4 labelled positions; argmax for the metrics.
  double nll = 0;
  int64_t counted = 0, correct = 0;
  std::vector<int64_t> predicted_at;
  for (int64_t b = 0; b < 2; ++b) {
    for (int64_t t = 0; t < 3; ++t) {
      const int64_t gold = f.labels[b][t].item<int64_t>();
      if (gold == -100) continue;
      const std::vector<double> s = hand_scores(f, b, t);
      const double norm = std::log(std::exp(s[0]) + std::exp(s[1]) + std::exp(s[2]));
      nll += norm - s[static_cast<std::size_t>(gold)];
      const int64_t argmax = std::max_element(s.begin(), s.end()) - s.begin();
      predicted_at.push_back(argmax);
      correct += argmax == gold;
      ++counted;
    }
  }
  ASSERT_EQ(counted, 4);
  const at::Tensor loss = objective.loss(output, batch);
  EXPECT_NEAR(loss.item<double>(), nll / counted, 1e-6);

  MetricSet metrics = task->make_metrics();
  const auto [sum, count] = objective.score(output, batch, metrics);
  EXPECT_EQ(count, 4);
  EXPECT_NEAR(sum, nll, 1e-5);
  const auto values = metrics.values();
  EXPECT_DOUBLE_EQ(values.at("token_accuracy"), static_cast<double>(correct) / counted);
  EXPECT_DOUBLE_EQ(values.at("accuracy"), values.at("token_accuracy"));  // class metrics count labelled tokens
  // macro_f1 over the tags, from the same labelled predictions.
  ConfusionMatrix matrix(3);
  std::size_t k = 0;
  for (int64_t gold : {2, 0, 1, 1}) matrix.add(gold, predicted_at[k++]);
  EXPECT_DOUBLE_EQ(values.at("macro_f1"), matrix.macro_f1());
  EXPECT_LT(values.at("macro_f1"), 1.0);  // the fixture has mistakes: the test would see a wrong F1

  // Changing a -100 position's hidden state changes nothing; changing a labelled one does.
  output.last_hidden_state = f.hidden.clone();
  output.last_hidden_state[0][1].fill_(9.0);
  EXPECT_NEAR(objective.loss(output, batch).item<double>(), nll / counted, 1e-6);
  output.last_hidden_state[0][0].fill_(9.0);
  EXPECT_GT(std::abs(objective.loss(output, batch).item<double>() - nll / counted), 1e-3);
}

// Mixed-task classification: task_classes gives each row's task its own classes; the others get -inf, so
// the loss is the cross-entropy over the row's task's classes only and predictions stay inside them.
TEST(ClassificationObjective, TaskClassesRestrictEachRowToItsTasksClasses) {
  PTLAB_SHARED_TOKENIZER(bert, testing::kBert);
  static config::Origins origins;
  YAML::Node node = YAML::Load(
      "{type: classification, template: '{cls} {text_a} {sep}', task_names: [two, one], "
      "task_classes: {two: [x, y], one: [z]}, verbalizer: {mode: linear_head, pooling: pooler, "
      "label_words: {x: a, y: b, z: c}}}");
  origins.set_subtree("task", node, "configs/task/test.yaml");
  auto task =
      make_task(TaskConfig::decode(config::Reader(node, "task", origins), origins, "test"), bert, encoder_only());
  ASSERT_EQ(task->task_class_mask().size(), 2u);
  LinearHead head(2, 3, /*dropout=*/0.0);
  const at::Tensor weight = at::tensor({1.0, 0.0, 0.0, 1.0, 2.0, 2.0}, at::kFloat).view({3, 2});  // [C, d]
  {
    at::NoGradGuard no_grad;
    head->weight().copy_(weight);
    head->bias().zero_();
  }
  const Objective objective(*task, encoder_only(), head.get());
  Batch batch;
  batch.labels = at::tensor({1, 2, 0}, at::kLong);    // y (task two), z (task one), x (task two)
  batch.task_ids = at::tensor({0, 1, 0}, at::kLong);
  models::BackboneOutput output;
  output.pooled = at::tensor({0.5, 1.0, 3.0, -1.0, 2.0, 0.5}, at::kFloat).view({3, 2});  // scores: [x, y, z] = h @ W^T
  // By hand. Row 0 (task two: x, y): scores 0.5, 1.0 -> -log softmax at y. Row 1 (task one: z only): 0.
  // Row 2 (task two): scores 2.0, 0.5 -> -log softmax at x.
  auto nll = [](double gold, double other) { return std::log(std::exp(gold) + std::exp(other)) - gold; };
  const double expected = (nll(1.0, 0.5) + 0.0 + nll(2.0, 0.5)) / 3.0;
  EXPECT_NEAR(objective.loss(output, batch).item<double>(), expected, 1e-6);
  // Unrestricted, row 0 would predict z (score 3.0) and row 2 z (5.0): the mask keeps them to x / y.
  EXPECT_TRUE(at::equal(objective.predict(output, batch), at::tensor({1, 2, 0}, at::kLong)));
  batch.task_ids = at::Tensor();
  EXPECT_THAT(error_of([&] { objective.loss(output, batch); }),
              HasSubstr("task test: task.task_classes needs a task id on every example"));

  YAML::Node bad = YAML::Load("{task_names: [two], task_classes: {tow: [x]}}");
  origins.set_subtree("task", bad, "configs/task/test.yaml");
  EXPECT_THAT(error_of([&] { TaskConfig::decode(config::Reader(bad, "task", origins), origins, "test"); }),
              HasSubstr("task.task_classes.tow (from configs/task/test.yaml): 'tow' is not in task.task_names (two)"));
  YAML::Node unknown = YAML::Load(
      "{type: classification, template: '{text_a} {mask}', task_names: [two], task_classes: {two: [w]}, "
      "verbalizer: {label_words: {x: a, y: b}}}");
  origins.set_subtree("task", unknown, "configs/task/test.yaml");
  EXPECT_THAT(error_of([&] {
                make_task(TaskConfig::decode(config::Reader(unknown, "task", origins), origins, "test"), bert,
                          encoder_only());
              }),
              HasSubstr("task.task_classes.two lists 'w' (did you mean x or y?), which is not a class of the verbalizer; "
                        "classes: x, y"));
}

TEST(TokenClassificationObjective, NeedsAHeadOfTheTagSetsSize) {
  PTLAB_SHARED_TOKENIZER(bert, testing::kBert);
  auto task = token_task(bert, {"a", "b", "c"});
  const std::string none = error_of([&] { (void)Objective(*task, encoder_only(), nullptr); });
  EXPECT_THAT(none, HasSubstr("use method=linear_head or method=p_tuning_v2"));
  EXPECT_EQ(none.find('\n'), std::string::npos);
  LinearHead wrong(2, 5);
  EXPECT_THAT(error_of([&] { (void)Objective(*task, encoder_only(), wrong.get()); }),
              HasSubstr("the method's head predicts 5 tags but the task has 3"));
}

}  // namespace
}  // namespace ptlab::tasks

namespace ptlab::tasks {
namespace {

// Soft targets (PET's distillation): an example's meta soft_labels become RenderedExample::soft_labels, and a
// batch with them is trained with -sum_c q_c log softmax(scores)_c, its labels ignored. By hand, with the scores
// z = [[0, ln 3], [0, 0]] (identity head on the pooled states) and q = [[0.3775407, 0.6224593], [0.5621765,
// 0.4378235]]: log softmax(z) = [[ln 1/4, ln 3/4], [ln 1/2, ln 1/2]]; row 0: 0.3775407 * 1.3862944 + 0.6224593 *
// 0.2876821 = 0.7024529; row 1: ln 2 = 0.6931472; the mean 0.6978000.
TEST(ClassificationObjective, SoftLabelsTrainWithTheSoftLabelLoss) {
  PTLAB_SHARED_TOKENIZER(bert, testing::kBert);
  static config::Origins origins;
  YAML::Node node = YAML::Load(
      "{type: classification, template: '{cls} {text_a} {sep}', verbalizer: {mode: linear_head, pooling: pooler, "
      "label_words: {x: a, y: b}}}");
  origins.set_subtree("task", node, "configs/task/test.yaml");
  auto task =
      make_task(TaskConfig::decode(config::Reader(node, "task", origins), origins, "test"), bert, encoder_only());
  data::Example example;
  example.text_a = "a b";
  example.meta["soft_labels"] = "0.25 0.75";
  const RenderedExample rendered = task->encode(example, Purpose::kTrain);
  EXPECT_EQ(rendered.soft_labels, (std::vector<float>{0.25f, 0.75f}));
  EXPECT_EQ(rendered.label, -1);
  example.meta["soft_labels"] = "0.25";
  EXPECT_THAT(error_of([&] { task->encode(example, Purpose::kTrain); }),
              HasSubstr("has soft_labels '0.25'; expected 2 numbers (one per class: x, y)"));

  LinearHead head(2, 2, /*dropout=*/0.0);
  {
    at::NoGradGuard no_grad;
    head->weight().copy_(at::eye(2));
    head->bias().zero_();
  }
  const Objective objective(*task, encoder_only(), head.get());
  Batch batch;
  batch.labels = at::tensor({-1, -1}, at::kLong);
  batch.soft_labels = at::tensor({0.3775407f, 0.6224593f, 0.5621765f, 0.4378235f}, at::kFloat).view({2, 2});
  models::BackboneOutput output;
  output.pooled = at::tensor({0.0f, static_cast<float>(std::log(3.0)), 0.0f, 0.0f}, at::kFloat).view({2, 2});
  EXPECT_NEAR(objective.loss(output, batch).item<double>(), 0.6978000, 1e-6);
  batch.soft_labels = at::Tensor();  // without them, unlabeled rows cannot train
  EXPECT_THAT(error_of([&] { objective.loss(output, batch); }), HasSubstr("without a label"));
}

}  // namespace
}  // namespace ptlab::tasks
