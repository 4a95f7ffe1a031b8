#include "results/sweep_report.h"

#include "framework/core/build_info.h"
#include "framework/core/error.h"
#include "framework/core/log.h"
#include "framework/core/suggest.h"
#include "results/csv_table.h"
#include "results/gnuplot_figure.h"
#include "results/report_plots.h"
#include "results/sweep_summary.h"
#include "results/trial_groups.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

namespace ptlab::results {

namespace fs = std::filesystem;

namespace {

constexpr const char* kDash = "–";

// ---- formatting -------------------------------------------------------------------------------------------

// A number for groups.csv: 10 significant digits, empty for NaN.
std::string csv_number(double v) { return std::isnan(v) ? "" : fmt::format("{:.10g}", v); }

// A score for a Markdown cell: 4 decimals for values of ordinary size, 4 significant digits otherwise.
std::string md_number(double v) {
  if (std::isnan(v)) return kDash;
  return std::fabs(v) < 1000 ? fmt::format("{:.4f}", v) : fmt::format("{:.4g}", v);
}

// "0.8200 ± 0.0283", "0.8200 ± –" (one seed), "–" (none).
std::string md_stat(const Stat& s) {
  if (s.n == 0) return kDash;
  return md_number(s.mean) + " ± " + (s.n < 2 ? std::string(kDash) : md_number(s.std));
}

// A parameter count: 950, 20.5K, 124M, 1.3B.
std::string md_count(const Stat& s) {
  if (s.n == 0 || std::isnan(s.mean)) return kDash;
  double v = s.mean;
  for (const auto& [scale, suffix] : {std::pair{1e9, "B"}, std::pair{1e6, "M"}, std::pair{1e3, "K"}}) {
    if (std::fabs(v) >= scale) return fmt::format("{:.3g}{}", v / scale, suffix);
  }
  return fmt::format("{:.0f}", v);
}

// Text safe inside a Markdown table cell.
std::string md_cell(const std::string& text) {
  if (text.empty()) return kDash;
  std::string out;
  for (char c : text) {
    if (c == '|')
      out += "\\|";
    else if (c == '\n' || c == '\r')
      out += ' ';
    else
      out += c;
  }
  return out;
}

std::string md_row(const std::vector<std::string>& cells) {
  std::string out = "|";
  for (const auto& c : cells) out += " " + c + " |";
  return out + "\n";
}

// The header line and the alignment line; `right` columns are right-aligned (numbers).
std::string md_header(const std::vector<std::string>& names, const std::vector<bool>& right) {
  std::string align = "|";
  for (bool r : right) align += r ? "---:|" : "---|";
  return md_row(names) + align + "\n";
}

// ---- files --------------------------------------------------------------------------------------------------

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  PTLAB_CHECK(out.good(), "{}: cannot be written ({})", path, std::strerror(errno));
  out << text;
  out.close();
  PTLAB_CHECK(out.good(), "{}: writing failed ({})", path, std::strerror(errno));
}

void make_dir(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  PTLAB_CHECK(!ec && fs::is_directory(dir), "{}: cannot make the report directory ({})", dir, ec.message());
}

std::string footer(const std::vector<std::string>& sources) {
  std::string out = fmt::format("\n---\nWritten by ptlab report {} ({}) from", build_version(), build_git_sha());
  for (std::size_t i = 0; i < sources.size(); ++i) out += fmt::format("{} `{}`", i == 0 ? "" : ",", sources[i]);
  return out + ".\n";
}

// The statuses in the order a report lists them: results first, then what went wrong, then what is to come.
const std::vector<TrialStatus>& report_order() {
  static const std::vector<TrialStatus> order = {TrialStatus::kDone, TrialStatus::kFailed, TrialStatus::kStopped,
                                                 TrialStatus::kRunning, TrialStatus::kPending};
  return order;
}

// "14 trials: 12 done, 1 failed, 1 pending" (statuses with no trial left out).
std::string count_line(const SweepSummary& summary) {
  std::string out = fmt::format("{} trial{}", summary.trials.size(), summary.trials.size() == 1 ? "" : "s");
  std::string parts;
  for (TrialStatus s : report_order())
    if (std::size_t n = summary.count(s)) parts += fmt::format("{}{} {}", parts.empty() ? "" : ", ", n, status_name(s));
  return parts.empty() ? out : out + ": " + parts;
}

// The trial's configuration as "method=x, model=y, seed=1" (varying columns and the seed).
std::string trial_label(const SweepSummary& summary, const Trial& trial, const std::vector<std::size_t>& varying) {
  std::string out;
  for (std::size_t c : varying)
    out += fmt::format("{}{}={}", out.empty() ? "" : ", ", summary.config_columns[c], trial.config[c]);
  if (!trial.seed.empty()) out += fmt::format("{}seed={}", out.empty() ? "" : ", ", trial.seed);
  return out;
}

// The "missing trials" section of report.md.
std::string missing_section(const SweepSummary& summary, const std::vector<std::size_t>& varying) {
  std::string md = "## Missing trials\n\n";
  const std::size_t done = summary.count(TrialStatus::kDone);
  if (done == summary.trials.size()) return md + fmt::format("None: all {} trials are done.\n", done);
  md += fmt::format("{} of {} trials have no result: {} pending, {} running, {} failed, {} stopped.\n",
                    summary.trials.size() - done, summary.trials.size(), summary.count(TrialStatus::kPending),
                    summary.count(TrialStatus::kRunning), summary.count(TrialStatus::kFailed),
                    summary.count(TrialStatus::kStopped));
  for (TrialStatus status : report_order()) {
    if (status == TrialStatus::kDone || summary.count(status) == 0) continue;
    md += fmt::format("\n{}{}:\n\n", static_cast<char>(std::toupper(status_name(status)[0])), status_name(status) + 1);
    for (const Trial& t : summary.trials) {
      if (t.status != status) continue;
      std::string label = trial_label(summary, t, varying);
      md += fmt::format("- `{}`{} — `{}`", t.id, label.empty() ? "" : " (" + label + ")", t.dir);
      if (status == TrialStatus::kFailed)
        md += ": " + (t.error.empty() ? std::string("(no error recorded)") : md_cell(t.error));
      md += "\n";
    }
  }
  return md;
}

// Metric columns with the score first.
std::vector<std::size_t> metric_order(const SweepSummary& summary, const std::string& score) {
  std::vector<std::size_t> order;
  const int64_t s = summary.metric_index(score);
  if (s >= 0) order.push_back(static_cast<std::size_t>(s));
  for (std::size_t m = 0; m < summary.metric_columns.size(); ++m)
    if (static_cast<int64_t>(m) != s) order.push_back(m);
  return order;
}

std::string groups_csv(const SweepSummary& summary, const std::vector<TrialGroup>& groups, const std::string& score) {
  std::vector<std::string> header = summary.config_columns;
  for (const char* c : {"n", "trials", "seeds", "model_parameters", "trainable_parameters"}) header.emplace_back(c);
  const auto order = metric_order(summary, score);
  for (std::size_t m : order)
    for (const char* suffix : {"_mean", "_std", "_n"}) header.push_back(summary.metric_columns[m] + suffix);
  std::string text = csv_line(header);
  for (const TrialGroup& g : groups) {
    std::vector<std::string> row = g.config;
    std::string seeds;
    for (const auto& s : g.seeds) seeds += (seeds.empty() ? "" : " ") + s;
    row.push_back(std::to_string(g.done));
    row.push_back(std::to_string(g.trials.size()));
    row.push_back(seeds);
    row.push_back(csv_number(g.model_parameters.mean));
    row.push_back(csv_number(g.trainable_parameters.mean));
    for (std::size_t m : order) {
      row.push_back(csv_number(g.metrics[m].mean));
      row.push_back(csv_number(g.metrics[m].std));
      row.push_back(std::to_string(g.metrics[m].n));
    }
    text += csv_line(row);
  }
  return text;
}

// The configuration columns a table shows: those that vary, else task, model and method.
std::vector<std::size_t> shown_columns(const SweepSummary& summary, const std::vector<TrialGroup>& groups) {
  auto varying = varying_columns(summary, groups);
  if (!varying.empty()) return varying;
  return {0, 1, 2};
}

std::string main_table(const SweepSummary& summary, const std::vector<TrialGroup>& groups, const std::string& score,
                       const std::vector<std::size_t>& shown) {
  std::vector<std::string> names;
  std::vector<bool> right;
  for (std::size_t c : shown) {
    names.push_back(md_cell(summary.config_columns[c]));
    right.push_back(false);
  }
  names.insert(names.end(), {"n", score.empty() ? "score" : score, "trainable params"});
  right.insert(right.end(), {true, true, true});
  std::string md = md_header(names, right);
  const int64_t s = summary.metric_index(score);
  for (const TrialGroup& g : groups) {
    std::vector<std::string> cells;
    for (std::size_t c : shown) cells.push_back(md_cell(g.config[c]));
    cells.push_back(std::to_string(g.done));
    cells.push_back(s >= 0 ? md_stat(g.metrics[static_cast<std::size_t>(s)]) : kDash);
    cells.push_back(md_count(g.trainable_parameters));
    md += md_row(cells);
  }
  return md;
}

std::string other_metrics_table(const SweepSummary& summary, const std::vector<TrialGroup>& groups,
                                const std::string& score, const std::vector<std::size_t>& shown) {
  auto order = metric_order(summary, score);
  if (!order.empty() && summary.metric_columns[order.front()] == score) order.erase(order.begin());
  if (order.empty()) return "";
  std::vector<std::string> names;
  std::vector<bool> right;
  for (std::size_t c : shown) {
    names.push_back(md_cell(summary.config_columns[c]));
    right.push_back(false);
  }
  for (std::size_t m : order) {
    names.push_back(summary.metric_columns[m]);
    right.push_back(true);
  }
  std::string md = "## Other metrics (mean ± std over done seeds)\n\n" + md_header(names, right);
  for (const TrialGroup& g : groups) {
    std::vector<std::string> cells;
    for (std::size_t c : shown) cells.push_back(md_cell(g.config[c]));
    for (std::size_t m : order) cells.push_back(md_stat(g.metrics[m]));
    md += md_row(cells);
  }
  return md;
}

// Writes and renders the figures; returns the Markdown lines that show them.
std::string write_plots(const SweepSummary& summary, const std::vector<TrialGroup>& groups, const std::string& score,
                        const ReportOptions& options, const std::string& out_dir, ReportResult& result) {
  std::vector<Figure> figures = report_figures(summary, groups, score, result.warnings);
  if (figures.empty()) {
    return "No figures: no group has a score yet, or the sweep varies none of model, method.length and "
           "method.init and no done trial has a metrics.h5.\n";
  }
  const bool have_gnuplot = program_on_path(options.gnuplot);
  if (!have_gnuplot)
    result.warnings.push_back(
        fmt::format("gnuplot ('{}') not found: the figures' .gp scripts and data are written but not rendered "
                    "(Debian: apt-get install gnuplot-nox)",
                    options.gnuplot));
  std::string md;
  const std::string comment =
      fmt::format("written by ptlab report {} ({}) for {}", build_version(), build_git_sha(), summary.dir);
  for (const Figure& figure : figures) {
    FigureFiles files = write_figure(figure, out_dir, comment);
    result.written.push_back(files.script);
    result.written.insert(result.written.end(), files.data.begin(), files.data.end());
    if (!have_gnuplot) {
      md += fmt::format("- {}: `{}.gp` (not rendered: gnuplot missing)\n", figure.name, figure.name);
      continue;
    }
    std::error_code ec;
    fs::remove(files.png, ec);  // no stale image survives a failed render
    fs::remove(files.svg, ec);
    std::string failure = run_gnuplot(options.gnuplot, out_dir, figure.name + ".gp");
    if (!failure.empty()) {
      result.warnings.push_back(fmt::format("figure {} not rendered: {}", figure.name, failure));
      md += fmt::format("- {}: `{}.gp` (rendering failed: {})\n", figure.name, figure.name, md_cell(failure));
      continue;
    }
    result.written.push_back(files.png);
    result.written.push_back(files.svg);
    md += fmt::format("![{0}]({0}.png)\n\n", figure.name);
  }
  return md;
}

// Unique display names of the sweeps: their directory names, or the paths as given when two share one.
std::vector<std::string> sweep_labels(const std::vector<SweepSummary>& sweeps) {
  std::vector<std::string> labels;
  for (const auto& s : sweeps) labels.push_back(s.name);
  auto unique = [](const std::vector<std::string>& names) {
    for (const auto& n : names)
      if (std::count(names.begin(), names.end(), n) > 1) return false;
    return true;
  };
  if (unique(labels)) return labels;
  for (std::size_t j = 0; j < sweeps.size(); ++j) labels[j] = sweeps[j].dir;
  if (unique(labels)) return labels;
  for (std::size_t j = 0; j < sweeps.size(); ++j)
    labels[j] = fmt::format("{}#{}", sweeps[j].name, j + 1);  // one sweep twice
  return labels;
}

}  // namespace

ReportResult report_sweep(const std::string& sweep_dir, const ReportOptions& options) {
  SweepSummary summary = load_sweep(sweep_dir);
  ReportResult result;
  result.metric = resolve_score_metric(summary, options.metric);
  result.out_dir = options.out_dir.empty() ? (fs::path(sweep_dir) / "report").string() : options.out_dir;
  make_dir(result.out_dir);
  const std::vector<TrialGroup> groups = group_trials(summary);
  const auto shown = shown_columns(summary, groups);
  const auto varying = varying_columns(summary, groups);

  std::string csv_path = (fs::path(result.out_dir) / "groups.csv").string();
  write_file(csv_path, groups_csv(summary, groups, result.metric));
  result.written.push_back(csv_path);

  std::string table = main_table(summary, groups, result.metric, shown);
  const std::size_t done = summary.count(TrialStatus::kDone);
  std::string counts = count_line(summary);
  result.table =
      table + "\n" + counts +
      (done == summary.trials.size() ? "\n" : fmt::format(" ({} without a result)\n", summary.trials.size() - done));
  for (const Trial& t : summary.trials)
    if (t.status == TrialStatus::kFailed)
      result.table +=
          fmt::format("failed: {} ({}): {}\n", t.id, t.dir, t.error.empty() ? "(no error recorded)" : t.error);

  std::string md = fmt::format("# Sweep report: {}\n\n", summary.name);
  md += fmt::format("Sweep `{}`: {}.\n", summary.dir, counts);
  md += result.metric.empty()
            ? std::string("No metric columns yet (no trial has finished).\n")
            : fmt::format(
                  "Score: `{}`, mean ± sample std (n − 1) over the seeds of each configuration; n = done "
                  "trials.\n",
                  result.metric);
  std::string constant;
  for (std::size_t c = 0; c < summary.config_columns.size(); ++c) {
    if (groups.empty() || std::find(shown.begin(), shown.end(), c) != shown.end()) continue;
    constant += fmt::format("{}{} = {}", constant.empty() ? "" : ", ", summary.config_columns[c],
                            groups.front().config[c].empty() ? kDash : groups.front().config[c]);
  }
  if (!constant.empty()) md += fmt::format("Same in every trial: {}.\n", constant);
  md += "\n" + table + "\n";
  if (std::string other = other_metrics_table(summary, groups, result.metric, shown); !other.empty())
    md += other + "\n";
  md += missing_section(summary, varying);
  if (options.plots) {
    md += "\n## Figures\n\n";
    md += write_plots(summary, groups, result.metric, options, result.out_dir, result);
    md += "\nEach figure's `.gp` script and `.dat` data are beside it: edit and re-run `gnuplot NAME.gp` here.\n";
  }
  md += footer({summary.csv_path});
  std::string md_path = (fs::path(result.out_dir) / "report.md").string();
  write_file(md_path, md);
  result.written.insert(result.written.begin() + 1, md_path);
  for (const auto& w : result.warnings) log_warn("ptlab report: {}", w);
  return result;
}

ReportResult compare_sweeps(const std::vector<std::string>& sweep_dirs, const ReportOptions& options) {
  PTLAB_ASSERT(sweep_dirs.size() >= 2, "compare_sweeps needs two or more sweeps, got {}", sweep_dirs.size());
  std::vector<SweepSummary> sweeps;
  for (const auto& dir : sweep_dirs) sweeps.push_back(load_sweep(dir));
  ReportResult result;
  result.metric = resolve_score_metric(sweeps.front(), options.metric);
  PTLAB_CHECK(!result.metric.empty(), "{}: no metric columns yet (no trial has finished): nothing to compare",
              sweeps.front().csv_path);
  for (const auto& s : sweeps) resolve_score_metric(s, result.metric);
  const auto labels = sweep_labels(sweeps);
  if (options.out_dir.empty()) {
    std::string suffix;
    for (std::size_t i = 1; i < sweeps.size(); ++i) suffix += (i == 1 ? "" : "-") + sweeps[i].name;
    result.out_dir = (fs::path(sweep_dirs.front()) / ("report-vs-" + suffix)).string();
  } else {
    result.out_dir = options.out_dir;
  }
  make_dir(result.out_dir);

  // The union of the configuration columns, and each sweep's groups keyed by their values over it.
  std::vector<std::string> columns;
  for (const auto& s : sweeps)
    for (const auto& c : s.config_columns)
      if (std::find(columns.begin(), columns.end(), c) == columns.end()) columns.push_back(c);
  std::vector<std::vector<std::string>> keys;  // rows, in order of first appearance
  std::vector<std::map<std::vector<std::string>, Stat>> stats(sweeps.size());
  for (std::size_t k = 0; k < sweeps.size(); ++k) {
    const auto metric = static_cast<std::size_t>(sweeps[k].metric_index(result.metric));
    for (const TrialGroup& g : group_trials(sweeps[k])) {
      std::vector<std::string> key;
      for (const auto& c : columns) {
        int64_t i = sweeps[k].config_index(c);
        key.push_back(i < 0 ? "" : g.config[static_cast<std::size_t>(i)]);
      }
      if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(key);
      stats[k][key] = g.metrics[metric];
    }
  }
  std::vector<std::size_t> shown;
  for (std::size_t c = 0; c < columns.size(); ++c)
    for (const auto& key : keys)
      if (key[c] != keys.front()[c]) {
        shown.push_back(c);
        break;
      }
  if (shown.empty()) shown = {0, 1, 2};

  // groups.csv
  std::vector<std::string> header = columns;
  for (const auto& label : labels)
    for (const char* suffix : {"_n", "_mean", "_std"}) header.push_back(label + suffix);
  for (std::size_t k = 1; k < labels.size(); ++k) header.push_back(labels[k] + "_minus_" + labels[0]);
  std::string csv = csv_line(header);
  // Markdown
  std::vector<std::string> names;
  std::vector<bool> right;
  for (std::size_t c : shown) {
    names.push_back(md_cell(columns[c]));
    right.push_back(false);
  }
  for (const auto& label : labels) {
    names.push_back(md_cell(label));
    right.push_back(true);
  }
  for (std::size_t k = 1; k < labels.size(); ++k) {
    names.push_back(md_cell(fmt::format("Δ {} − {}", labels[k], labels[0])));
    right.push_back(true);
  }
  std::string table = md_header(names, right);
  for (const auto& key : keys) {
    std::vector<std::string> row = key, cells;
    for (std::size_t c : shown) cells.push_back(md_cell(key[c]));
    std::vector<const Stat*> per_sweep;
    for (std::size_t k = 0; k < sweeps.size(); ++k) {
      auto it = stats[k].find(key);
      const Stat* s = it == stats[k].end() ? nullptr : &it->second;
      per_sweep.push_back(s);
      row.push_back(s ? std::to_string(s->n) : "");
      row.push_back(s ? csv_number(s->mean) : "");
      row.push_back(s ? csv_number(s->std) : "");
      cells.push_back(!s          ? std::string("(not in sweep)")
                      : s->n == 0 ? std::string(kDash)
                                  : fmt::format("{} (n={})", md_stat(*s), s->n));
    }
    for (std::size_t k = 1; k < sweeps.size(); ++k) {
      bool both = per_sweep[0] && per_sweep[k] && per_sweep[0]->n > 0 && per_sweep[k]->n > 0;
      double diff = both ? per_sweep[k]->mean - per_sweep[0]->mean : std::nan("");
      row.push_back(csv_number(diff));
      cells.push_back(both ? fmt::format("{:+.4f}", diff) : std::string(kDash));
    }
    csv += csv_line(row);
    table += md_row(cells);
  }
  std::string csv_path = (fs::path(result.out_dir) / "groups.csv").string();
  write_file(csv_path, csv);

  std::string counts;
  for (std::size_t k = 0; k < sweeps.size(); ++k)
    counts += fmt::format("- `{}` ({}): {}\n", labels[k], sweeps[k].dir, count_line(sweeps[k]));
  result.table = table + "\n" + counts;
  std::string md = fmt::format("# Sweep comparison: {}\n\n", join_names(labels, " vs "));
  md += fmt::format(
      "Score: `{}`, mean ± sample std (n − 1) over seeds, n = done trials; configurations matched by "
      "their configuration columns (all but the seed).\n\n",
      result.metric);
  md += counts + "\n" + table;
  md += fmt::format("\nFailed and missing trials: `ptlab report <sweep>` for each sweep.\n");
  std::vector<std::string> sources;
  for (const auto& s : sweeps) sources.push_back(s.csv_path);
  md += footer(sources);
  std::string md_path = (fs::path(result.out_dir) / "report.md").string();
  write_file(md_path, md);
  result.written = {csv_path, md_path};
  return result;
}

}  // namespace ptlab::results
