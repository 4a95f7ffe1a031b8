// `ptlab report`: the tables and figures of one sweep, and the side-by-side comparison of several.
//
// One sweep (report_sweep): reads DIR/summary.csv (sweep_summary.h), groups the trials by configuration
// (trial_groups.h: every configuration column except the seed), and writes into DIR/report/ (or
// options.out_dir):
//   groups.csv   one row per group: the configuration columns, n (done trials), trials (all), seeds,
//                model_parameters, trainable_parameters (means), then <metric>_mean, <metric>_std,
//                <metric>_n for the score metric first and every other metric column after it
//   report.md    the groups as a Markdown table (the configuration columns that vary, n, score mean ± std,
//                trainable parameters), the other metrics, the missing trials (pending, running, failed with
//                their error line, stopped) and the figures
//   N.gp, N.dat, N.png, N.svg for each figure of report_plots.h (unless options.plots is false)
//
// Several sweeps (compare_sweeps): groups matched by their configuration columns (the union over the
// sweeps; a column a sweep lacks reads as empty), one score column (mean ± std, n) per sweep and the
// difference of each sweep's mean to the first one's; report.md and groups.csv in options.out_dir
// (default: FIRST/report-vs-<name of the second>[-<name of the third>...]).
//
// Numbers in groups.csv are written with 10 significant digits; NaN and missing values are empty cells.
// A metric's std is empty when fewer than two seeds have a value (the sample std needs two).
#pragma once

#include <string>
#include <vector>

namespace ptlab::results {

struct ReportOptions {
  std::string metric;               ///< the score column; empty: default_score_metric()
  std::string out_dir;              ///< empty: the default above
  bool plots = true;                ///< write and render the figures
  std::string gnuplot = "gnuplot";  ///< the program that renders them (a name looked up in $PATH, or a path)
};

struct ReportResult {
  std::string out_dir;                ///< where the files went
  std::string metric;                 ///< the score column used ("" when the sweep has no metric yet)
  std::string table;                  ///< the Markdown table and the missing-trials line (what is printed)
  std::vector<std::string> written;   ///< every file written, in order
  std::vector<std::string> warnings;  ///< one line each (also logged): gnuplot missing or failing, unreadable logs
};

/// The report of the sweep in `sweep_dir`. Errors (one line): what load_sweep() and resolve_score_metric()
/// reject, and an output directory that cannot be made or written.
ReportResult report_sweep(const std::string& sweep_dir, const ReportOptions& options);

/// The comparison of two or more sweeps. The score metric (options.metric, else the first sweep's default)
/// must be a column of every sweep. options.plots and options.gnuplot are not used.
ReportResult compare_sweeps(const std::vector<std::string>& sweep_dirs, const ReportOptions& options);

}  // namespace ptlab::results
