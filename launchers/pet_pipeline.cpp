// The `pet` pipeline: PET's stages (pattern models, the ensemble's soft labels, distillation) and iPET's
// generations, each stage a trial in the run directory (pipeline.h). The algorithms are methods/pet/pet.h.
#include "launchers/pipeline.h"

#include "framework/core/error.h"
#include "framework/core/log.h"
#include "framework/data/dataset.h"
#include "framework/io/jsonl_log.h"
#include "framework/io/safetensors.h"
#include "methods/pet/pet.h"
#include "tasks/task.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace ptlab::launchers {
namespace fs = std::filesystem;
namespace pet = methods::pet;
namespace {

constexpr const char* kSoftSplit = "pet_soft_labels";  // the final stage's training split
constexpr const char* kIpetSplit = "pet_train";        // an iPET stage's training split

std::string task_choice(const config::Composed& composed) {
  auto it = composed.choices.find("task");
  return it == composed.choices.end() || it->second.empty() ? "task" : it->second;
}

YAML::Node scalar(const std::string& value) { return YAML::Node(value); }

// A class index as the data file writes it: the label_map key that maps to the class (else its name).
std::string raw_label(const data::DatasetConfig& data, const std::vector<std::string>& classes, int64_t c) {
  const std::string& name = classes.at(static_cast<std::size_t>(c));
  for (const auto& [from, to] : data.label_map)
    if (to == name) return from;
  return name;
}

void write_lines(const std::string& path, const std::vector<nlohmann::json>& rows) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    PTLAB_CHECK(out.good(), "cannot write {}", path);
    for (const auto& row : rows) out << row.dump() << "\n";
  }
  fs::rename(tmp, path);
}

nlohmann::json text_row(const data::Example& example) {
  return {{"text_a", example.text_a}, {"text_b", example.text_b}, {"idx", example.index}};
}

// A file-backed split of `rows` jsonl rows {text_a, text_b, label[, soft_labels]}; its own limit (all of them)
// keeps a dataset-wide task.data.limit from cutting it.
YAML::Node split_node(const std::string& path, bool soft, int64_t rows) {
  YAML::Node split(YAML::NodeType::Map);
  split["path"] = path;
  split["limit"] = rows;
  YAML::Node fields(YAML::NodeType::Map);
  fields["text_a"] = "text_a";
  fields["text_b"] = "text_b";
  fields["label"] = "label";
  if (soft) fields["meta.soft_labels"] = "soft_labels";
  split["fields"] = fields;
  return split;
}

// A stage's overrides from a mapping, leaf by leaf ({optimizer: {lr: 1e-3}} sets trainer.optimizer.lr only, keeping
// the optimizer's other keys), as command-line overrides would.
void set_leaves(StageSpec& spec, const std::string& prefix, const YAML::Node& keys) {
  for (const auto& kv : keys) {
    const std::string path = prefix + "." + kv.first.Scalar();
    if (kv.second.IsMap() && kv.second.size() > 0) set_leaves(spec, path, kv.second);
    else spec.set.emplace_back(path, kv.second);
  }
}

struct Scores {
  at::Tensor scores;  // [N, C]
  at::Tensor labels;  // [N]
};

Scores read_predictions(const std::string& stage_dir, const std::string& split) {
  const std::string path = stage_dir + "/predictions/" + split + ".safetensors";
  PTLAB_CHECK(fs::exists(path), "PET: stage {} has no class scores for split {} ({}); remove the stage's folder to "
              "train it again", stage_dir, split, path);
  auto tensors = io::load_safetensors(path);
  return {tensors.at("scores"), tensors.at("labels")};
}

double accuracy(const at::Tensor& scores, const at::Tensor& labels) {
  const at::Tensor known = labels.ge(0);
  const int64_t n = known.sum().item<int64_t>();
  if (n == 0) return std::nan("");
  return scores.argmax(1).eq(labels).logical_and(known).sum().item<double>() / static_cast<double>(n);
}

struct Model {
  std::string name;                     // stage name
  std::string dir;                      // stage directory
  double weight = 1.0;
  std::map<std::string, Scores> splits;  // by split name
};

// Every numeric result of a stage as summary keys pet/<stage>/<split>/<metric>.
void add_stage_keys(nlohmann::json& out, const std::string& stage, const RunOutcome& outcome) {
  for (const auto& [split, values] : outcome.splits)
    for (const auto& [metric, value] : values)
      out["pet/" + stage + "/" + split + "/" + metric] = std::isfinite(value) ? nlohmann::json(value) : nlohmann::json();
}

RunOutcome run_pet(const config::Composed& composed, dist::Communicator& comm, const TrialInfo& trial) {
  const std::string run_dir = run_dir_of(composed);
  const bool rank0 = comm.rank() == 0;
  const pet::PetConfig cfg = pet::PetConfig::decode(composed.root["method"], composed.origins);
  const tasks::TaskConfig task =
      tasks::TaskConfig::from_config(composed.root, composed.origins, "task", task_choice(composed));
  PTLAB_CHECK(task.type == "classification" || task.type == "pair_classification",
              "method pet: task {} is {}; PET classifies (classification or pair_classification tasks)", task.name,
              task.type);
  PTLAB_CHECK(!task.pvps.empty(),
              "method pet: task {} has no pattern-verbalizer pairs; list them as task.pvps: [{{template: NAME, "
              "verbalizer: NAME or null}}, ...] ({})", task.name, task.where);
  std::vector<int64_t> selected = cfg.patterns;
  if (selected.empty())
    for (std::size_t i = 0; i < task.pvps.size(); ++i) selected.push_back(static_cast<int64_t>(i));
  for (int64_t p : selected)
    PTLAB_CHECK(p < static_cast<int64_t>(task.pvps.size()),
                "method.patterns: pattern {} is not in task.pvps, which has {} (0..{})", p, task.pvps.size(),
                task.pvps.size() - 1);
  PTLAB_CHECK(task.data.has_value(), "task {}: no data section", task.name);
  const data::DatasetConfig& data = *task.data;
  std::string splits;
  for (const auto& name : data.split_names()) splits += (splits.empty() ? "" : ", ") + name;
  PTLAB_CHECK(!data.unlabeled_split.empty(),
              "task.data.unlabeled_split: not set; PET labels the examples of an unlabeled split with its ensemble — "
              "name one with task.data.unlabeled_split=NAME (splits: {})", splits);
  PTLAB_CHECK(cfg.ipet.generations == 0 || selected.size() >= 2,
              "method.ipet.generations: iPET needs at least 2 patterns (each model learns from the others' labels); "
              "{} selected — add task.pvps or set method.ipet.generations=0", selected.size());

  // The parent of every stage: unlabeled_limit caps the unlabeled split for all of them.
  config::Composed parent = composed;
  parent.root = YAML::Clone(composed.root);
  if (cfg.unlabeled_limit > 0)
    set_key_path(parent.root, "task.data.splits." + data.unlabeled_split + ".limit", YAML::Node(cfg.unlabeled_limit));
  const tasks::TaskConfig parent_task =
      tasks::TaskConfig::from_config(parent.root, parent.origins, "task", task_choice(composed));
  const data::Dataset dataset = data::Dataset::load(*parent_task.data, {data.train_split, data.unlabeled_split});
  const auto& train = dataset.split(data.train_split);
  const auto& unlabeled = dataset.split(data.unlabeled_split);
  const std::vector<std::string>& classes = dataset.labels();
  PTLAB_CHECK(!classes.empty(), "method pet: task {} names no classes; list them in task.data.labels", task.name);
  PTLAB_CHECK(!unlabeled.empty(), "task.data.unlabeled_split: split {} has no rows", data.unlabeled_split);
  uint64_t seed = 0;
  if (composed.root["runtime"] && composed.root["runtime"]["seed"]) seed = composed.root["runtime"]["seed"].as<uint64_t>();

  std::vector<std::string> predict = {data.unlabeled_split};
  for (const auto& split : {data.dev_split, data.test_split})
    if (!split.empty() && std::find(predict.begin(), predict.end(), split) == predict.end()) predict.push_back(split);
  YAML::Node predict_node(YAML::NodeType::Sequence);
  for (const auto& split : predict) predict_node.push_back(split);

  auto pattern_spec = [&](const std::string& name, const tasks::PatternVerbalizerPair& pvp, YAML::Node method) {
    StageSpec spec;
    spec.name = name;
    spec.method = std::move(method);
    spec.set.emplace_back("task.template_name", pvp.template_name.empty() ? YAML::Node() : scalar(pvp.template_name));
    spec.set.emplace_back("task.verbalizer_name",
                          pvp.verbalizer_name.empty() ? YAML::Node() : scalar(pvp.verbalizer_name));
    return spec;
  };
  auto with_trainer = [](StageSpec& spec, const YAML::Node& keys) { set_leaves(spec, "trainer", keys); };
  nlohmann::json keys = nlohmann::json::object();  // pet/... summary keys of the earlier stages

  // Prior weights: each PVP's zero-shot accuracy on T (PET's "accuracy before training").
  std::vector<double> weights(selected.size(), 1.0);
  if (cfg.ensemble_weighting == "prior_accuracy") {
    for (std::size_t k = 0; k < selected.size(); ++k) {
      YAML::Node zero(YAML::NodeType::Map);
      zero["name"] = "zero_shot";
      StageSpec spec = pattern_spec("prior" + std::to_string(selected[k]), task.pvps[selected[k]], zero);
      spec.set.emplace_back("task.data.dev_split", scalar(data.train_split));
      spec.set.emplace_back("task.data.test_split", scalar(data.train_split));
      StageResult stage = run_stage(parent, run_dir, spec, comm, trial);
      if (rank0) record_stage(run_dir, "pet", stage);
      const auto& dev = stage.outcome.splits["dev"];
      weights[k] = dev.count("accuracy") ? dev.at("accuracy") : 0.0;
      keys["pet/" + spec.name + "/train/accuracy"] = weights[k];
    }
  }

  // Generation 0: PET's pattern models, trained on T.
  std::vector<Model> models;
  for (std::size_t k = 0; k < selected.size(); ++k) {
    StageSpec spec = pattern_spec("pattern" + std::to_string(selected[k]), task.pvps[selected[k]], cfg.pattern_method);
    spec.set.emplace_back("run.predict_splits", predict_node);
    with_trainer(spec, cfg.pattern_trainer);
    StageResult stage = run_stage(parent, run_dir, spec, comm, trial);
    if (rank0) record_stage(run_dir, "pet", stage);
    add_stage_keys(keys, spec.name, stage.outcome);
    Model model{spec.name, stage.dir, weights[k], {}};
    for (const auto& split : predict) model.splits[split] = read_predictions(stage.dir, split);
    models.push_back(std::move(model));
  }

  // iPET generations: model j learns from T plus D labelled by a random subset of the previous generation.
  std::vector<int64_t> train_counts(classes.size(), 0);
  for (const auto& example : train)
    if (example.label_id >= 0) ++train_counts[static_cast<std::size_t>(example.label_id)];
  const auto n = static_cast<int64_t>(models.size());
  for (int64_t g = 1; g <= cfg.ipet.generations; ++g) {
    std::vector<Model> next;
    for (int64_t j = 0; j < n; ++j) {
      const uint64_t draw_seed = seed * 1000003ULL + static_cast<uint64_t>(g) * 1009ULL + static_cast<uint64_t>(j);
      const auto subset = pet::ipet_subset(j, n, cfg.ipet.fraction, draw_seed);
      std::vector<at::Tensor> scores;
      std::vector<double> w;
      for (int64_t m : subset) {
        scores.push_back(models[static_cast<std::size_t>(m)].splits.at(data.unlabeled_split).scores);
        w.push_back(models[static_cast<std::size_t>(m)].weight);
      }
      const int64_t added = pet::ipet_added(g, static_cast<int64_t>(train.size()), cfg.ipet.growth,
                                            static_cast<int64_t>(unlabeled.size()));
      const pet::IpetDraw draw = pet::ipet_sample(pet::ensemble_scores(scores, w), train_counts, added, draw_seed);
      const std::string name = "ipet" + std::to_string(g) + "_pattern" + std::to_string(selected[j]);
      const std::string stage_dir = (fs::path(run_dir) / "stages" / name).string();
      const std::string file = stage_dir + "/train.jsonl";
      if (rank0) {
        std::vector<nlohmann::json> rows;
        for (const auto& example : train) {
          nlohmann::json row = text_row(example);
          row["label"] = example.label;
          rows.push_back(std::move(row));
        }
        for (std::size_t i = 0; i < draw.rows.size(); ++i) {
          nlohmann::json row = text_row(unlabeled[static_cast<std::size_t>(draw.rows[i])]);
          row["label"] = raw_label(data, classes, draw.labels[i]);
          rows.push_back(std::move(row));
        }
        fs::create_directories(stage_dir);
        write_lines(file, rows);
        std::string who;
        for (int64_t m : subset) who += (who.empty() ? "" : ", ") + models[static_cast<std::size_t>(m)].name;
        log_info("iPET generation {}: {} trains on {} examples of T + {} of D labelled by {}", g, name, train.size(),
                 draw.rows.size(), who);
      }
      comm.barrier();
      StageSpec spec = pattern_spec(name, task.pvps[selected[j]], cfg.pattern_method);
      spec.set.emplace_back("run.predict_splits", predict_node);
      spec.set.emplace_back(std::string("task.data.splits.") + kIpetSplit, split_node(fs::absolute(file).string(), false,
                                     static_cast<int64_t>(train.size() + draw.rows.size())));
      spec.set.emplace_back("task.data.train_split", scalar(kIpetSplit));
      with_trainer(spec, cfg.pattern_trainer);
      StageResult stage = run_stage(parent, run_dir, spec, comm, trial);
      if (rank0) record_stage(run_dir, "pet", stage);
      add_stage_keys(keys, name, stage.outcome);
      Model model{name, stage.dir, models[static_cast<std::size_t>(j)].weight, {}};
      for (const auto& split : predict) model.splits[split] = read_predictions(stage.dir, split);
      next.push_back(std::move(model));
    }
    models = std::move(next);
  }

  // label: the last generation's ensemble -> soft labels on D, and its own dev/test accuracy.
  std::map<std::string, at::Tensor> ensemble;
  std::vector<double> w;
  for (const auto& model : models) w.push_back(model.weight);
  for (const auto& split : predict) {
    std::vector<at::Tensor> scores;
    for (const auto& model : models) scores.push_back(model.splits.at(split).scores);
    ensemble[split] = pet::ensemble_scores(scores, w);
  }
  const at::Tensor q = pet::soft_labels(ensemble.at(data.unlabeled_split), cfg.temperature).contiguous();
  PTLAB_CHECK(q.size(0) == static_cast<int64_t>(unlabeled.size()) && q.size(1) == static_cast<int64_t>(classes.size()),
              "PET: the pattern models scored {} x {} on split {}, which has {} rows and {} classes", q.size(0),
              q.size(1), data.unlabeled_split, unlabeled.size(), classes.size());
  const std::string soft_file = (fs::path(run_dir) / "soft_labels.jsonl").string();
  StageResult label;
  label.dir = (fs::path(run_dir) / "stages" / "label").string();
  label.outcome.method = "pet_ensemble";
  for (const auto& split : {data.dev_split, data.test_split}) {
    if (split.empty()) continue;
    const double acc = accuracy(ensemble.at(split), models.front().splits.at(split).labels);
    const std::string as = split == data.dev_split ? "dev" : "test";
    label.outcome.splits[as]["accuracy"] = acc;
    keys["pet/ensemble/" + as + "/accuracy"] = std::isfinite(acc) ? nlohmann::json(acc) : nlohmann::json();
  }
  if (rank0) {
    fs::create_directories(run_dir);
    std::vector<nlohmann::json> rows;
    const float* p = q.data_ptr<float>();
    const at::Tensor hard = q.argmax(1).contiguous();
    for (std::size_t i = 0; i < unlabeled.size(); ++i) {
      nlohmann::json row = text_row(unlabeled[i]);
      std::ostringstream soft;
      soft.precision(9);
      for (std::size_t c = 0; c < classes.size(); ++c) soft << (c ? " " : "") << p[i * classes.size() + c];
      row["label"] = raw_label(data, classes, hard[static_cast<int64_t>(i)].item<int64_t>());
      row["soft_labels"] = soft.str();
      rows.push_back(std::move(row));
    }
    write_lines(soft_file, rows);
    record_stage(run_dir, "pet", label);
    log_info("PET: the ensemble of {} model(s) labelled {} examples of {} ({}, temperature {})", models.size(),
             unlabeled.size(), data.unlabeled_split, soft_file, cfg.temperature);
  }
  comm.barrier();

  // final: the distilled classifier, in the run directory itself.
  StageSpec final_spec;
  final_spec.method = cfg.final_method;
  final_spec.set.emplace_back(std::string("task.data.splits.") + kSoftSplit,
                              split_node(fs::absolute(soft_file).string(), true,
                                         static_cast<int64_t>(unlabeled.size())));
  final_spec.set.emplace_back("task.data.train_split", scalar(kSoftSplit));
  set_leaves(final_spec, "task", cfg.final_task);
  with_trainer(final_spec, cfg.final_trainer);
  const nlohmann::json before = io::read_json_file(run_dir + "/summary.json");
  StageResult final_stage;
  final_stage.dir = run_dir;
  if (before.is_object() && before.value("status", "") == "completed") {
    final_stage.reused = true;
    final_stage.outcome = outcome_from_run_dir(run_dir);
    log_info("pipeline: the final stage is complete ({}), reusing it", run_dir);
  } else {
    // A final stage that stopped before its first checkpoint starts over; one with a checkpoint continues.
    if (!fs::exists(fs::path(run_dir) / "checkpoint.safetensors") && rank0) remove_stage_outputs(run_dir);
    comm.barrier();
    final_stage = run_stage(parent, run_dir, final_spec, comm, trial);
  }
  if (rank0) {
    record_stage(run_dir, "pet", final_stage);
    nlohmann::json summary = io::read_json_file(run_dir + "/summary.json");
    if (summary.is_object()) {
      for (const auto& [key, value] : keys.items()) summary[key] = value;
      summary["pet/patterns"] = static_cast<int64_t>(selected.size());
      summary["pet/ipet_generations"] = cfg.ipet.generations;
      io::write_summary_json(run_dir + "/summary.json", summary);
    }
    nlohmann::json extra = keys;
    extra["pet/patterns"] = static_cast<int64_t>(selected.size());
    extra["pet/ipet_generations"] = cfg.ipet.generations;
    if (!final_stage.reused) link_stages(run_dir, extra);
  }
  comm.barrier();
  RunOutcome outcome = final_stage.outcome;
  outcome.run_dir = run_dir;
  return outcome;
}

}  // namespace

void register_pet_pipeline() {
  pipeline_registry().add("pet",
                          "PET / iPET: one model per pattern-verbalizer pair, their ensemble's soft labels on the "
                          "unlabeled split, distilled into one classifier (methods/pet/pet.h)",
                          PipelineEntry{run_pet});
}

}  // namespace ptlab::launchers
