// Learning-rate schedules: the multiplier of the configured lr at each optimizer step, following
// transformers' get_constant_schedule_with_warmup, get_linear_schedule_with_warmup and
// get_cosine_schedule_with_warmup (one half cosine), with an optional floor (min_lr_ratio, as
// transformers' cosine_with_min_lr).
//
//   lr at step s = config.lr * lr_multiplier(schedule, s, total_steps)
//
// With w warmup steps and T total steps (s is 0-based: the multiplier of the s-th update):
//   s < w:     s / max(1, w)
//   constant:  1
//   linear:    m + (1 - m) * max(0, (T - s) / max(1, T - w))
//   cosine:    m + (1 - m) * 0.5 * (1 + cos(pi * min(1, (s - w) / max(1, T - w))))
// where m = min_lr_ratio. (transformers' cosine rises again after T; we hold the final value instead.)
#pragma once

#include "framework/config/origins.h"
#include "framework/config/reader.h"

#include <cstdint>
#include <string>
#include <vector>

namespace ptlab::train {

struct ScheduleConfig {
  std::string name = "constant";  ///< constant | linear | cosine
  int64_t warmup_steps = 0;       ///< linear warmup from 0; when 0, warmup_ratio decides
  double warmup_ratio = 0.0;      ///< warmup = ceil(ratio * total steps) when warmup_steps == 0 (as HF Trainer)
  double min_lr_ratio = 0.0;      ///< floor of the linear/cosine decay, as a fraction of lr (in [0, 1])

  /// Decodes the mapping (absent keys keep the defaults) and validates it; unknown keys are the Reader's
  /// error, bad values an Error naming the key path (and its origin when `origins` is given).
  static ScheduleConfig decode(config::Reader reader, const config::Origins* origins = nullptr);

  /// Checks every value: a known name (with a did-you-mean), warmup_steps >= 0, ratios in [0, 1].
  void validate(const std::string& path = "trainer.schedule", const config::Origins* origins = nullptr) const;
};

/// The names ScheduleConfig accepts.
const std::vector<std::string>& schedule_names();

/// The number of warmup steps of a run of `total` steps: warmup_steps, or ceil(warmup_ratio * total).
int64_t warmup_steps_of(const ScheduleConfig& config, int64_t total);

/// The lr multiplier at optimizer step `step` (0-based) of `total` steps (see the formulas above).
/// step < 0, total < 0, or total < 1 for linear/cosine are Errors; step > total holds the final value.
double lr_multiplier(const ScheduleConfig& config, int64_t step, int64_t total);

}  // namespace ptlab::train
