#include "methods/baselines/linear_head.h"

#include "tasks/objective.h"
#include "tests/methods/methods_test_support.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace ptlab::methods {
namespace {

using testing::error_of;
using ::testing::HasSubstr;

constexpr const char* kHeadTask =
    "{type: classification, template: '{text_a}', verbalizer: {mode: linear_head, pooling: cls, dropout: 0.0, "
    "labels: [negative, neutral, positive]}}";

TEST(LinearHeadMethod, OwnsAHeadSizedFromTheTask) {
  PTLAB_METHOD_FIXTURE(f, "bert", kHeadTask);
  auto method = testing::make_method_from("{name: linear_head}", *f.context);
  ASSERT_NE(method->head(), nullptr);
  EXPECT_EQ(method->head()->num_classes(), 3);
  EXPECT_EQ(method->head()->hidden_size(), 64);
  EXPECT_FALSE(method->trains_backbone());
  const NamedTensors params = method->trainable_parameters();
  ASSERT_EQ(params.size(), 2u);
  EXPECT_EQ(params[0].first, "head.weight");
  EXPECT_EQ(params[1].first, "head.bias");
  EXPECT_TRUE(params[0].second.requires_grad());
  EXPECT_NEAR(params[0].second.std().item<double>(), 0.02, 0.005);  // Hugging Face's head init
  EXPECT_EQ(method->export_state().size(), 2u);

  // The objective trains it: a loss reaches the head and not the backbone.
  tasks::Objective objective(*f.task, f.backbone().info(), method->head());
  data::Example a, b;
  a.text_a = "a good film";
  a.label_name = "positive";
  b.text_a = "dull";
  b.label_name = "negative";
  const tasks::Batch batch =
      objective.collate({f.task->encode(a, tasks::Purpose::kTrain), f.task->encode(b, tasks::Purpose::kTrain)});
  models::BackboneInput input = method->prompt(batch);
  objective.request(batch, input);
  objective.loss(f.backbone().forward(input), batch).backward();
  EXPECT_TRUE(params[0].second.grad().defined());
  for (const auto& p : f.backbone().parameters()) EXPECT_FALSE(p.grad().defined());

  MethodContext other{f.backbone(), f.tokenizer(), *f.task, 5};
  auto reseeded = testing::make_method_from("{name: linear_head}", other);
  EXPECT_FALSE(at::equal(reseeded->head()->weight(), method->head()->weight()));
}

TEST(LinearHeadMethod, NeedsALinearHeadVerbalizer) {
  PTLAB_METHOD_FIXTURE(f, "bert", testing::kSentimentTask);
  EXPECT_THAT(error_of([&] { testing::make_method_from("{name: linear_head}", *f.context); }),
              HasSubstr("method linear_head trains a classification head, so task test needs verbalizer mode "
                        "linear_head (task.verbalizer_name=linear_head), but its verbalizer scores with mode mlm"));
  testing::Fixture lm = testing::fixture("bert", testing::kLmTask);
  EXPECT_THAT(error_of([&] { testing::make_method_from("{name: linear_head}", *lm.context); }),
              HasSubstr("but task test is of type lm (nothing for a head to predict)"));
}

// On a token task the same head is a per-token linear probe: one score row per position, trained on the
// labelled first sub-tokens only.
TEST(LinearHeadMethod, IsAPerTokenProbeOnTokenTasks) {
  PTLAB_METHOD_FIXTURE(f, "bert", "{type: token_classification}");
  data::Example ex;
  ex.tokens = {"the", "jury", "said"};
  ex.tags = {"at", "nn", "vbd"};
  f.task->learn_labels({ex});
  auto method = testing::make_method_from("{name: linear_head}", *f.context);
  ASSERT_NE(method->head(), nullptr);
  EXPECT_EQ(method->head()->num_classes(), 3);
  method->eval();  // no head dropout (0.1 on token tasks) in the comparison
  const tasks::Objective objective(*f.task, f.backbone().info(), method->head());
  const tasks::Batch batch = objective.collate({f.task->encode(ex, tasks::Purpose::kTrain)});
  models::BackboneInput input = method->prompt(batch);
  objective.request(batch, input);
  const models::BackboneOutput out = f.backbone().forward(input);
  // By hand: the head on each labelled position's hidden state, mean cross-entropy over those positions.
  const at::Tensor labels = batch.token_labels[0];  // [T]
  double expected = 0;
  int64_t counted = 0;
  for (int64_t t = 0; t < labels.size(0); ++t) {
    const int64_t gold = labels[t].item<int64_t>();
    if (gold < 0) continue;
    const at::Tensor scores = at::linear(out.last_hidden_state[0][t], method->head()->weight(), method->head()->bias());
    expected -= at::log_softmax(scores, 0)[gold].item<double>();
    ++counted;
  }
  EXPECT_EQ(counted, 3);
  EXPECT_NEAR(objective.loss(out, batch).item<double>(), expected / counted, 1e-5);
}

}  // namespace
}  // namespace ptlab::methods
