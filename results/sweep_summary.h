// SweepSummary: one sweep directory's summary.csv, read into typed trials.
//
// A sweep directory (written by `ptlab sweep`) holds
//   multirun.yaml          the sweep's spec
//   summary.csv            one row per trial, header first (RFC 4180)
//   sweep.h5               HDF5 index: /trials/<trial_id> = external link to trials/<trial_id>/metrics.h5
//   trials/<trial_id>/     one run directory per trial (metrics.h5, metrics.jsonl, summary.json, ...)
//
// summary.csv columns, in this order:
//   trial_id,status,task,model,method,seed,          status: pending|running|done|failed|stopped
//   <override keys>,                                  the sweep's other override keys (method.length, ...)
//   model_parameters,trainable_parameters,steps,best_step,wall_seconds,
//   <metrics>,                                        best/eval/<m>, final/eval/<m>, test/<m> (empty unless
//                                                     done or stopped)
//   error,dir                                         a failed trial's one-line error; the trial's directory
//                                                     relative to the sweep directory
// Columns are found by name, so their order is not checked; the fixed ones must all be there. A column
// is a metric when its name starts with best/, final/, test/, eval/ or train/; every other column that is
// not a fixed one is an override key.
//
// Configuration columns — the ones that say which configuration a trial ran — are task, model, method and
// the override columns except the seed ones (`seed`, `runtime.seed`): trials that differ only by seed
// are repeats of one configuration.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ptlab::results {

enum class TrialStatus { kPending, kRunning, kDone, kFailed, kStopped };

/// "pending", "running", "done", "failed", "stopped".
const char* status_name(TrialStatus status);

/// Every status, in the order above (for counts in reports).
const std::vector<TrialStatus>& all_statuses();

struct Trial {
  std::string id;
  TrialStatus status = TrialStatus::kPending;
  std::vector<std::string> config;  ///< values of SweepSummary::config_columns, same order
  std::string seed;                 ///< the `seed` cell (else `runtime.seed`); may be empty
  std::optional<double> model_parameters, trainable_parameters, steps, best_step, wall_seconds;
  std::vector<std::optional<double>> metrics;  ///< values of SweepSummary::metric_columns; nullopt = empty
  std::string error;                           ///< a failed trial's error line
  std::string dir;                             ///< relative to the sweep directory (trials/<id> when the cell is empty)
  int64_t line = 0;                            ///< its line in summary.csv
};

struct SweepSummary {
  std::string dir;                          ///< the sweep directory, as given
  std::string name;                         ///< its last path component (for titles and comparisons)
  std::string csv_path;                     ///< dir/summary.csv
  std::vector<std::string> config_columns;  ///< task, model, method, then the override keys (no seeds)
  std::vector<std::string> metric_columns;  ///< in summary.csv's order
  std::vector<Trial> trials;                ///< in summary.csv's order

  /// Position of a metric column, or -1.
  int64_t metric_index(const std::string& name) const;
  /// Position of a configuration column, or -1.
  int64_t config_index(const std::string& name) const;
  /// How many trials have `status`.
  std::size_t count(TrialStatus status) const;
  /// The trial's run directory: dir/<trial.dir>.
  std::string trial_path(const Trial& trial) const;
};

/// Reads `dir`/summary.csv. Errors (one line): `dir` missing or not a directory; no summary.csv (the message
/// says what a sweep directory holds); a malformed CSV (file and line); fixed columns missing from the
/// header; an unknown status or a numeric cell that is not a number (file, line and column).
SweepSummary load_sweep(const std::string& dir);

/// The score metric when none is asked for: test/accuracy when there is such a column, else the first
/// test/* column other than test/loss, else the first best/eval/* column, else the first metric column;
/// "" when the summary has no metric column.
std::string default_score_metric(const SweepSummary& summary);

/// `requested` when it names a metric column (an Error listing the metric columns otherwise), or the
/// default when `requested` is empty.
std::string resolve_score_metric(const SweepSummary& summary, const std::string& requested);

/// The /metrics/<split>/<name> series that tracks a summary metric during training: "eval/accuracy" for
/// test/accuracy, best/eval/accuracy and final/eval/accuracy.
std::string dev_series_for(const std::string& metric);

}  // namespace ptlab::results
