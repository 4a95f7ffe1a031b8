#include "launchers/trial.h"

#include "launchers/pipeline.h"

#include "framework/config/reader.h"
#include "framework/config/yaml_value.h"
#include "framework/core/build_info.h"
#include "framework/core/clock.h"
#include "framework/core/error.h"
#include "framework/core/log.h"
#include "framework/core/threads.h"
#include "framework/data/dataset.h"
#include "framework/dist/device.h"
#include "framework/io/jsonl_log.h"
#include "framework/io/run_log.h"
#include "framework/io/safetensors.h"
#include "framework/models/gguf_import.h"
#include "framework/models/loader.h"
#include "framework/text/tokenizer.h"
#include "methods/method.h"
#include "tasks/objective.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>

namespace ptlab::launchers {
using train::Trainer;
using train::TrainerConfig;
using train::TrainerParts;
using train::MetricSink;

namespace fs = std::filesystem;
namespace {

// A YAML scalar as the JSON value it reads as (config.json fields for `model.architecture`).
nlohmann::json yaml_to_json(const YAML::Node& node) {
  if (node.IsMap()) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& kv : node) out[kv.first.as<std::string>()] = yaml_to_json(kv.second);
    return out;
  }
  if (node.IsSequence()) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& item : node) out.push_back(yaml_to_json(item));
    return out;
  }
  if (!node.IsDefined() || node.IsNull()) return nullptr;
  const std::string s = node.Scalar();
  if (node.Tag() == "!") return s;  // quoted: a string
  if (s == "true" || s == "True") return true;
  if (s == "false" || s == "False") return false;
  char* end = nullptr;
  const long long i = std::strtoll(s.c_str(), &end, 10);
  if (!s.empty() && *end == '\0') return i;
  const double d = std::strtod(s.c_str(), &end);
  if (!s.empty() && *end == '\0') return d;
  return s;
}

void flatten(const YAML::Node& node, const std::string& prefix, std::vector<std::pair<std::string, io::HParam>>& out) {
  if (node.IsMap()) {
    for (const auto& kv : node) {
      const std::string key = kv.first.as<std::string>();
      flatten(kv.second, prefix.empty() ? key : prefix + "." + key, out);
    }
    return;
  }
  if (!node.IsScalar()) return;
  auto j = yaml_to_json(node);
  if (j.is_boolean()) out.emplace_back(prefix, j.get<bool>());
  else if (j.is_number_integer()) out.emplace_back(prefix, j.get<int64_t>());
  else if (j.is_number()) out.emplace_back(prefix, j.get<double>());
  else if (j.is_string()) out.emplace_back(prefix, j.get<std::string>());
}

struct ModelConfig {
  std::string path;
  std::string tokenizer;
  YAML::Node architecture;
  std::string dtype = "auto";
  std::string where;
};

ModelConfig decode_model(const YAML::Node& root, const config::Origins& origins) {
  config::Reader r(root["model"], "model", origins);
  ModelConfig m;
  m.path = r.get<std::optional<std::string>>("path", std::nullopt).value_or("");
  m.tokenizer = r.get<std::optional<std::string>>("tokenizer", std::nullopt).value_or("");
  if (r.has("architecture")) m.architecture = YAML::Clone(root["model"]["architecture"]);
  m.dtype = r.get<std::string>("dtype", m.dtype);
  r.finish();
  const bool has_arch = m.architecture.IsDefined() && !m.architecture.IsNull();
  PTLAB_CHECK(!m.path.empty() || has_arch,
              "model: neither model.path (a Hugging Face model directory) nor model.architecture (a config.json "
              "mapping for random weights) is set; pick a model with model=NAME");
  if (!m.path.empty() && has_arch) {
    // A pretrained rung (configs/model/ladder_*.yaml): the model at `path` once it exists; `architecture` is
    // the recipe it is pretrained from (with model.path=null).
    PTLAB_CHECK(fs::exists(fs::path(m.path) / "config.json"),
                "model.path {} holds no pretrained model yet (no config.json); `ptlab demo` pretrains the ladder "
                "models, or pretrain this one with method=pretrain task=synthetic_lm model.path=null",
                m.path);
    m.architecture = YAML::Node();
  }
  // A .gguf file is imported once (cached) into a Hugging Face directory: weights, config and tokenizer.
  if (!m.tokenizer.empty() && models::is_gguf_path(m.tokenizer)) m.tokenizer = models::gguf_model_dir(m.tokenizer);
  if (!m.path.empty() && models::is_gguf_path(m.path)) m.path = models::gguf_model_dir(m.path);
  if (m.tokenizer.empty()) m.tokenizer = m.path;
  PTLAB_CHECK(!m.tokenizer.empty(), "model: model.architecture needs model.tokenizer (a tokenizer directory)");
  return m;
}

// The backbone last loaded from a directory, kept for the next trial of this process.
struct BackboneCache {
  std::string key;
  std::shared_ptr<models::Backbone> backbone;
};
BackboneCache& backbone_cache() {
  static BackboneCache cache;
  return cache;
}

// Everything a trial needs, built from the composed config.
struct Setup {
  ModelConfig model;
  std::shared_ptr<models::Backbone> backbone;
  std::unique_ptr<text::Tokenizer> tokenizer;
  tasks::TaskConfig task_config;
  std::unique_ptr<tasks::Task> task;
  std::unique_ptr<methods::Method> method;
  std::unique_ptr<tasks::Objective> objective;
  std::optional<data::Dataset> dataset;
  TrainerConfig trainer;
  uint64_t seed = 0;
  std::string run_dir;
  std::string identity;
  double flush_seconds = 5.0;
  std::vector<std::string> predict_splits;  ///< run.predict_splits: splits whose class scores are saved
};

std::string choice(const config::Composed& composed, const std::string& group, const std::string& fallback) {
  auto it = composed.choices.find(group);
  return it == composed.choices.end() || it->second.empty() ? fallback : it->second;
}

Setup build(const config::Composed& composed, dist::Communicator& comm, const std::vector<std::string>& splits,
            int ranks_on_node = 0) {
  Setup s;
  const YAML::Node& root = composed.root;
  std::string device_spec;
  bool share_devices = false;
  {
    config::Reader runtime(root["runtime"], "runtime", composed.origins);
    const int threads = runtime.get<int>("threads", 0);
    s.seed = static_cast<uint64_t>(runtime.get<int64_t>("seed", 0));
    runtime.get<std::string>("backend", "auto");
    device_spec = runtime.get<std::string>("device", "auto");
    share_devices = runtime.get<bool>("share_devices", false);
    runtime.finish();
    configure_threads(threads, ranks_on_node > 0 ? ranks_on_node : comm.local_size());
  }
  s.model = decode_model(root, composed.origins);
  models::LoadOptions load;
  load.device = dist::bind_device(device_spec, comm, share_devices);
  // auto: a frozen backbone in bf16 on a GPU (DESIGN.md), fp32 on CPU; trainable parameters stay fp32 and
  // are cast at the hook point.
  try {
    const bool gpu = load.device.is_cuda();
    load.dtype = models::parse_dtype(s.model.dtype == "auto" ? (gpu ? "bf16" : "fp32") : s.model.dtype);
  } catch (const Error& e) {
    PTLAB_FAIL("model.dtype: {} (or auto: bf16 on a GPU, fp32 on CPU)", e.what());
  }
  if (!s.model.path.empty()) {
    // Trials of a sweep group run in one process: a backbone loaded from the same directory with the same
    // dtype and device is reused, not loaded again (run_training drops it when a method trains it).
    auto& cache = backbone_cache();
    const std::string key = fmt::format("{}|{}|{}", fs::absolute(s.model.path).string(),
                                        static_cast<int>(load.dtype), load.device.str());
    if (cache.key == key && cache.backbone) {
      s.backbone = cache.backbone;
      log_debug("reusing the loaded backbone {}", s.model.path);
    } else {
      cache = {};  // release the previous model before loading the next
      s.backbone = models::load_backbone(s.model.path, load);
      cache = {key, s.backbone};
    }
  } else {
    models::HFConfig hf(yaml_to_json(s.model.architecture), "model.architecture");
    s.backbone = models::random_backbone(hf, load, s.seed);
  }
  s.tokenizer = text::load_tokenizer(s.model.tokenizer);
  PTLAB_CHECK(root["task"].IsDefined() && !root["task"].IsNull(), "no task: pick one with task=NAME (ptlab list tasks)");
  PTLAB_CHECK(root["method"].IsDefined() && !root["method"].IsNull(),
              "no method: pick one with method=NAME (ptlab list methods)");
  s.task_config = tasks::TaskConfig::from_config(root, composed.origins, "task", choice(composed, "task", "task"));
  s.task = tasks::make_task(s.task_config, *s.tokenizer, s.backbone->info());
  PTLAB_CHECK(s.task_config.data.has_value(), "task {}: no data section", s.task_config.name);
  std::vector<std::string> wanted;
  auto want = [&](const std::string& split) {
    if (!split.empty() && std::find(wanted.begin(), wanted.end(), split) == wanted.end()) wanted.push_back(split);
  };
  for (const auto& split : splits) want(split);
  if (const YAML::Node run = root["run"]; run && run.IsMap() && run["predict_splits"] && run["predict_splits"].IsSequence())
    for (const auto& split : run["predict_splits"]) want(split.as<std::string>());
  // A token task's tag set sizes the method's head, so it is known before the method is built, and it is the
  // same for training and `ptlab eval`: the sorted union of the train, dev and test splits' tags.
  const bool learns_tags = s.task->type() == "token_classification";
  const std::vector<std::string> tag_splits = {s.task_config.data->train_split, s.task_config.data->dev_split,
                                               s.task_config.data->test_split};
  if (learns_tags)
    for (const auto& split : tag_splits) want(split);
  s.dataset = data::Dataset::load(*s.task_config.data, wanted);
  if (learns_tags) {
    std::vector<data::Example> tagged;
    for (const auto& split : tag_splits) {
      if (split.empty()) continue;
      const auto& rows = s.dataset->split(split);
      tagged.insert(tagged.end(), rows.begin(), rows.end());
    }
    s.task->learn_labels(tagged);
  }
  methods::MethodContext context{*s.backbone, *s.tokenizer, *s.task, s.seed};
  const std::string& train_split = s.task_config.data->train_split;
  if (s.dataset->has_split(train_split)) context.train = &s.dataset->split(train_split);  // CPT's demonstrations
  s.method = methods::make_method(config::Reader(root["method"], "method", composed.origins), context);
  {
    // Virtual tokens in front must leave room for the text within the model's positions (RoPE models:
    // config.json's max_position_embeddings, the length they were trained at).
    const auto& info = s.backbone->info();
    const int64_t max_pos =
        info.max_positions > 0 ? info.max_positions : s.backbone->config().get_int("max_position_embeddings", 0);
    const int64_t front = s.method->front_soft_tokens(s.task->prompt());
    if (max_pos > 0) {
      PTLAB_CHECK(front < max_pos,
                  "method {}: {} virtual tokens do not fit the model's {} positions with any text; make its prompt "
                  "shorter than {} (method.length, or cpt's method.context_examples)",
                  s.method->name(), front, max_pos, max_pos);
      if (front + s.task_config.max_length > max_pos) {
        log_warn("{} virtual tokens + task.max_length {} exceed the model's {} positions; long examples will run "
                 "past the positions the model was trained on",
                 front, s.task_config.max_length, max_pos);
      }
    }
  }
  s.objective = std::make_unique<tasks::Objective>(*s.task, s.backbone->info(), s.method->head());
  if (auto calibrate = s.method->score_calibration()) s.objective->set_calibration(std::move(calibrate));
  s.trainer = TrainerConfig::decode(config::Reader(root["trainer"], "trainer", composed.origins));

  config::Reader run(root["run"], "run", composed.origins);
  std::string dir = run.get<std::optional<std::string>>("dir", std::nullopt).value_or("");
  s.flush_seconds = run.get<double>("flush_seconds", s.flush_seconds);
  s.predict_splits = run.get<std::vector<std::string>>("predict_splits", {});
  PTLAB_CHECK(s.predict_splits.empty() || s.objective->is_classification(),
              "run.predict_splits: class scores exist for classification tasks only; task {} is {}", s.task_config.name,
              s.task_config.type);
  PTLAB_CHECK(s.flush_seconds >= 0 && std::isfinite(s.flush_seconds),
              "run.flush_seconds: must be 0 (flush every row) or more seconds, got {}", s.flush_seconds);
  run.finish();
  if (dir.empty()) {
    std::string outputs = "outputs";
    if (root["paths"] && root["paths"]["outputs"]) outputs = root["paths"]["outputs"].as<std::string>();
    dir = fmt::format("{}/{}/{}/{}/seed{}", outputs, choice(composed, "task", "task"),
                      s.method->name(), choice(composed, "model", "model"), s.seed);
  }
  s.run_dir = dir;
  const auto& info = s.backbone->info();
  s.identity = fmt::format("model={} family={} params={} d={} | method={} trainable={}",
                           s.model.path.empty() ? "architecture" : fs::path(s.model.path).filename().string(),
                           info.family, info.num_parameters, info.hidden_size, s.method->name(),
                           [&] {
                             int64_t n = 0;
                             for (auto& [name, p] : s.method->trainable_parameters()) n += p.numel();
                             return n;
                           }());
  return s;
}

void prepare_run_dir(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  PTLAB_CHECK(!ec, "cannot create the run directory {}: {}; set run.dir (or paths.outputs) to a writable place", dir,
              ec.message());
  const std::string probe = dir + "/.write_test";
  {
    std::ofstream out(probe);
    PTLAB_CHECK(out.good(), "the run directory {} is not writable; set run.dir (or paths.outputs) to a writable place",
                dir);
  }
  fs::remove(probe, ec);
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  PTLAB_CHECK(out.good(), "cannot write {}", path);
  out << text;
}

std::string overrides_yaml(const std::vector<std::string>& overrides) {
  std::string out;
  if (overrides.empty()) return "[]\n";
  for (const auto& o : overrides) out += "- " + nlohmann::json(o).dump() + "\n";
  return out;
}

std::vector<io::MetricSpec> metric_specs(const Trainer& trainer, bool with_test) {
  std::vector<io::MetricSpec> specs;
  for (const auto& [split, name] : trainer.metric_series()) {
    std::string unit = name == "loss" ? "nats" : name == "lr" ? "1" : name == "tokens_per_s" ? "tokens/s" : "1";
    specs.push_back({split, name, unit, ""});
    if (with_test && split == "eval") specs.push_back({"test", name, unit, ""});
  }
  return specs;
}

void add_values(nlohmann::json& j, const std::string& prefix, const std::map<std::string, double>& values) {
  for (const auto& [k, v] : values) j[prefix + k] = std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
}

}  // namespace


RunOutcome run_training(const config::Composed& composed, dist::Communicator& comm, const TrialInfo& trial) {
  // A pipeline method (PET, PPT) runs its stages, each a trial of its own (pipeline.h).
  if (is_pipeline(composed)) {
    const std::string name = composed.root["method"]["name"].Scalar();
    return pipeline_registry().get(name).run(composed, comm, trial);
  }
  // Which splits: train, the dev split for selection, the test split for the final report.
  Setup s;
  {
    // The dataset config names dev/test splits; build() loads them all at once.
    auto task_config = tasks::TaskConfig::from_config(composed.root, composed.origins, "task", choice(composed, "task", "task"));
    PTLAB_CHECK(task_config.data.has_value(), "task {}: no data section", task_config.name);
    s = build(composed, comm, {task_config.data->train_split, task_config.data->dev_split, task_config.data->test_split},
              trial.ranks_on_node);
  }
  // A method that trains the backbone changes its weights: no later trial may reuse it.
  if (s.method->trains_backbone()) backbone_cache() = {};
  const std::string dev_split = s.task_config.data->dev_split;
  const std::string test_split = s.task_config.data->test_split;
  RunOutcome outcome;
  outcome.run_dir = s.run_dir;
  outcome.method = s.method->name();
  outcome.backbone_parameters = s.backbone->info().num_parameters;
  for (auto& [name, p] : s.method->trainable_parameters()) outcome.trainable_parameters += p.numel();
  const bool rank0 = comm.rank() == 0;
  if (rank0) prepare_run_dir(s.run_dir);
  comm.barrier();

  static const std::vector<data::Example> kNone;
  const auto& train = s.method->trains() ? s.dataset->split(s.task_config.data->train_split) : kNone;
  const auto& dev = dev_split.empty() ? kNone : s.dataset->split(dev_split);
  const auto& test = test_split.empty() ? kNone : s.dataset->split(test_split);

  std::unique_ptr<io::RunLog> log;
  std::unique_ptr<io::JsonlLog> jsonl;
  double last_flush = 0.0;
  MetricSink sink = [&](const std::string& split, int64_t step, double wall, const std::map<std::string, double>& values) {
    if (log) {
      for (const auto& [name, value] : values) log->log(split, name, step, value, wall);
      // Evaluations at once; training rows at most flush_seconds old (a killed run loses no more).
      const double now = unix_seconds();
      if (split != "train" || now - last_flush >= s.flush_seconds) {
        log->flush();
        last_flush = now;
      }
    }
    if (jsonl) {
      std::vector<std::pair<std::string, double>> row;
      for (const auto& [name, value] : values) row.emplace_back(name, value);  // JsonlLog adds "split/"
      jsonl->write(step, wall, split, row);
    }
  };
  Trainer trainer(s.trainer, TrainerParts{*s.backbone, *s.method, *s.task, *s.objective, comm, train, dev, s.run_dir,
                                          s.seed, s.identity},
                  sink, [&] {
                    // Every row up to a checkpoint is on disk before the checkpoint: a resume from it loses none.
                    if (log) {
                      log->flush();
                      last_flush = unix_seconds();
                    }
                  });
  if (rank0) {
    io::RunInfo info;
    info.run_id = fmt::format("{}-{:x}", fs::path(s.run_dir).filename().string(),
                              static_cast<uint64_t>(unix_seconds() * 1000));
    info.sweep_id = trial.sweep_id;
    info.job_num = trial.job_num;
    info.git_sha = build_git_sha();
    info.hostname = dist::host_name();
    info.world_size = comm.size();
    {
      // The config as the run was defined: trainer.resume says how this process started, not what it trains
      // (a resumed run's config then compares equal to the stored one).
      YAML::Node defined = YAML::Clone(composed.root);
      if (defined["trainer"] && defined["trainer"]["resume"]) defined["trainer"]["resume"] = false;
      info.config_yaml = config::to_yaml(defined);
    }
    info.overrides = composed.overrides;
    for (const char* group : {"model", "method", "trainer", "runtime"}) flatten(composed.root[group], group, info.hparams);
    for (const auto& [group, option] : composed.choices) info.hparams.emplace_back("choice." + group, option);
    info.hparams.emplace_back("trainable_parameters", outcome.trainable_parameters);
    info.hparams.emplace_back("backbone_parameters", outcome.backbone_parameters);
    write_text(s.run_dir + "/config.yaml", info.config_yaml);
    write_text(s.run_dir + "/overrides.yaml", overrides_yaml(composed.overrides));
    const bool resume = s.trainer.resume;
    // On resume from the checkpoint of step k, the rows logged after k belong to the future that was lost.
    const std::optional<int64_t> resume_from = trainer.resume_step();
    const bool has_log = fs::exists(s.run_dir + "/metrics.h5") || fs::exists(s.run_dir + "/metrics.jsonl");
    PTLAB_CHECK(!resume || resume_from || !has_log,
                "{}: trainer.resume=true but there is no checkpoint to resume from (checkpoint.safetensors), while "
                "metrics.h5 / metrics.jsonl there hold an earlier run; training from scratch would mix two runs in "
                "one log — remove the directory (or those files) to start over, or pick another run.dir",
                s.run_dir);
    PTLAB_CHECK(resume || !fs::exists(s.run_dir + "/metrics.h5"),
                "{} already holds a run (metrics.h5); continue it with trainer.resume=true, or pick another run.dir "
                "(or remove the directory)",
                s.run_dir);
    log = std::make_unique<io::RunLog>(s.run_dir + "/metrics.h5", info, metric_specs(trainer, !test.empty()), resume,
                                       resume_from);
    jsonl = std::make_unique<io::JsonlLog>(s.run_dir + "/metrics.jsonl", resume, resume_from);
    log_info("run {}: {} on {} with {} ({} trainable of {} parameters), {} rank(s)", s.run_dir, s.method->name(),
             s.task_config.name, s.model.path.empty() ? "a random model" : s.model.path, outcome.trainable_parameters,
             outcome.backbone_parameters, comm.size());
  }

  nlohmann::json summary = {{"run_dir", s.run_dir}, {"method", s.method->name()}, {"task", s.task_config.name},
                            {"git_sha", build_git_sha()}, {"world_size", comm.size()},
                            {"trainable_parameters", outcome.trainable_parameters},
                            {"backbone_parameters", outcome.backbone_parameters}};
  auto finish = [&](const std::string& status) {
    summary["status"] = status;
    if (!rank0) return;
    std::vector<std::pair<std::string, io::HParam>> attrs;
    for (const auto& [k, v] : summary.items()) {
      if (v.is_string()) attrs.emplace_back(k, v.get<std::string>());
      else if (v.is_number_integer()) attrs.emplace_back(k, v.get<int64_t>());
      else if (v.is_number()) attrs.emplace_back(k, v.get<double>());
    }
    std::vector<io::Artifact> artifacts;
    for (const auto& [name, t] : s.method->export_state()) {
      if (t.numel() > (1 << 22)) continue;  // backbones are saved as model/, not as artifacts
      auto c = t.detach().to(at::kCPU).to(at::kFloat).contiguous();
      io::Artifact a{name, std::vector<int64_t>(c.sizes().begin(), c.sizes().end()),
                     std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel())};
      artifacts.push_back(std::move(a));
    }
    if (log) log->finish(attrs, artifacts);
    log.reset();
    io::write_summary_json(s.run_dir + "/summary.json", summary);
  };

  try {
    if (s.method->trains()) {
      outcome.result = trainer.fit();
      summary["steps"] = outcome.result.steps;
      summary["best_step"] = outcome.result.best_step;
      summary["final_loss"] = outcome.result.last_loss;
      summary["train_seconds"] = outcome.result.train_seconds;
      summary["tokens_per_second"] = outcome.result.tokens_per_second;
      add_values(summary, "best/eval/", outcome.result.best_eval);
      add_values(summary, "final/eval/", outcome.result.last_eval);
      if (!dev.empty()) outcome.splits["dev"] = outcome.result.best_eval.empty() ? outcome.result.last_eval
                                                                                  : outcome.result.best_eval;
      if (outcome.result.status == "stopped") {
        finish("stopped");
        return outcome;
      }
    } else if (!dev.empty()) {
      outcome.splits["dev"] = trainer.evaluate(dev, s.trainer.eval_limit);
      add_values(summary, "final/eval/", outcome.splits["dev"]);
      sink("eval", 0, unix_seconds(), outcome.splits["dev"]);
    }
    if (!test.empty()) {
      outcome.splits["test"] = trainer.evaluate(test);
      add_values(summary, "test/", outcome.splits["test"]);
      sink("test", outcome.result.steps, unix_seconds(), outcome.splits["test"]);
    }
    if (rank0 && !s.predict_splits.empty()) {
      // run.predict_splits (PET's ensemble): each split's class scores with the final (best) state, and the
      // examples' class indices (-1 unlabeled), as predictions/<split>.safetensors {scores [N, C], labels [N]}.
      fs::create_directories(s.run_dir + "/predictions");
      for (const auto& split : s.predict_splits) {
        const auto& rows = s.dataset->split(split);
        std::vector<int64_t> labels;
        for (const auto& row : rows)
          labels.push_back(row.has_label() && s.task->verbalizer() ? s.task->verbalizer()->class_index(row.label_name) : -1);
        io::save_safetensors(s.run_dir + "/predictions/" + split + ".safetensors",
                             {{"scores", trainer.class_scores(rows)}, {"labels", at::tensor(labels, at::kLong)}},
                             {{"format", "pt"}, {"split", split}});
      }
    }
    if (rank0) {
      auto state = s.method->export_state();
      if (!state.empty()) {
        std::vector<std::pair<std::string, at::Tensor>> tensors;
        for (auto& [name, t] : state) tensors.emplace_back(name, t.detach().to(at::kCPU).contiguous());
        io::save_safetensors(s.run_dir + "/prompt.safetensors", tensors,
                             {{"format", "pt"}, {"ptlab_method", s.method->name()}});
      }
      s.method->save_exports(s.run_dir);
      if (s.method->trains_backbone()) {
        models::save_backbone(*s.backbone, s.run_dir + "/model");
        // A model directory is complete with its tokenizer (the pretrained ladder loads from it).
        for (const char* f : {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt",
                              "vocab.json", "merges.txt", "tokenizer.model", "spiece.model"}) {
          fs::path src = fs::path(s.model.tokenizer) / f;
          if (fs::exists(src)) fs::copy_file(src, fs::path(s.run_dir) / "model" / f, fs::copy_options::overwrite_existing);
        }
      }
    }
    finish(outcome.result.status.empty() ? "completed" : outcome.result.status);
  } catch (...) {
    try {
      finish("failed");
    } catch (...) {
    }
    throw;
  }
  return outcome;
}

RunOutcome run_evaluation(const config::Composed& composed, dist::Communicator& comm, const std::string& split,
                          const std::string& state_path) {
  PTLAB_CHECK(!is_pipeline(composed),
              "method {} is a pipeline of several trials; `ptlab eval` evaluates one method's state: evaluate its "
              "run directory's final stage with the method and overrides of that directory's config.yaml",
              composed.root["method"]["name"].Scalar());
  auto task_config = tasks::TaskConfig::from_config(composed.root, composed.origins, "task", choice(composed, "task", "task"));
  PTLAB_CHECK(task_config.data.has_value(), "task {}: no data section", task_config.name);
  std::string which = split;
  if (which.empty()) which = !task_config.data->test_split.empty() ? task_config.data->test_split : task_config.data->dev_split;
  PTLAB_CHECK(!which.empty(), "task {}: no test or dev split configured; name one with --split", task_config.name);
  std::vector<std::string> splits = {which};
  {
    // A method built from the train split even though nothing trains (ICL's demonstrations) gets it here too.
    const YAML::Node method = composed.root["method"];
    if (method && method.IsMap() && method["name"] && method["name"].IsScalar()) {
      methods::register_builtin_methods();
      const auto& registry = methods::method_registry();
      if (registry.contains(method["name"].Scalar()) && registry.get(method["name"].Scalar()).needs_train_split)
        splits.push_back(task_config.data->train_split);
    }
  }
  Setup s = build(composed, comm, splits);
  if (!state_path.empty()) {
    std::string path = state_path;
    if (fs::is_directory(path) && fs::exists(fs::path(path) / "prompt.safetensors")) path += "/prompt.safetensors";
    s.method->load_state(path);
  }
  static const std::vector<data::Example> kNone;
  Trainer trainer(s.trainer, TrainerParts{*s.backbone, *s.method, *s.task, *s.objective, comm, kNone, kNone, s.run_dir,
                                          s.seed, s.identity});
  RunOutcome outcome;
  outcome.method = s.method->name();
  outcome.splits[which] = trainer.evaluate(s.dataset->split(which));
  return outcome;
}

at::Tensor predict_class_probabilities(const config::Composed& composed, dist::Communicator& comm,
                                       const std::string& split, const std::string& state_path,
                                       std::vector<std::string>* classes) {
  Setup s = build(composed, comm, {split});
  PTLAB_CHECK(s.objective->is_classification(), "task {} is {}: class probabilities exist for classification only",
              s.task_config.name, s.task_config.type);
  if (!state_path.empty()) s.method->load_state(state_path);
  if (classes) *classes = s.task->class_names();
  static const std::vector<data::Example> kNone;
  Trainer trainer(s.trainer, TrainerParts{*s.backbone, *s.method, *s.task, *s.objective, comm, kNone, kNone, s.run_dir,
                                          s.seed, s.identity});
  return at::softmax(trainer.class_scores(s.dataset->split(split)), 1).contiguous();  // [N, C]
}

}  // namespace ptlab::launchers
