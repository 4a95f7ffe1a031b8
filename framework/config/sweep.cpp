#include "framework/config/sweep.h"

#include "framework/config/config_file.h"
#include "framework/config/yaml_value.h"
#include "framework/core/error.h"
#include "framework/core/suggest.h"

#include <fmt/format.h>
#include <fnmatch.h>

#include <cmath>
#include <map>

namespace ptlab::config {
namespace {

// A float as Python prints it, after rounding away accumulated error (0.1*3 -> 0.3): "0.0", "0.25", "1e-05".
std::string format_float(double v) {
  double rounded = std::stod(fmt::format("{:.12g}", v));
  std::string text = fmt::format("{}", rounded);
  if (text.find_first_of(".eEn") == std::string::npos) text += ".0";
  return text;
}

std::vector<std::string> range_values(const Override& ov) {
  const RangeSweep& r = ov.value.range;
  std::vector<std::string> out;
  for (std::size_t i = 0;; ++i) {
    double v = r.start + double(i) * r.step;
    if (r.step > 0 ? v >= r.stop : v <= r.stop) break;
    PTLAB_CHECK(out.size() < kMaxTrials, "{}: range() gives more than {} values", ov.origin(), kMaxTrials);
    out.push_back(r.integers ? fmt::format("{}", std::llround(v)) : format_float(v));
  }
  return out;
}

std::vector<std::string> glob_values(const Override& ov, const std::string& config_dir) {
  PTLAB_CHECK(group_exists(config_dir, ov.key),
              "{}: glob() picks options of a config group, and '{}' is no config group (no directory {}/{})",
              ov.origin(), ov.key, config_dir, ov.key);
  auto options = group_options(config_dir, ov.key);
  auto matches = [](const std::vector<std::string>& patterns, const std::string& name) {
    for (const auto& p : patterns)
      if (fnmatch(p.c_str(), name.c_str(), 0) == 0) return true;
    return false;
  };
  std::vector<std::string> out;
  for (const auto& option : options)
    if (matches(ov.value.glob.include, option) && !matches(ov.value.glob.exclude, option)) out.push_back(option);
  PTLAB_CHECK(!out.empty(), "{}: glob() matches no option of config group '{}'; options: {}", ov.origin(), ov.key,
              join_names(options));
  return out;
}

struct SweepFile {
  std::string path;
  std::vector<std::string> params;  // "key=value" override strings
};

// The sweep file's `params`, when the composed defaults choose an option of the `sweep` group.
SweepFile sweep_file_params(const ComposeOptions& options, const std::vector<Override>& parsed) {
  if (!group_exists(options.config_dir, "sweep")) return {};
  // Only group choices decide which sweep file applies: compose the defaults with the group overrides that
  // every trial shares (sweeping ones left out), without value overrides or resolution. When that fails,
  // every trial would fail the same way, so the error is the answer.
  std::vector<std::string> group_overrides;
  for (const auto& ov : parsed) {
    if (ov.is_sweep() || !group_exists(options.config_dir, ov.key) || (ov.has_value && ov.value.element.node.IsMap()))
      continue;
    group_overrides.push_back(ov.input);
  }
  Composed base = compose(options, group_overrides, false);
  auto chosen = base.choices.find("sweep");
  if (chosen == base.choices.end()) return {};
  ConfigFile file = load_config_file(options.config_dir, "sweep/" + chosen->second);
  SweepFile out;
  out.path = file.path;
  const YAML::Node& content = file.content;
  YAML::Node params = content["params"];
  if (!params.IsDefined() || params.IsNull()) return out;
  PTLAB_CHECK(params.IsMap(), "{}: 'params' must map override keys to sweep values, e.g. params: {{lr: \"0.1,0.01\"}}",
              file.path);
  for (auto it = params.begin(); it != params.end(); ++it) {
    std::string value;
    if (it->second.IsNull()) {
      value = "null";
    } else if (it->second.IsScalar()) {
      value = it->second.Scalar();
    } else {
      value = describe(it->second);  // a list or dict is one value, as Hydra reads it
    }
    out.params.push_back(it->first.Scalar() + "=" + value);
  }
  return out;
}

}  // namespace

std::vector<std::string> sweep_values(const Override& ov, const std::string& config_dir) {
  switch (ov.value.sweep) {
    case SweepKind::kNone:
      return {render_override(ov, ov.has_value ? ov.value.text : "")};
    case SweepKind::kChoice: {
      std::vector<std::string> out;
      for (const auto& e : ov.value.choices) out.push_back(render_override(ov, e.text));
      return out;
    }
    case SweepKind::kRange: {
      auto values = range_values(ov);
      PTLAB_CHECK(!values.empty(), "{}: range() gives no values (check start, stop and the sign of step)", ov.origin());
      for (auto& v : values) v = render_override(ov, v);
      return values;
    }
    case SweepKind::kGlob: {
      auto values = glob_values(ov, config_dir);
      for (auto& v : values) v = render_override(ov, v);
      return values;
    }
    default:
      PTLAB_FAIL(
          "{}: {}() is a continuous sweep for optimising sweepers; only discrete sweeps are supported "
          "(a,b,c, choice(), range(), glob())",
          ov.origin(), ov.value.sweep == SweepKind::kInterval ? "interval" : "tag");
  }
}

std::vector<std::vector<std::string>> expand_multirun(const ComposeOptions& options,
                                                      const std::vector<std::string>& overrides) {
  std::vector<Override> cli;
  for (const auto& text : overrides) cli.push_back(parse_override(text));

  std::vector<Override> all;
  SweepFile file = sweep_file_params(options, cli);
  for (const auto& text : file.params) {
    try {
      all.push_back(parse_override(text));
      sweep_values(all.back(), options.config_dir);  // report a bad param against its file
    } catch (const Error& e) {
      PTLAB_FAIL("{} (in the params of {})", e.what(), file.path);
    }
  }
  all.insert(all.end(), cli.begin(), cli.end());

  // One list of values per key element, in first-seen order; a later override of a key replaces its values.
  std::vector<std::vector<std::string>> lists;
  std::map<std::string, std::size_t> index;
  for (const auto& ov : all) {
    auto values = sweep_values(ov, options.config_dir);
    auto [it, inserted] = index.emplace(ov.key_element(), lists.size());
    if (inserted) {
      lists.push_back(std::move(values));
    } else {
      lists[it->second] = std::move(values);
    }
  }

  std::size_t total = 1;
  for (const auto& l : lists) {
    PTLAB_CHECK(total <= kMaxTrials / std::max<std::size_t>(1, l.size()), "the sweep has more than {} trials",
                kMaxTrials);
    total *= l.size();
  }
  std::vector<std::vector<std::string>> trials;
  trials.reserve(total);
  std::vector<std::size_t> digit(lists.size(), 0);
  for (std::size_t t = 0; t < total; ++t) {
    std::vector<std::string> trial;
    for (std::size_t k = 0; k < lists.size(); ++k) trial.push_back(lists[k][digit[k]]);
    trials.push_back(std::move(trial));
    for (std::size_t k = lists.size(); k-- > 0;) {  // last key varies fastest
      if (++digit[k] < lists[k].size()) break;
      digit[k] = 0;
    }
  }
  return trials;
}

}  // namespace ptlab::config
