#include "launchers/pipeline.h"

#include "framework/config/yaml_value.h"
#include "framework/core/error.h"
#include "framework/core/log.h"
#include "framework/io/hdf5_check.h"
#include "framework/io/jsonl_log.h"
#include "launchers/ppt_pipeline.h"

#include <nlohmann/json.hpp>

#include <unistd.h>

#include <filesystem>
#include <mutex>

namespace ptlab::launchers {
namespace fs = std::filesystem;

Registry<PipelineEntry>& pipeline_registry() {
  static Registry<PipelineEntry> registry("pipeline method");
  return registry;
}

void register_builtin_pipelines() {
  static std::once_flag once;
  std::call_once(once, [] {
    // One line per pipeline method (its registration function lives beside its stages).
    register_ppt_pipeline();
    register_pet_pipeline();
  });
}

namespace {

std::string method_name(const YAML::Node& root) {
  const YAML::Node method = root["method"];
  if (!method.IsDefined() || !method.IsMap() || !method["name"] || !method["name"].IsScalar()) return "";
  return method["name"].Scalar();
}

std::string choice(const config::Composed& composed, const std::string& group, const std::string& fallback) {
  auto it = composed.choices.find(group);
  return it == composed.choices.end() || it->second.empty() ? fallback : it->second;
}

// A finished stage's results, read back from its summary.json.
RunOutcome outcome_from_summary(const std::string& dir, const nlohmann::json& summary) {
  RunOutcome outcome;
  outcome.run_dir = dir;
  outcome.method = summary.value("method", "");
  outcome.trainable_parameters = summary.value("trainable_parameters", int64_t{0});
  outcome.backbone_parameters = summary.value("backbone_parameters", int64_t{0});
  outcome.result.status = summary.value("status", "completed");
  outcome.result.steps = summary.value("steps", int64_t{0});
  outcome.result.best_step = summary.value("best_step", int64_t{-1});
  std::map<std::string, double> best, final_eval;
  for (const auto& [key, value] : summary.items()) {
    if (!value.is_number()) continue;
    const double v = value.get<double>();
    auto take = [&](const std::string& prefix, std::map<std::string, double>& into) {
      if (key.rfind(prefix, 0) == 0) into[key.substr(prefix.size())] = v;
    };
    take("test/", outcome.splits["test"]);
    take("best/eval/", best);
    take("final/eval/", final_eval);
  }
  if (outcome.splits["test"].empty()) outcome.splits.erase("test");
  outcome.result.best_eval = best;
  outcome.result.last_eval = final_eval;
  if (!best.empty() || !final_eval.empty()) outcome.splits["dev"] = best.empty() ? final_eval : best;
  return outcome;
}

}  // namespace

void remove_stage_outputs(const std::string& dir_name) {
  const fs::path dir(dir_name);
  std::error_code ec;
  for (const char* name : {"metrics.h5", ".metrics.h5.tmp", "metrics.jsonl", "summary.json", "prompt.safetensors",
                           "config.yaml", "overrides.yaml"})
    fs::remove(dir / name, ec);
  for (const char* name : {"adapter", "model", "predictions"}) fs::remove_all(dir / name, ec);
}

RunOutcome outcome_from_run_dir(const std::string& dir) {
  return outcome_from_summary(dir, io::read_json_file(dir + "/summary.json"));
}

bool is_pipeline(const config::Composed& composed) {
  register_builtin_pipelines();
  const std::string name = method_name(composed.root);
  return !name.empty() && pipeline_registry().contains(name);
}

std::string run_dir_of(const config::Composed& composed) {
  const YAML::Node& root = composed.root;
  if (root["run"] && root["run"]["dir"] && !root["run"]["dir"].IsNull() && !root["run"]["dir"].Scalar().empty())
    return root["run"]["dir"].Scalar();
  std::string outputs = "outputs";
  if (root["paths"] && root["paths"]["outputs"]) outputs = root["paths"]["outputs"].as<std::string>();
  int64_t seed = 0;
  if (root["runtime"] && root["runtime"]["seed"]) seed = root["runtime"]["seed"].as<int64_t>();
  return fmt::format("{}/{}/{}/{}/seed{}", outputs, choice(composed, "task", "task"),
                     method_name(root).empty() ? choice(composed, "method", "method") : method_name(root),
                     choice(composed, "model", "model"), seed);
}

void set_key_path(YAML::Node root, const std::string& key_path, const YAML::Node& value) {
  PTLAB_ASSERT(!key_path.empty(), "empty key path");
  YAML::Node node = root;
  std::size_t start = 0;
  for (;;) {
    const std::size_t dot = key_path.find('.', start);
    const std::string key = key_path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (dot == std::string::npos) {
      if (!value.IsDefined() || value.IsNull()) {
        if (node.IsMap()) node.remove(key);
      } else {
        node[key] = YAML::Clone(value);
      }
      return;
    }
    YAML::Node child = node[key];
    if (!child.IsDefined() || !child.IsMap()) {
      node[key] = YAML::Node(YAML::NodeType::Map);
    }
    node.reset(node[key]);
    start = dot + 1;
  }
}

StageResult run_stage(const config::Composed& parent, const std::string& run_dir, const StageSpec& spec,
                      dist::Communicator& comm, const TrialInfo& trial) {
  StageResult stage;
  stage.name = spec.name;
  stage.dir = !spec.dir.empty() ? spec.dir : spec.name.empty() ? run_dir : (fs::path(run_dir) / "stages" / spec.name).string();
  const bool named = !spec.name.empty();
  PTLAB_ASSERT(named || spec.dir.empty(), "an explicit stage directory needs a stage name");
  if (named) {
    const nlohmann::json summary = io::read_json_file(stage.dir + "/summary.json");
    if (summary.is_object() && summary.value("status", "") == "completed") {
      stage.reused = true;
      stage.outcome = outcome_from_summary(stage.dir, summary);
      log_info("pipeline: stage {} is complete ({}), reusing it", spec.name, stage.dir);
      return stage;
    }
  }
  const bool has_checkpoint = fs::exists(fs::path(stage.dir) / "checkpoint.safetensors");
  if (named && !has_checkpoint && comm.rank() == 0) remove_stage_outputs(stage.dir);  // interrupted before a checkpoint
  comm.barrier();

  config::Composed composed;
  composed.root = YAML::Clone(parent.root);
  composed.origins = parent.origins;
  composed.choices = parent.choices;
  composed.overrides = parent.overrides;
  PTLAB_ASSERT(spec.method.IsDefined() && spec.method.IsMap() && spec.method["name"], "stage {} has no method",
               spec.name);
  composed.root["method"] = YAML::Clone(spec.method);
  composed.choices["method"] = spec.method["name"].Scalar();
  for (const auto& [key, value] : spec.set) set_key_path(composed.root, key, value);
  for (const auto& [group, option] : spec.choices) composed.choices[group] = option;
  set_key_path(composed.root, "run.dir", YAML::Node(stage.dir));
  bool resume = has_checkpoint;
  if (!named && composed.root["trainer"] && composed.root["trainer"]["resume"])
    resume = resume || composed.root["trainer"]["resume"].as<bool>();
  set_key_path(composed.root, "trainer.resume", YAML::Node(resume));
  PTLAB_CHECK(!is_pipeline(composed), "pipeline stage {}: its method {} is itself a pipeline", spec.name,
              composed.choices["method"]);
  if (named) log_info("pipeline: stage {} ({}){}", spec.name, stage.dir, has_checkpoint ? ", resuming" : "");
  stage.outcome = run_training(composed, comm, trial);
  return stage;
}

void record_stage(const std::string& run_dir, const std::string& pipeline, const StageResult& stage) {
  const std::string path = (fs::path(run_dir) / "pipeline.json").string();
  nlohmann::json record = io::read_json_file(path);
  if (!record.is_object()) record = {{"pipeline", pipeline}, {"stages", nlohmann::json::array()}};
  const std::string name = !stage.name.empty()     ? stage.name
                           : stage.dir == run_dir ? std::string("final")
                                                  : fs::path(stage.dir).filename().string();
  nlohmann::json entry = {{"name", name},
                          {"dir", fs::relative(stage.dir, run_dir).string()},
                          {"status", stage.outcome.result.status.empty() ? "completed" : stage.outcome.result.status},
                          {"reused", stage.reused},
                          {"method", stage.outcome.method}};
  for (const auto& [split, values] : stage.outcome.splits)
    for (const auto& [metric, value] : values) entry[split + "/" + metric] = value;
  auto& stages = record["stages"];
  bool replaced = false;
  for (auto& existing : stages) {
    if (existing.value("name", "") == name) {
      existing = entry;
      replaced = true;
    }
  }
  if (!replaced) stages.push_back(entry);
  io::write_summary_json(path, record);
}

void link_stages(const std::string& run_dir, const nlohmann::json& summary) {
  const fs::path h5_path = fs::path(run_dir) / "metrics.h5";
  if (!fs::exists(h5_path)) return;
  const nlohmann::json record = io::read_json_file((fs::path(run_dir) / "pipeline.json").string());
  std::vector<std::pair<std::string, std::string>> links;  // stage name -> its metrics.h5, relative to run_dir
  if (record.is_object() && record.contains("stages")) {
    for (const auto& stage : record["stages"]) {
      const std::string name = stage.value("name", "");
      const std::string dir = stage.value("dir", "");
      if (name.empty() || name == "final" || dir.empty() || dir == ".") continue;
      const fs::path target = fs::path(dir) / "metrics.h5";
      if (fs::exists(fs::path(run_dir) / target)) links.emplace_back(name, target.lexically_normal().string());
    }
  }
  io::h5_init();
  const std::string& w = h5_path.string();
  const std::string tmp = (fs::path(run_dir) / (".metrics.h5.stages." + std::to_string(::getpid()))).string();
  std::error_code ec;
  fs::copy_file(h5_path, tmp, fs::copy_options::overwrite_existing, ec);
  PTLAB_CHECK(!ec, "cannot copy {} to add its pipeline stages: {}", w, ec.message());
  try {
    io::H5Handle file(PTLAB_H5(w, H5Fopen(tmp.c_str(), H5F_ACC_RDWR, H5P_DEFAULT)), H5Fclose);
    io::H5Handle root = io::h5_group_open(file.get(), "/", w);
    if (io::h5_exists(root.get(), "stages", w)) PTLAB_H5(w, H5Ldelete(root.get(), "stages", H5P_DEFAULT));
    io::H5Handle stages = io::h5_group_create(root.get(), "stages", w + ":/stages");
    for (const auto& [name, target] : links)
      PTLAB_H5(w, H5Lcreate_external(target.c_str(), "/", stages.get(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT));
    io::H5Handle group = io::h5_exists(root.get(), "summary", w) ? io::h5_group_open(root.get(), "summary", w)
                                                                 : io::h5_group_create(root.get(), "summary", w);
    for (const auto& [key, value] : summary.items()) {
      if (H5Aexists(group.get(), key.c_str()) > 0) PTLAB_H5(w, H5Adelete(group.get(), key.c_str()));
      if (value.is_number_integer()) io::h5_write_attribute(group.get(), key, value.get<int64_t>(), w);
      else if (value.is_number()) io::h5_write_attribute(group.get(), key, value.get<double>(), w);
      else if (value.is_string()) io::h5_write_attribute(group.get(), key, value.get<std::string>(), w);
    }
  } catch (...) {
    fs::remove(tmp, ec);
    throw;
  }
  fs::rename(tmp, h5_path, ec);
  PTLAB_CHECK(!ec, "cannot replace {} with its copy holding the pipeline stages: {}", w, ec.message());
}

}  // namespace ptlab::launchers
