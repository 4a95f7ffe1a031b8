#include "methods/baselines/full_finetune.h"

#include "tests/methods/methods_test_support.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

namespace ptlab::methods {
namespace {

using testing::error_of;
using ::testing::HasSubstr;

TEST(FullFinetune, TrainsEveryBackboneWeightByItsHuggingFaceName) {
  PTLAB_METHOD_FIXTURE(f, "gpt2", testing::kSentimentTask);
  auto method = testing::make_method_from("{name: full_finetune}", *f.context);
  EXPECT_TRUE(method->trains());
  EXPECT_TRUE(method->trains_backbone());
  const NamedTensors params = method->trainable_parameters();
  std::set<std::string> names;
  int64_t elements = 0;
  for (const auto& [name, tensor] : params) {
    names.insert(name);
    elements += tensor.numel();
  }
  EXPECT_EQ(names.size(), params.size());
  EXPECT_EQ(names.count("transformer.h.0.attn.c_attn.weight"), 1u);
  EXPECT_EQ(names.count("transformer.wte.weight"), 1u);
  EXPECT_EQ(names.count("lm_head.weight"), 0u);  // tied to wte: one parameter
  EXPECT_EQ(elements, f.backbone().info().num_parameters);
  EXPECT_EQ(elements, models::count_parameters(f.backbone()));
  // The same tensors as the backbone's (the optimizer updates the model in place).
  EXPECT_TRUE(params[0].second.is_same(f.backbone().named_parameters()[params[0].first]));

  EXPECT_TRUE(method->export_state().empty());
  EXPECT_NO_THROW(method->import_state({}, "prompt.safetensors"));
  EXPECT_THAT(error_of([&] {
                method->import_state({{"x", at::zeros({1})}}, "run/prompt.safetensors");
              }),
              HasSubstr("run/prompt.safetensors: method full_finetune keeps no state of its own (1 tensors given)"));

  data::Example example;
  example.text_a = "a good film";
  const tasks::Batch batch = tasks::collate({f.task->encode(example, tasks::Purpose::kEval)}, tasks::CollateOptions{});
  EXPECT_TRUE(at::equal(method->prompt(batch).input_ids, batch.input_ids));
}

}  // namespace
}  // namespace ptlab::methods
