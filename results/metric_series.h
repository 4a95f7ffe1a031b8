// Reading one metric's time series, /metrics/<split>/<name>/{step,value}, from a run's metrics.h5 (the layout
// of framework/io/run_log.h), and averaging the series of several seeds.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ptlab::results {

struct MetricSeries {
  std::vector<int64_t> step;  ///< strictly increasing
  std::vector<double> value;  ///< same length
};

/// The series `series` ("train/loss", "eval/accuracy": split, then name) of the run log at `h5_path`.
/// nullopt when the file or the series is absent. The file is opened read-only; one that carries HDF5's
/// "open for writing" flag (an SWMR writer of an older ptlab, running or killed) with SWMR read. A file that exists but
/// cannot be read is an Error naming it (HDF5's own message included). Of three datasets cut at different lengths, the
/// common rows are read.
std::optional<MetricSeries> read_metric_series(const std::string& h5_path, const std::string& series);

/// The mean over `runs` at each step that any of them logged (over the runs that logged that step), steps
/// in increasing order. Runs evaluated at the same steps (seeds of one configuration) give their plain mean.
MetricSeries mean_series(const std::vector<MetricSeries>& runs);

}  // namespace ptlab::results
