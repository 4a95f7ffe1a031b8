#include "methods/baselines/zero_shot.h"

#include "tasks/batch.h"
#include "tests/methods/methods_test_support.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace ptlab::methods {
namespace {

using testing::error_of;
using ::testing::HasSubstr;

TEST(ZeroShot, PassesTheTokensThroughAndTrainsNothing) {
  PTLAB_METHOD_FIXTURE(f, "bert", testing::kSentimentTask);
  auto method = testing::make_method_from("{name: zero_shot}", *f.context);
  EXPECT_FALSE(method->trains());
  EXPECT_FALSE(method->trains_backbone());
  EXPECT_TRUE(method->trainable_parameters().empty());
  EXPECT_TRUE(method->export_state().empty());
  EXPECT_EQ(method->front_soft_tokens(f.task->prompt()), 0);
  EXPECT_EQ(method->head(), nullptr);

  data::Example example;
  example.text_a = "a good film";
  tasks::Batch batch = tasks::collate({f.task->encode(example, tasks::Purpose::kEval)}, tasks::CollateOptions{});
  const models::BackboneInput input = method->prompt(batch);
  EXPECT_TRUE(at::equal(input.input_ids, batch.input_ids));
  EXPECT_TRUE(at::equal(input.attention_mask, batch.attention_mask));
  EXPECT_TRUE(at::equal(input.token_type_ids, batch.token_type_ids));
  EXPECT_FALSE(input.inputs_embeds.defined());
  EXPECT_NO_THROW(f.backbone().forward(input));
}

TEST(ZeroShot, Errors) {
  PTLAB_METHOD_FIXTURE(f, "gpt2",
                       "{type: classification, template: '{soft:2} {text_a} It was {mask}.', "
                       "verbalizer: {label_words: {negative: [bad], positive: [good]}}}");
  const std::string soft = error_of([&] { testing::make_method_from("{name: zero_shot}", *f.context); });
  EXPECT_THAT(soft, HasSubstr("method zero_shot places no virtual tokens, but"));
  EXPECT_THAT(soft, HasSubstr("has {soft:N} slots; pick a template without them"));

  testing::Fixture plain = testing::fixture("gpt2", testing::kSentimentTask);
  auto method = testing::make_method_from("{name: zero_shot}", *plain.context);
  tasks::Batch batch;
  batch.input_ids = at::zeros({1, 4}, at::kLong);
  batch.soft_positions = at::zeros({1, 2}, at::kLong);
  EXPECT_THAT(error_of([&] { method->prompt(batch); }), HasSubstr("but the batch has 2 soft positions per row"));
  EXPECT_THAT(error_of([&] { testing::make_method_from("{name: zero_shot, lr: 1}", *plain.context); }),
              HasSubstr("unknown key 'method.lr'"));
}

}  // namespace
}  // namespace ptlab::methods
