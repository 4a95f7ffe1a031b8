#include "framework/train/schedule.h"

#include "framework/core/error.h"
#include "framework/core/suggest.h"

#include <algorithm>
#include <cmath>

namespace ptlab::train {
namespace {

std::string origin_of(const config::Origins* origins, const std::string& key) {
  return origins ? origins->from(key) : std::string();
}

}  // namespace

const std::vector<std::string>& schedule_names() {
  static const std::vector<std::string> names = {"constant", "linear", "cosine"};
  return names;
}

ScheduleConfig ScheduleConfig::decode(config::Reader r, const config::Origins* origins) {
  ScheduleConfig c;
  c.name = r.get<std::string>("name", c.name);
  c.warmup_steps = r.get<int64_t>("warmup_steps", c.warmup_steps);
  c.warmup_ratio = r.get<double>("warmup_ratio", c.warmup_ratio);
  c.min_lr_ratio = r.get<double>("min_lr_ratio", c.min_lr_ratio);
  r.finish();
  c.validate(r.path(), origins);
  return c;
}

void ScheduleConfig::validate(const std::string& path, const config::Origins* origins) const {
  const auto key = [&](const char* k) { return config::child_key_path(path, k); };
  PTLAB_CHECK(std::find(schedule_names().begin(), schedule_names().end(), name) != schedule_names().end(),
              "{}: unknown schedule '{}'{}; known: {}{}", key("name"), name, did_you_mean(name, schedule_names()),
              join_names(schedule_names()), origin_of(origins, key("name")));
  PTLAB_CHECK(warmup_steps >= 0, "{}: must be >= 0, got {}{}", key("warmup_steps"), warmup_steps,
              origin_of(origins, key("warmup_steps")));
  PTLAB_CHECK(std::isfinite(warmup_ratio) && warmup_ratio >= 0 && warmup_ratio <= 1,
              "{}: must be in [0, 1] (a fraction of the total steps), got {}{}", key("warmup_ratio"), warmup_ratio,
              origin_of(origins, key("warmup_ratio")));
  PTLAB_CHECK(std::isfinite(min_lr_ratio) && min_lr_ratio >= 0 && min_lr_ratio <= 1,
              "{}: must be in [0, 1] (a fraction of the learning rate), got {}{}", key("min_lr_ratio"), min_lr_ratio,
              origin_of(origins, key("min_lr_ratio")));
}

int64_t warmup_steps_of(const ScheduleConfig& config, int64_t total) {
  if (config.warmup_steps > 0) return config.warmup_steps;
  return static_cast<int64_t>(std::ceil(static_cast<double>(total) * config.warmup_ratio));
}

double lr_multiplier(const ScheduleConfig& config, int64_t step, int64_t total) {
  config.validate();
  PTLAB_CHECK(step >= 0, "lr schedule: step {} is negative", step);
  PTLAB_CHECK(total >= 0, "lr schedule: the total number of steps {} is negative", total);
  PTLAB_CHECK(config.name == "constant" || total >= 1, "lr schedule '{}' needs the total number of training steps "
              "(>= 1), got {}", config.name, total);
  const int64_t warmup = warmup_steps_of(config, total);
  if (step < warmup) return static_cast<double>(step) / static_cast<double>(std::max<int64_t>(1, warmup));
  if (config.name == "constant") return 1.0;
  const double m = config.min_lr_ratio;
  const double span = static_cast<double>(std::max<int64_t>(1, total - warmup));
  double factor;
  if (config.name == "linear") {
    factor = std::max(0.0, static_cast<double>(total - step) / span);
  } else {
    const double progress = std::min(1.0, static_cast<double>(step - warmup) / span);
    factor = std::max(0.0, 0.5 * (1.0 + std::cos(M_PI * 0.5 * 2.0 * progress)));  // HF: num_cycles = 0.5
  }
  return factor * (1.0 - m) + m;
}

}  // namespace ptlab::train
