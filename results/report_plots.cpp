#include "results/report_plots.h"

#include "framework/core/error.h"
#include "results/metric_series.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <optional>

namespace ptlab::results {

namespace {

constexpr const char* kLengthColumn = "method.length";
constexpr const char* kInitColumn = "method.init";

std::optional<double> as_number(const std::string& text) {
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (!end || *end != '\0') return std::nullopt;
  return v;
}

// What tells the scored groups apart, and how a group is named in a legend.
struct Legend {
  const SweepSummary& summary;
  std::vector<std::size_t> varying;  // configuration columns that differ between scored groups

  // The group's varying columns except `except` (a configuration column or ""): task, model and method by
  // their value, override columns as key=value; `fallback` when nothing is left.
  std::string label(const TrialGroup& group, const std::string& except, const std::string& fallback) const {
    std::string out;
    for (std::size_t c : varying) {
      const std::string& column = summary.config_columns[c];
      if (column == except || group.config[c].empty()) continue;  // a key this trial's method lacks
      bool plain = column == "task" || column == "model" || column == "method";
      out += (out.empty() ? "" : ", ") + (plain ? group.config[c] : column + "=" + group.config[c]);
    }
    return out.empty() ? fallback : out;
  }
};

// Series keyed by legend label, in order of first appearance.
struct SeriesBuilder {
  std::vector<PlotSeries> series;
  PlotSeries& get(const std::string& title) {
    for (auto& s : series)
      if (s.title == title) return s;
    series.push_back(PlotSeries{title, {}});
    return series.back();
  }
  std::vector<PlotSeries> sorted_by_x() {
    for (auto& s : series)
      std::sort(s.points.begin(), s.points.end(), [](const PlotPoint& a, const PlotPoint& b) { return a.x < b.x; });
    return series;
  }
};

std::optional<Figure> scale_figure(const SweepSummary& summary, const std::vector<const TrialGroup*>& scored,
                                   const Legend& legend, std::size_t metric, const std::string& score) {
  int64_t model = summary.config_index("model");
  std::vector<std::string> models;
  for (const TrialGroup* g : scored)
    if (g->model_parameters.n > 0 && std::find(models.begin(), models.end(), g->config[model]) == models.end())
      models.push_back(g->config[model]);
  if (models.size() < 2) return std::nullopt;
  SeriesBuilder builder;
  for (const TrialGroup* g : scored) {
    if (g->model_parameters.n == 0) continue;
    const Stat& s = g->metrics[metric];
    builder.get(legend.label(*g, "model", metric_label(score)))
        .points.push_back({g->model_parameters.mean, s.mean, s.std});
  }
  PlotPanel panel;
  panel.title = fmt::format("{} vs model size ({})", metric_label(score), summary.name);
  panel.xlabel = "model parameters";
  panel.ylabel = metric_label(score);
  panel.log_x = true;
  panel.series = builder.sorted_by_x();
  return Figure{"scale", panel.title, {panel}};
}

std::optional<Figure> length_figure(const SweepSummary& summary, const std::vector<const TrialGroup*>& scored,
                                    const Legend& legend, std::size_t metric, const std::string& score) {
  int64_t column = summary.config_index(kLengthColumn);
  if (column < 0) return std::nullopt;
  std::vector<std::string> values;        // distinct lengths, in order of appearance
  std::vector<const TrialGroup*> having;  // groups whose trials set the length (other methods may lack it)
  for (const TrialGroup* g : scored)
    if (!g->config[column].empty()) having.push_back(g);
  for (const TrialGroup* g : having)
    if (std::find(values.begin(), values.end(), g->config[column]) == values.end()) values.push_back(g->config[column]);
  if (values.size() < 2) return std::nullopt;
  bool numeric = true, positive = true;
  for (const auto& v : values) {
    auto x = as_number(v);
    numeric = numeric && x.has_value();
    positive = positive && x && *x > 0;
  }
  PlotPanel panel;
  if (numeric) {
    std::sort(values.begin(), values.end(),
              [](const std::string& a, const std::string& b) { return *as_number(a) < *as_number(b); });
    panel.log_x = positive;
    panel.log_base = 2;
  }
  auto x_of = [&](const std::string& v) {
    if (numeric) return *as_number(v);
    return static_cast<double>(std::find(values.begin(), values.end(), v) - values.begin());
  };
  if (!numeric)
    for (std::size_t i = 0; i < values.size(); ++i) panel.xtics.emplace_back(static_cast<double>(i), values[i]);
  SeriesBuilder builder;
  for (const TrialGroup* g : having) {
    const Stat& s = g->metrics[metric];
    builder.get(legend.label(*g, kLengthColumn, metric_label(score)))
        .points.push_back({x_of(g->config[column]), s.mean, s.std});
  }
  panel.title = fmt::format("{} vs prompt length ({})", metric_label(score), summary.name);
  panel.xlabel = "prompt length (tokens)";
  panel.ylabel = metric_label(score);
  panel.series = builder.sorted_by_x();
  return Figure{"prompt_length", panel.title, {panel}};
}

std::optional<Figure> init_figure(const SweepSummary& summary, const std::vector<const TrialGroup*>& scored,
                                  const Legend& legend, std::size_t metric, const std::string& score) {
  int64_t column = summary.config_index(kInitColumn);
  if (column < 0) return std::nullopt;
  std::vector<const TrialGroup*> having;  // groups whose trials set the init (other methods may lack it)
  for (const TrialGroup* g : scored)
    if (!g->config[column].empty()) having.push_back(g);
  std::vector<std::string> inits;
  for (const TrialGroup* g : having)
    if (std::find(inits.begin(), inits.end(), g->config[column]) == inits.end()) inits.push_back(g->config[column]);
  if (inits.size() < 2) return std::nullopt;
  SeriesBuilder builder;
  for (const TrialGroup* g : having) builder.get(legend.label(*g, kInitColumn, metric_label(score)));
  // Series side by side within each init's slot, like grouped bars.
  const double count = static_cast<double>(builder.series.size());
  const double width = std::min(0.6, 0.15 * count);
  for (const TrialGroup* g : having) {
    PlotSeries& series = builder.get(legend.label(*g, kInitColumn, metric_label(score)));
    double index = static_cast<double>(&series - builder.series.data());
    double offset = count > 1 ? width * (index / (count - 1) - 0.5) : 0.0;
    double slot = static_cast<double>(std::find(inits.begin(), inits.end(), g->config[column]) - inits.begin());
    const Stat& s = g->metrics[metric];
    series.points.push_back({slot + offset, s.mean, s.std});
  }
  PlotPanel panel;
  panel.title = fmt::format("{} by prompt initialisation ({})", metric_label(score), summary.name);
  panel.xlabel = "prompt initialisation";
  panel.ylabel = metric_label(score);
  panel.style = PlotStyle::kPointsWithErrorBars;
  for (std::size_t i = 0; i < inits.size(); ++i) panel.xtics.emplace_back(static_cast<double>(i), inits[i]);
  panel.series = builder.sorted_by_x();
  return Figure{"prompt_init", panel.title, {panel}};
}

std::optional<Figure> curves_figure(const SweepSummary& summary, const std::vector<const TrialGroup*>& groups,
                                    const Legend& legend, const std::string& score,
                                    std::vector<std::string>& warnings) {
  const std::string dev = dev_series_for(score);
  PlotPanel loss, dev_panel;
  loss.style = dev_panel.style = PlotStyle::kLines;
  for (const TrialGroup* g : groups) {
    std::vector<MetricSeries> losses, devs;
    for (std::size_t t : g->trials) {
      const Trial& trial = summary.trials[t];
      if (trial.status != TrialStatus::kDone) continue;
      const std::string path = (std::filesystem::path(summary.trial_path(trial)) / "metrics.h5").string();
      try {
        if (auto s = read_metric_series(path, "train/loss"); s && !s->step.empty()) losses.push_back(*s);
        if (auto s = read_metric_series(path, dev); s && !s->step.empty()) devs.push_back(*s);
      } catch (const Error& e) {
        warnings.push_back(fmt::format("trial {}: left out of the curves: {}", trial.id, e.what()));
      }
    }
    const std::string title = legend.label(*g, "", "all trials");
    auto add = [&](PlotPanel& panel, const std::vector<MetricSeries>& runs) {
      if (runs.empty()) return;
      MetricSeries mean = mean_series(runs);
      PlotSeries series{runs.size() > 1 ? fmt::format("{} (mean of {})", title, runs.size()) : title, {}};
      for (std::size_t i = 0; i < mean.step.size(); ++i)
        series.points.push_back({static_cast<double>(mean.step[i]), mean.value[i]});
      panel.series.push_back(std::move(series));
    };
    add(loss, losses);
    add(dev_panel, devs);
  }
  Figure figure{"curves", fmt::format("training curves ({})", summary.name), {}};
  figure.height = 1000;  // two panels, one above the other
  if (!loss.series.empty()) {
    loss.title = "training loss";
    loss.xlabel = "step";
    loss.ylabel = "training loss";
    loss.data_name = "curves_loss";
    figure.panels.push_back(std::move(loss));
  }
  if (!dev_panel.series.empty()) {
    dev_panel.title = metric_label(dev);
    dev_panel.xlabel = "step";
    dev_panel.ylabel = metric_label(dev);
    dev_panel.data_name = "curves_" + dev.substr(dev.find('/') + 1);
    std::replace(dev_panel.data_name.begin(), dev_panel.data_name.end(), '/', '_');
    figure.panels.push_back(std::move(dev_panel));
  }
  if (figure.panels.empty()) return std::nullopt;
  if (figure.panels.size() == 1) {
    figure.height = 600;
    figure.panels.front().title += fmt::format(" ({})", summary.name);
    figure.panels.front().data_name.clear();
  }
  return figure;
}

}  // namespace

std::string metric_label(const std::string& metric) {
  std::string out = metric;
  std::replace(out.begin(), out.end(), '/', ' ');
  std::replace(out.begin(), out.end(), '_', ' ');
  return out;
}

std::vector<Figure> report_figures(const SweepSummary& summary, const std::vector<TrialGroup>& groups,
                                   const std::string& score, std::vector<std::string>& warnings) {
  std::vector<Figure> figures;
  const int64_t metric = summary.metric_index(score);
  if (metric < 0) return figures;
  std::vector<TrialGroup> scored_copy;
  std::vector<const TrialGroup*> scored, done;
  for (const TrialGroup& g : groups) {
    if (g.metrics[metric].n > 0) {
      scored.push_back(&g);
      scored_copy.push_back(g);
    }
    if (g.done > 0) done.push_back(&g);
  }
  if (scored.empty()) return figures;
  Legend legend{summary, varying_columns(summary, scored_copy)};
  const auto m = static_cast<std::size_t>(metric);
  if (auto f = scale_figure(summary, scored, legend, m, score)) figures.push_back(std::move(*f));
  if (auto f = length_figure(summary, scored, legend, m, score)) figures.push_back(std::move(*f));
  if (auto f = init_figure(summary, scored, legend, m, score)) figures.push_back(std::move(*f));
  if (auto f = curves_figure(summary, done, legend, score, warnings)) figures.push_back(std::move(*f));
  return figures;
}

}  // namespace ptlab::results
