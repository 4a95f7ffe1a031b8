// The figures of a sweep report, each made only when the sweep varies what it needs:
//
//   scale          score vs model parameters (log x), one line per configuration apart from the model
//                  (one per method in a methods x models sweep), error bars = sample std over seeds;
//                  when >= 2 models have scores (Lester et al. 2021, Fig. 1)
//   prompt_length  score vs method.length (log2 x when the lengths are positive numbers, categorical
//                  otherwise), one line per configuration apart from the length; when >= 2 lengths (Fig. 3a)
//   prompt_init    score by method.init, points with error bars, one series per configuration apart from
//                  the init (one per model in an init x models sweep); when >= 2 inits (Fig. 3b)
//   curves         training loss (/metrics/train/loss) and the dev score (/metrics/eval/<m> for a score
//                  test/<m> or best/eval/<m>) vs step, mean over each group's done seeds; when any done
//                  trial's metrics.h5 has them
//
// Only groups with a score (a done trial with a value in the score column) take part.
#pragma once

#include "results/gnuplot_figure.h"
#include "results/sweep_summary.h"
#include "results/trial_groups.h"

#include <string>
#include <vector>

namespace ptlab::results {

/// "test/accuracy" -> "test accuracy", "best/eval/f1" -> "best eval f1" (axis labels).
std::string metric_label(const std::string& metric);

/// The figures above for `score` (a metric column). Run logs that cannot be read add a line to `warnings`
/// and are left out.
std::vector<Figure> report_figures(const SweepSummary& summary, const std::vector<TrialGroup>& groups,
                                   const std::string& score, std::vector<std::string>& warnings);

}  // namespace ptlab::results
