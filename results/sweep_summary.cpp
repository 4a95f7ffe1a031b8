#include "results/sweep_summary.h"

#include "framework/core/error.h"
#include "framework/core/suggest.h"
#include "results/csv_table.h"

#include <cstdlib>
#include <filesystem>

namespace ptlab::results {

namespace fs = std::filesystem;

namespace {

constexpr const char* kSweepLayout =
    "a sweep directory, as `ptlab sweep` writes it, holds multirun.yaml, summary.csv, sweep.h5 and "
    "trials/<trial_id>/";

const std::vector<std::string>& fixed_columns() {
  static const std::vector<std::string> columns = {
      "trial_id", "status",    "task",         "model", "method", "seed", "model_parameters", "trainable_parameters",
      "steps",    "best_step", "wall_seconds", "error", "dir"};
  return columns;
}

bool is_metric_column(const std::string& name) {
  for (const char* prefix : {"best/", "final/", "test/", "eval/", "train/"})
    if (name.rfind(prefix, 0) == 0) return true;
  return false;
}

bool is_seed_column(const std::string& name) { return name == "seed" || name == "runtime.seed"; }

std::optional<double> parse_number(const std::string& cell, const CsvTable& table, std::size_t row,
                                   const std::string& column) {
  if (cell.empty()) return std::nullopt;
  char* end = nullptr;
  double value = std::strtod(cell.c_str(), &end);
  PTLAB_CHECK(end && *end == '\0', "{}: line {}, column {}: '{}' is not a number", table.path, table.row_lines[row],
              column, cell);
  return value;
}

TrialStatus parse_status(const std::string& cell, const CsvTable& table, std::size_t row) {
  for (TrialStatus s : all_statuses())
    if (cell == status_name(s)) return s;
  std::vector<std::string> names;
  for (TrialStatus s : all_statuses()) names.emplace_back(status_name(s));
  PTLAB_FAIL("{}: line {}: status '{}' is not one of {}", table.path, table.row_lines[row], cell, join_names(names));
}

}  // namespace

const char* status_name(TrialStatus status) {
  switch (status) {
    case TrialStatus::kPending:
      return "pending";
    case TrialStatus::kRunning:
      return "running";
    case TrialStatus::kDone:
      return "done";
    case TrialStatus::kFailed:
      return "failed";
    case TrialStatus::kStopped:
      return "stopped";
  }
  return "?";
}

const std::vector<TrialStatus>& all_statuses() {
  static const std::vector<TrialStatus> statuses = {TrialStatus::kPending, TrialStatus::kRunning, TrialStatus::kDone,
                                                    TrialStatus::kFailed, TrialStatus::kStopped};
  return statuses;
}

int64_t SweepSummary::metric_index(const std::string& metric) const {
  for (std::size_t i = 0; i < metric_columns.size(); ++i)
    if (metric_columns[i] == metric) return static_cast<int64_t>(i);
  return -1;
}

int64_t SweepSummary::config_index(const std::string& column) const {
  for (std::size_t i = 0; i < config_columns.size(); ++i)
    if (config_columns[i] == column) return static_cast<int64_t>(i);
  return -1;
}

std::size_t SweepSummary::count(TrialStatus status) const {
  std::size_t n = 0;
  for (const auto& t : trials) n += t.status == status;
  return n;
}

std::string SweepSummary::trial_path(const Trial& trial) const { return (fs::path(dir) / trial.dir).string(); }

SweepSummary load_sweep(const std::string& dir) {
  std::error_code ec;
  PTLAB_CHECK(fs::exists(dir, ec), "{}: no such directory ({})", dir, kSweepLayout);
  PTLAB_CHECK(fs::is_directory(dir, ec), "{}: not a directory ({})", dir, kSweepLayout);
  SweepSummary summary;
  summary.dir = dir;
  fs::path absolute = fs::absolute(dir, ec).lexically_normal();
  if (!absolute.has_filename()) absolute = absolute.parent_path();  // "runs/sweep/"
  summary.name = absolute.filename().string();
  summary.csv_path = (fs::path(dir) / "summary.csv").string();
  PTLAB_CHECK(fs::exists(summary.csv_path, ec), "{}: no such file; {} is not a sweep directory ({})", summary.csv_path,
              dir, kSweepLayout);
  CsvTable table = read_csv(summary.csv_path);

  std::vector<std::string> missing;
  for (const auto& name : fixed_columns())
    if (table.column(name) < 0) missing.push_back(name);
  PTLAB_CHECK(missing.empty(),
              "{}: the header lacks the column{} {} (a sweep's summary.csv has trial_id,status,task,model,method,seed,"
              "<overrides>,model_parameters,trainable_parameters,steps,best_step,wall_seconds,<metrics>,error,dir)",
              summary.csv_path, missing.size() == 1 ? "" : "s", join_names(missing));

  std::vector<std::size_t> config_at, metric_at;
  for (const char* name : {"task", "model", "method"}) {
    summary.config_columns.emplace_back(name);
    config_at.push_back(static_cast<std::size_t>(table.column(name)));
  }
  for (std::size_t c = 0; c < table.header.size(); ++c) {
    const std::string& name = table.header[c];
    bool fixed = false;
    for (const auto& f : fixed_columns()) fixed = fixed || f == name;
    if (fixed || is_seed_column(name)) continue;
    if (is_metric_column(name)) {
      summary.metric_columns.push_back(name);
      metric_at.push_back(c);
    } else {
      summary.config_columns.push_back(name);
      config_at.push_back(c);
    }
  }

  auto at = [&](const char* name) { return static_cast<std::size_t>(table.column(name)); };
  const int64_t runtime_seed = table.column("runtime.seed");
  for (std::size_t r = 0; r < table.rows.size(); ++r) {
    const auto& row = table.rows[r];
    Trial t;
    t.line = table.row_lines[r];
    t.id = row[at("trial_id")];
    PTLAB_CHECK(!t.id.empty(), "{}: line {}: the trial_id is empty", summary.csv_path, t.line);
    t.status = parse_status(row[at("status")], table, r);
    for (std::size_t c : config_at) t.config.push_back(row[c]);
    t.seed = row[at("seed")];
    if (t.seed.empty() && runtime_seed >= 0) t.seed = row[static_cast<std::size_t>(runtime_seed)];
    t.model_parameters = parse_number(row[at("model_parameters")], table, r, "model_parameters");
    t.trainable_parameters = parse_number(row[at("trainable_parameters")], table, r, "trainable_parameters");
    t.steps = parse_number(row[at("steps")], table, r, "steps");
    t.best_step = parse_number(row[at("best_step")], table, r, "best_step");
    t.wall_seconds = parse_number(row[at("wall_seconds")], table, r, "wall_seconds");
    for (std::size_t m = 0; m < metric_at.size(); ++m)
      t.metrics.push_back(parse_number(row[metric_at[m]], table, r, summary.metric_columns[m]));
    t.error = row[at("error")];
    t.dir = row[at("dir")].empty() ? "trials/" + t.id : row[at("dir")];
    summary.trials.push_back(std::move(t));
  }
  return summary;
}

std::string default_score_metric(const SweepSummary& summary) {
  const auto& columns = summary.metric_columns;
  if (summary.metric_index("test/accuracy") >= 0) return "test/accuracy";
  for (const auto& c : columns)
    if (c.rfind("test/", 0) == 0 && c != "test/loss") return c;
  for (const auto& c : columns)
    if (c.rfind("best/eval/", 0) == 0) return c;
  return columns.empty() ? "" : columns.front();
}

std::string resolve_score_metric(const SweepSummary& summary, const std::string& requested) {
  if (requested.empty()) return default_score_metric(summary);
  PTLAB_CHECK(
      summary.metric_index(requested) >= 0, "{}: no metric column '{}'{}; metric columns: {}", summary.csv_path,
      requested, did_you_mean(requested, summary.metric_columns),
      summary.metric_columns.empty() ? "none (no trial has finished yet?)" : join_names(summary.metric_columns));
  return requested;
}

std::string dev_series_for(const std::string& metric) {
  for (const char* prefix : {"best/eval/", "final/eval/", "test/", "eval/"})
    if (metric.rfind(prefix, 0) == 0) return "eval/" + metric.substr(std::string(prefix).size());
  return "eval/" + metric.substr(metric.rfind('/') + 1);
}

}  // namespace ptlab::results
