// Learning-rate schedules: values at the key steps against transformers' formulas, warmup from a ratio,
// the min_lr_ratio floor, and bad configs / arguments.
#include "framework/train/schedule.h"

#include "tests/train/train_test_support.h"

#include <cmath>

namespace ptlab::train {
namespace {

using testing::error_of;

ScheduleConfig make(const std::string& name, int64_t warmup, double min_ratio = 0.0) {
  ScheduleConfig c;
  c.name = name;
  c.warmup_steps = warmup;
  c.min_lr_ratio = min_ratio;
  return c;
}

ScheduleConfig decode(const std::string& yaml) { return testing::decode_yaml<ScheduleConfig>(yaml, "trainer.schedule"); }

// transformers.get_*_schedule_with_warmup lr_lambda, written out.
double hf_warmup(int64_t s, int64_t w) { return double(s) / double(std::max<int64_t>(1, w)); }
double hf_linear(int64_t s, int64_t w, int64_t total) {
  if (s < w) return hf_warmup(s, w);
  return std::max(0.0, double(total - s) / double(std::max<int64_t>(1, total - w)));
}
double hf_cosine(int64_t s, int64_t w, int64_t total) {
  if (s < w) return hf_warmup(s, w);
  const double progress = double(s - w) / double(std::max<int64_t>(1, total - w));
  return std::max(0.0, 0.5 * (1.0 + std::cos(M_PI * 0.5 * 2.0 * progress)));
}

TEST(Schedule, ConstantWarmsUpThenStaysAtOne) {
  const ScheduleConfig c = make("constant", 4);
  EXPECT_EQ(lr_multiplier(c, 0, 100), 0.0);
  EXPECT_EQ(lr_multiplier(c, 1, 100), 0.25);
  EXPECT_EQ(lr_multiplier(c, 3, 100), 0.75);
  EXPECT_EQ(lr_multiplier(c, 4, 100), 1.0);
  EXPECT_EQ(lr_multiplier(c, 1000, 100), 1.0);
  EXPECT_EQ(lr_multiplier(make("constant", 0), 0, 0), 1.0);  // no total needed
}

TEST(Schedule, LinearMatchesTransformersAtKeySteps) {
  const ScheduleConfig c = make("linear", 10);
  EXPECT_EQ(lr_multiplier(c, 5, 100), 0.5);
  EXPECT_EQ(lr_multiplier(c, 10, 100), 1.0);
  EXPECT_EQ(lr_multiplier(c, 55, 100), 0.5);
  EXPECT_EQ(lr_multiplier(c, 100, 100), 0.0);
  EXPECT_EQ(lr_multiplier(c, 130, 100), 0.0);
  for (int64_t s : {0, 3, 9, 10, 11, 42, 77, 99, 100})
    EXPECT_EQ(lr_multiplier(c, s, 100), hf_linear(s, 10, 100)) << s;
  EXPECT_EQ(lr_multiplier(make("linear", 0), 0, 8), 1.0);
  EXPECT_EQ(lr_multiplier(make("linear", 0), 6, 8), 0.25);
}

TEST(Schedule, CosineMatchesTransformersAtKeyStepsAndHoldsAfterTheEnd) {
  const ScheduleConfig c = make("cosine", 10);
  EXPECT_EQ(lr_multiplier(c, 10, 100), 1.0);
  EXPECT_NEAR(lr_multiplier(c, 55, 100), 0.5, 1e-15);
  EXPECT_NEAR(lr_multiplier(c, 100, 100), 0.0, 1e-15);
  EXPECT_NEAR(lr_multiplier(c, 150, 100), 0.0, 1e-15);  // transformers would rise again here
  for (int64_t s : {0, 3, 9, 10, 11, 42, 77, 99, 100})
    EXPECT_EQ(lr_multiplier(c, s, 100), hf_cosine(s, 10, 100)) << s;
  EXPECT_NEAR(lr_multiplier(c, 32, 100), 0.5 * (1 + std::cos(M_PI * 22.0 / 90.0)), 1e-15);
}

TEST(Schedule, MinLrRatioIsTheFloorOfTheDecay) {
  EXPECT_NEAR(lr_multiplier(make("linear", 10, 0.1), 100, 100), 0.1, 1e-15);
  EXPECT_NEAR(lr_multiplier(make("linear", 10, 0.1), 55, 100), 0.55, 1e-15);
  EXPECT_NEAR(lr_multiplier(make("cosine", 10, 0.2), 100, 100), 0.2, 1e-15);
  EXPECT_NEAR(lr_multiplier(make("cosine", 10, 0.2), 55, 100), 0.6, 1e-15);
  EXPECT_EQ(lr_multiplier(make("cosine", 10, 0.2), 10, 100), 1.0);
  EXPECT_EQ(lr_multiplier(make("linear", 10, 0.5), 5, 100), 0.5);  // warmup still starts from 0
}

TEST(Schedule, WarmupRatioIsACeilingFractionOfTheTotalWhenNoStepsAreGiven) {
  ScheduleConfig c = make("linear", 0);
  c.warmup_ratio = 0.25;
  EXPECT_EQ(warmup_steps_of(c, 100), 25);
  EXPECT_EQ(warmup_steps_of(c, 10), 3);  // ceil(2.5), as the HF Trainer
  EXPECT_EQ(lr_multiplier(c, 5, 100), 0.2);
  EXPECT_EQ(lr_multiplier(c, 25, 100), 1.0);
  c.warmup_steps = 4;  // explicit steps win
  EXPECT_EQ(warmup_steps_of(c, 100), 4);
  EXPECT_EQ(lr_multiplier(c, 2, 100), 0.5);
}

TEST(Schedule, DecodesAndRejectsBadConfigsNamingTheKey) {
  const ScheduleConfig c = decode("{name: cosine, warmup_steps: 100, warmup_ratio: 0.1, min_lr_ratio: 0.05}");
  EXPECT_EQ(c.name, "cosine");
  EXPECT_EQ(c.warmup_steps, 100);
  EXPECT_EQ(c.warmup_ratio, 0.1);
  EXPECT_EQ(c.min_lr_ratio, 0.05);
  EXPECT_EQ(decode("{}").name, "constant");

  std::string e = error_of([] { decode("{name: cosin}"); });
  EXPECT_CONTAINS(e, "trainer.schedule.name: unknown schedule 'cosin'");
  EXPECT_CONTAINS(e, "did you mean cosine");
  EXPECT_CONTAINS(e, "test.yaml");
  EXPECT_CONTAINS(error_of([] { decode("{warmup_steps: -5}"); }), "trainer.schedule.warmup_steps: must be >= 0, got -5");
  EXPECT_CONTAINS(error_of([] { decode("{warmup_ratio: 1.5}"); }), "trainer.schedule.warmup_ratio: must be in [0, 1]");
  EXPECT_CONTAINS(error_of([] { decode("{min_lr_ratio: -0.1}"); }), "trainer.schedule.min_lr_ratio");
  e = error_of([] { decode("{warmup: 10}"); });
  EXPECT_CONTAINS(e, "trainer.schedule.warmup");
  EXPECT_CONTAINS(e, "did you mean");
}

TEST(Schedule, BadArgumentsAreErrors) {
  EXPECT_CONTAINS(error_of([] { lr_multiplier(make("linear", 0), -1, 10); }), "step -1 is negative");
  EXPECT_CONTAINS(error_of([] { lr_multiplier(make("constant", 0), 0, -3); }), "-3 is negative");
  EXPECT_CONTAINS(error_of([] { lr_multiplier(make("cosine", 0), 0, 0); }),
                  "lr schedule 'cosine' needs the total number of training steps");
  EXPECT_CONTAINS(error_of([] { lr_multiplier(make("exp", 0), 0, 10); }), "unknown schedule 'exp'");
}

}  // namespace
}  // namespace ptlab::train
