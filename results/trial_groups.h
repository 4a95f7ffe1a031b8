// TrialGroup: the trials of a sweep that ran one configuration (they differ only by seed), with the mean and
// sample standard deviation of every metric over the group's done trials.
#pragma once

#include "results/sweep_summary.h"

#include <cstddef>
#include <limits>
#include <string>
#include <vector>

namespace ptlab::results {

/// Mean and sample standard deviation (n - 1 in the denominator) of n values. mean is NaN when n == 0 and
/// std is NaN when n < 2 (one seed says nothing about the spread).
struct Stat {
  std::size_t n = 0;
  double mean = std::numeric_limits<double>::quiet_NaN();
  double std = std::numeric_limits<double>::quiet_NaN();
};

Stat describe(const std::vector<double>& values);

struct TrialGroup {
  std::vector<std::string> config;  ///< values of SweepSummary::config_columns
  std::vector<std::size_t> trials;  ///< indices into SweepSummary::trials, every status, in file order
  std::size_t done = 0;             ///< trials with status done
  std::vector<std::string> seeds;   ///< of the done trials
  Stat model_parameters;            ///< over the group's trials that have a value (any status)
  Stat trainable_parameters;        ///< likewise
  std::vector<Stat> metrics;        ///< per SweepSummary::metric_columns, over done trials with a value
};

/// Groups the trials by their configuration columns, in the order each configuration first appears in
/// summary.csv. Groups without done trials are kept (n = 0) so that missing configurations show.
std::vector<TrialGroup> group_trials(const SweepSummary& summary);

/// The configuration columns whose value differs between some groups — what a table or a plot legend
/// needs to tell the groups apart. Positions into SweepSummary::config_columns, in order.
std::vector<std::size_t> varying_columns(const SweepSummary& summary, const std::vector<TrialGroup>& groups);

}  // namespace ptlab::results
