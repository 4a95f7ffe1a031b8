// summary.csv and sweep.h5 of a sweep directory (the schema: docs/sweeps.md).
#include "framework/config/override.h"
#include "framework/core/error.h"
#include "framework/io/hdf5_check.h"
#include "framework/io/jsonl_log.h"
#include "launchers/sweep_runner.h"
#include "results/csv_table.h"

#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

namespace ptlab::launchers {
namespace fs = std::filesystem;
namespace {

std::string number_text(const nlohmann::json& v) {
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  if (v.is_number()) {
    const double d = v.get<double>();
    return std::isfinite(d) ? fmt::format("{:.17g}", d) : std::string();
  }
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  return "";
}

bool is_fixed_key(const std::string& key) {
  return key == "task" || key == "model" || key == "method" || key == "runtime.seed";
}

void replace_file(const std::string& tmp, const fs::path& path) {
  PTLAB_CHECK(std::rename(tmp.c_str(), path.c_str()) == 0, "cannot write {}: {}", path.string(),
              std::strerror(errno));
}

}  // namespace

void write_sweep_index(const SweepPlan& plan) {
  struct Row {
    const SweepTrial* trial;
    nlohmann::json status, summary;
    std::map<std::string, std::string> overrides;  // key -> value text
  };
  std::vector<Row> rows;
  std::vector<std::string> override_keys;
  std::set<std::string> metric_keys;
  for (const auto& t : plan.trials) {
    const fs::path dir = fs::path(plan.dir) / "trials" / t.id;
    Row row{&t, io::read_json_file(dir / "status.json"), io::read_json_file(dir / "summary.json"), {}};
    for (const auto& o : t.identity) {
      const auto parsed = config::parse_override(o);
      if (is_fixed_key(parsed.key)) continue;
      if (std::find(override_keys.begin(), override_keys.end(), parsed.key) == override_keys.end())
        override_keys.push_back(parsed.key);
      row.overrides[parsed.key] = parsed.has_value ? parsed.value.text : std::string("~");
    }
    const std::string st = trial_status(row.status);
    // A summary.json belongs to the row only when the trial finished (a running trial's is from before).
    if ((st == "done" || st == "stopped") && row.summary.is_object()) {
      for (const auto& [k, v] : row.summary.items())
        if (k.rfind("best/eval/", 0) == 0 || k.rfind("final/eval/", 0) == 0 || k.rfind("test/", 0) == 0)
          metric_keys.insert(k);
    } else {
      row.summary = nullptr;
    }
    rows.push_back(std::move(row));
  }
  // Metric columns: best/eval/*, final/eval/*, test/* (each sorted).
  std::vector<std::string> metrics;
  for (const char* prefix : {"best/eval/", "final/eval/", "test/"})
    for (const auto& k : metric_keys)
      if (k.rfind(prefix, 0) == 0) metrics.push_back(k);

  std::vector<std::string> header = {"trial_id", "status", "task", "model", "method", "seed"};
  header.insert(header.end(), override_keys.begin(), override_keys.end());
  for (const char* c : {"model_parameters", "trainable_parameters", "steps", "best_step", "wall_seconds"})
    header.push_back(c);
  header.insert(header.end(), metrics.begin(), metrics.end());
  header.push_back("error");
  header.push_back("dir");

  std::string csv = results::csv_line(header);
  for (const auto& r : rows) {
    const auto& t = *r.trial;
    const std::string st = trial_status(r.status);
    std::vector<std::string> f = {t.id, st, t.task, t.model, t.method, std::to_string(t.seed)};
    for (const auto& k : override_keys) {
      auto it = r.overrides.find(k);
      f.push_back(it == r.overrides.end() ? "" : it->second);
    }
    auto from_summary = [&](const char* key) {
      return r.summary.is_object() && r.summary.contains(key) ? number_text(r.summary[key]) : std::string();
    };
    f.push_back(from_summary("backbone_parameters"));
    f.push_back(from_summary("trainable_parameters"));
    f.push_back(from_summary("steps"));
    f.push_back(from_summary("best_step"));
    f.push_back(r.status.is_object() && r.status.contains("wall_seconds") ? number_text(r.status["wall_seconds"])
                                                                          : std::string());
    for (const auto& m : metrics) f.push_back(from_summary(m.c_str()));
    f.push_back(r.status.is_object() ? r.status.value("error", std::string()) : std::string());
    f.push_back("trials/" + t.id);
    csv += results::csv_line(f);
  }
  const fs::path csv_path = fs::path(plan.dir) / "summary.csv";
  const std::string csv_tmp = csv_path.string() + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(csv_tmp, std::ios::binary | std::ios::trunc);
    out << csv;
    PTLAB_CHECK(out.good(), "cannot write {}", csv_tmp);
  }
  replace_file(csv_tmp, csv_path);

  // sweep.h5: one external link per trial that has a metrics.h5, plus the trial table's identity columns.
  io::h5_init();
  const fs::path h5_path = fs::path(plan.dir) / "sweep.h5";
  const std::string h5_tmp = h5_path.string() + ".tmp." + std::to_string(::getpid());
  const std::string& w = h5_path.string();
  {
    io::H5Handle fapl(PTLAB_H5(w, H5Pcreate(H5P_FILE_ACCESS)), H5Pclose);
    PTLAB_H5(w, H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_V18, H5F_LIBVER_V18));
    io::H5Handle file(PTLAB_H5(w, H5Fcreate(h5_tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get())), H5Fclose);
    io::H5Handle root = io::h5_group_open(file.get(), "/", w);
    io::h5_write_attribute(root.get(), "schema", "ptlab-sweep", w);
    io::h5_write_attribute(root.get(), "schema_version", int64_t{1}, w);
    io::h5_write_attribute(root.get(), "name", plan.name, w);
    std::vector<std::string> ids, statuses, overrides, linked;
    for (const auto& r : rows) {
      ids.push_back(r.trial->id);
      statuses.push_back(trial_status(r.status));
      std::string joined;
      for (const auto& o : r.trial->identity) joined += (joined.empty() ? "" : " ") + o;
      overrides.push_back(joined);
    }
    io::h5_write_string_array(root.get(), "trial_ids", ids, w + ":/trial_ids");
    io::h5_write_string_array(root.get(), "status", statuses, w + ":/status");
    io::h5_write_string_array(root.get(), "overrides", overrides, w + ":/overrides");
    io::H5Handle trials = io::h5_group_create(root.get(), "trials", w + ":/trials");
    for (const auto& r : rows) {
      const std::string target = "trials/" + r.trial->id + "/metrics.h5";
      if (!fs::exists(fs::path(plan.dir) / target)) continue;
      // Relative: HDF5 resolves it against sweep.h5's own folder, so the sweep dir can move.
      PTLAB_H5(w, H5Lcreate_external(target.c_str(), "/", trials.get(), r.trial->id.c_str(), H5P_DEFAULT,
                                     H5P_DEFAULT));
    }
  }
  replace_file(h5_tmp, h5_path);
}

}  // namespace ptlab::launchers
