#include "methods/baselines/pretrain.h"

#include "tests/methods/methods_test_support.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace ptlab::methods {
namespace {

using testing::error_of;
using ::testing::HasSubstr;

TEST(Pretrain, TrainsTheWholeModelOnAnLmTask) {
  PTLAB_METHOD_FIXTURE(f, "llama", testing::kLmTask);
  auto method = testing::make_method_from("{name: pretrain}", *f.context);
  EXPECT_EQ(method->name(), "pretrain");
  EXPECT_TRUE(method->trains_backbone());
  int64_t elements = 0;
  for (const auto& [name, tensor] : method->trainable_parameters()) elements += tensor.numel();
  EXPECT_EQ(elements, models::count_parameters(f.backbone()));
  EXPECT_TRUE(method->export_state().empty());
}

TEST(Pretrain, OtherTaskTypesAreErrors) {
  PTLAB_METHOD_FIXTURE(f, "llama", testing::kSentimentTask);
  const std::string e = error_of([&] { testing::make_method_from("{name: pretrain}", *f.context); });
  EXPECT_THAT(e, HasSubstr("method pretrain trains a language model on a task of type lm, but task test is of type "
                           "classification; use method=full_finetune"));
}

}  // namespace
}  // namespace ptlab::methods
