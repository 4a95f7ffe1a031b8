// `ptlab report <sweep dir> [<sweep dir> ...]`: the tables and figures of a sweep (results/sweep_report.h),
// or the side-by-side comparison of several sweeps.
#include "framework/core/error.h"
#include "launchers/command.h"
#include "launchers/option_parser.h"
#include "results/sweep_report.h"

#include <cstdio>
#include <string>
#include <vector>

namespace ptlab::launchers {
namespace {

constexpr const char* kHelp =
    "usage: ptlab report <sweep dir> [<sweep dir> ...] [--metric NAME] [--out DIR] [--no-plots]\n"
    "\n"
    "Aggregates the trials of a sweep over seeds and writes tables and figures; works on a sweep that is\n"
    "still running or has failed trials (they are counted and listed, not averaged).\n"
    "\n"
    "Reads <sweep dir>/summary.csv (one row per trial: trial_id,status,task,model,method,seed,<overrides>,\n"
    "model_parameters,trainable_parameters,steps,best_step,wall_seconds,<metrics>,error,dir) and, for the\n"
    "training curves, each done trial's trials/<id>/metrics.h5.\n"
    "\n"
    "Groups: trials with the same task, model, method and override values (every override column except\n"
    "seed and runtime.seed) form one configuration. Per group: n (done trials), mean and sample std (n-1;\n"
    "'–' with one seed) of every metric column, mean model and trainable parameter counts.\n"
    "\n"
    "Score metric: --metric, else test/accuracy when the column exists, else the first test/* column other\n"
    "than test/loss, else the first best/eval/* column.\n"
    "\n"
    "Writes into <sweep dir>/report/ (or --out):\n"
    "  groups.csv     one row per group: configuration columns, n, trials, seeds, model_parameters,\n"
    "                 trainable_parameters, then <metric>_mean, <metric>_std, <metric>_n (score first)\n"
    "  report.md      Markdown: configuration, n, score mean ± std, trainable params; other metrics;\n"
    "                 missing trials (pending/running/failed/stopped counts, failed ones with their error)\n"
    "  figures        N.png and N.svg rendered by gnuplot, beside N.gp and its .dat files (edit and re-run\n"
    "                 `gnuplot N.gp` there), each made only when the sweep varies what it needs:\n"
    "    scale          score vs model parameters (log x), one line per method; >= 2 models\n"
    "    prompt_length  score vs method.length; >= 2 lengths\n"
    "    prompt_init    score by method.init, one series per model; >= 2 inits\n"
    "    curves         training loss and the dev score (eval/<m>) vs step, mean over seeds per group\n"
    "  Without gnuplot (Debian: gnuplot-nox) a warning says so; the tables and .gp/.dat files are still written.\n"
    "Prints the Markdown table and the paths it wrote.\n"
    "\n"
    "Two or more sweep dirs: compares them: groups matched by configuration columns, one score column\n"
    "(mean ± std, n) per sweep and each one's difference to the first; report.md and groups.csv go to --out\n"
    "(default <first>/report-vs-<name of the second>[-<third>...]).\n"
    "\n"
    "--metric NAME  the score column (e.g. test/accuracy, best/eval/accuracy, test/f1)\n"
    "--out DIR      where to write (default above)\n"
    "--no-plots     tables only\n"
    "-h, --help     this message\n"
    "\n"
    "examples:\n"
    "  ptlab report outputs/scale_sweep\n"
    "  ptlab report outputs/scale_sweep --metric best/eval/accuracy --no-plots\n"
    "  ptlab report outputs/baseline outputs/new_init --out outputs/compare\n";

int run_report(const std::vector<std::string>& args) {
  if (wants_help(args)) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  OptionParser parser("ptlab report", {"--no-plots"}, {"--metric", "--out"});
  parser.parse(args);
  const auto& dirs = parser.positional();
  PTLAB_CHECK(!dirs.empty(), "ptlab report: expected a sweep directory (see ptlab report --help)");
  results::ReportOptions options;
  options.metric = parser.get("--metric", "");
  options.out_dir = parser.get("--out", "");
  options.plots = !parser.flag("--no-plots");
  results::ReportResult result =
      dirs.size() == 1 ? results::report_sweep(dirs.front(), options) : results::compare_sweeps(dirs, options);
  std::fputs(result.table.c_str(), stdout);
  std::printf("\nwrote:\n");
  for (const auto& path : result.written) std::printf("  %s\n", path.c_str());
  return 0;
}

}  // namespace

void add_report_command(CommandRegistry& registry) {
  registry.add("report", "tables and figures of a sweep (mean ± std over seeds): report <sweep dir>...",
               Command{kHelp, run_report});
}

}  // namespace ptlab::launchers
