#include "results/trial_groups.h"

#include <cmath>
#include <map>

namespace ptlab::results {

Stat describe(const std::vector<double>& values) {
  Stat s;
  s.n = values.size();
  if (s.n == 0) return s;
  double sum = 0;
  for (double v : values) sum += v;
  s.mean = sum / static_cast<double>(s.n);
  if (s.n < 2) return s;
  double squares = 0;
  for (double v : values) squares += (v - s.mean) * (v - s.mean);
  s.std = std::sqrt(squares / static_cast<double>(s.n - 1));
  return s;
}

std::vector<TrialGroup> group_trials(const SweepSummary& summary) {
  std::vector<TrialGroup> groups;
  std::map<std::vector<std::string>, std::size_t> index;
  for (std::size_t t = 0; t < summary.trials.size(); ++t) {
    const Trial& trial = summary.trials[t];
    auto [it, inserted] = index.emplace(trial.config, groups.size());
    if (inserted) {
      groups.emplace_back();
      groups.back().config = trial.config;
    }
    groups[it->second].trials.push_back(t);
  }
  for (TrialGroup& g : groups) {
    std::vector<double> model, trainable;
    std::vector<std::vector<double>> metrics(summary.metric_columns.size());
    for (std::size_t t : g.trials) {
      const Trial& trial = summary.trials[t];
      if (trial.model_parameters) model.push_back(*trial.model_parameters);
      if (trial.trainable_parameters) trainable.push_back(*trial.trainable_parameters);
      if (trial.status != TrialStatus::kDone) continue;
      ++g.done;
      g.seeds.push_back(trial.seed);
      for (std::size_t m = 0; m < metrics.size(); ++m)
        if (trial.metrics[m]) metrics[m].push_back(*trial.metrics[m]);
    }
    g.model_parameters = describe(model);
    g.trainable_parameters = describe(trainable);
    for (const auto& values : metrics) g.metrics.push_back(describe(values));
  }
  return groups;
}

std::vector<std::size_t> varying_columns(const SweepSummary& summary, const std::vector<TrialGroup>& groups) {
  std::vector<std::size_t> columns;
  for (std::size_t c = 0; c < summary.config_columns.size(); ++c) {
    for (const TrialGroup& g : groups) {
      if (g.config[c] != groups.front().config[c]) {
        columns.push_back(c);
        break;
      }
    }
  }
  return columns;
}

}  // namespace ptlab::results
