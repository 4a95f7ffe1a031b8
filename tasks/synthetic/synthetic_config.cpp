#include "tasks/synthetic/synthetic_config.h"

#include "framework/core/error.h"
#include "framework/core/suggest.h"

#include <string>
#include <vector>

namespace ptlab::tasks::synthetic {
namespace {

void check_size(std::string_view key, int64_t value, int64_t max) {
  PTLAB_CHECK(value >= 1, "synthetic config: {} must be at least 1, got {}", key, value);
  PTLAB_CHECK(value <= max, "synthetic config: {} must be at most {}, got {}", key, max, value);
}

void check_fraction(std::string_view key, double value) {
  PTLAB_CHECK(value >= 0.0 && value <= 1.0, "synthetic config: corpus_mix.{} must be in [0, 1], got {}", key, value);
}

}  // namespace

void SyntheticConfig::set_task_sizes(int64_t train, int64_t dev, int64_t test) {
  for (TaskSizes* t : {&sentiment2, &sentiment5, &topic, &entailment}) *t = TaskSizes{train, dev, test};
}

const TaskSizes& SyntheticConfig::sizes(std::string_view name) const {
  if (name == "sentiment2") return sentiment2;
  if (name == "sentiment5") return sentiment5;
  if (name == "topic") return topic;
  if (name == "entailment") return entailment;
  std::vector<std::string> known(kTaskNames.begin(), kTaskNames.end());
  PTLAB_FAIL("unknown synthetic task '{}'{}; known: {}", name, did_you_mean(name, known), join_names(known));
}

int64_t SyntheticConfig::split_size(std::string_view name, std::string_view split) const {
  const TaskSizes& s = sizes(name);
  if (split == "train") return s.train;
  if (split == "dev") return s.dev;
  if (split == "test") return s.test;
  PTLAB_FAIL("unknown split '{}' of synthetic task '{}'; known: train, dev, test", split, name);
}

void validate(const SyntheticConfig& config) {
  check_size("corpus_sentences", config.corpus_sentences, kMaxCorpusSentences);
  for (auto task : kTaskNames) {
    for (auto split : kSplitNames) {
      check_size(fmt::format("{}.{}", task, split), config.split_size(task, split), kMaxSplitSize);
    }
  }
  const CorpusMix& m = config.corpus_mix;
  check_fraction("facts", m.facts);
  check_fraction("summaries", m.summaries);
  check_fraction("topics", m.topics);
  check_fraction("questions", m.questions);
  const double sum = m.facts + m.summaries + m.topics + m.questions;
  PTLAB_CHECK(sum <= 1.0,
              "synthetic config: corpus_mix fractions (facts + summaries + topics + questions) must sum "
              "to at most 1, got {}",
              sum);
}

nlohmann::json to_json(const SyntheticConfig& config) {
  nlohmann::json tasks = nlohmann::json::object();
  for (auto task : kTaskNames) {
    const TaskSizes& s = config.sizes(task);
    tasks[std::string(task)] = {{"train", s.train}, {"dev", s.dev}, {"test", s.test}};
  }
  const CorpusMix& m = config.corpus_mix;
  return {{"seed", std::to_string(config.seed)},
          {"corpus_sentences", config.corpus_sentences},
          {"tasks", tasks},
          {"corpus_mix",
           {{"facts", m.facts}, {"summaries", m.summaries}, {"topics", m.topics}, {"questions", m.questions}}}};
}

}  // namespace ptlab::tasks::synthetic
