// SyntheticConfig: what write_synthetic() generates — seed, corpus size, the split sizes of each labeled
// task and the make-up of the corpus. The defaults fit `ptlab demo`: 200,000 corpus sentences (about 2.6M
// words, enough to pretrain a ~1M-parameter model on a 2-core CPU in minutes) and 2000 / 500 / 1000
// examples per task.
#pragma once

#include "tasks/synthetic/sentence_generator.h"

#include <nlohmann/json.hpp>

#include <array>
#include <cstdint>
#include <string_view>

namespace ptlab::tasks::synthetic {

/// Examples per split of one labeled task.
struct TaskSizes {
  int64_t train = 2000;
  int64_t dev = 500;
  int64_t test = 1000;
};

/// The labeled tasks, in the order they are written.
inline constexpr std::array<std::string_view, 4> kTaskNames = {"sentiment2", "sentiment5", "topic", "entailment"};
/// The tasks of multitask/ (mixed-task data: both in one file with a task column), in task-id order.
inline constexpr std::array<const char*, 2> kMultitaskTasks = {"sentiment2", "topic"};
/// The splits of each task, in order.
inline constexpr std::array<std::string_view, 3> kSplitNames = {"train", "dev", "test"};

/// Upper bounds that catch a mistyped size before it fills the disk.
inline constexpr int64_t kMaxCorpusSentences = 1'000'000'000;
inline constexpr int64_t kMaxSplitSize = 10'000'000;

struct SyntheticConfig {
  uint64_t seed = 1234;
  int64_t corpus_sentences = 200'000;
  TaskSizes sentiment2;
  TaskSizes sentiment5;
  TaskSizes topic;
  TaskSizes entailment;
  CorpusMix corpus_mix;

  /// Sets the same split sizes on every task.
  void set_task_sizes(int64_t train, int64_t dev, int64_t test);
  /// The sizes of task `name` (one of kTaskNames; anything else is an Error listing them).
  const TaskSizes& sizes(std::string_view name) const;
  /// The size of `split` ("train", "dev", "test") of task `name`.
  int64_t split_size(std::string_view name, std::string_view split) const;
};

/// Checks the config: every size at least 1 and at most the bounds above, fractions in [0, 1] summing to
/// at most 1. A bad value is an Error naming its key ("sentiment5.dev must be at least 1, got 0").
void validate(const SyntheticConfig& config);

/// The config as JSON ({"seed":..., "corpus_sentences":..., "tasks": {...}, "corpus_mix": {...}}), as the
/// manifest records it. The seed is written as a decimal string: JSON readers may not hold 64 bits.
nlohmann::json to_json(const SyntheticConfig& config);

}  // namespace ptlab::tasks::synthetic
