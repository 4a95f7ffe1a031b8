#include "launchers/ppt_pipeline.h"

#include "framework/config/yaml_value.h"
#include "framework/core/error.h"
#include "framework/core/log.h"
#include "framework/data/rng.h"
#include "framework/io/jsonl_log.h"
#include "launchers/pipeline.h"
#include "methods/ppt/ppt.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

namespace ptlab::launchers {
namespace fs = std::filesystem;
namespace ppt = methods::ppt;

namespace {

std::string outputs_dir(const YAML::Node& root) {
  if (root["paths"] && root["paths"]["outputs"]) return root["paths"]["outputs"].as<std::string>();
  return "outputs";
}

// Sets every key of `changes` in `into`: mappings merge key by key, dotted keys ("optimizer.lr") are paths.
void merge_into(YAML::Node into, const YAML::Node& changes, const std::string& prefix = "") {
  for (const auto& kv : changes) {
    const std::string key = prefix.empty() ? kv.first.Scalar() : prefix + "." + kv.first.Scalar();
    if (kv.second.IsMap()) {
      merge_into(into, kv.second, key);
    } else {
      set_key_path(into, key, kv.second);
    }
  }
}

// The pre-training trainer: `trainer:` with method.pretrain_trainer's keys set.
YAML::Node pretrain_trainer(const YAML::Node& root, const ppt::PptConfig& c) {
  YAML::Node trainer = root["trainer"] ? YAML::Clone(root["trainer"]) : YAML::Node(YAML::NodeType::Map);
  YAML::Node holder(YAML::NodeType::Map);
  holder["trainer"] = trainer;
  merge_into(holder["trainer"], c.pretrain_trainer);
  return YAML::Clone(holder["trainer"]);
}

std::string absolute(const std::string& path) {
  std::error_code ec;
  const fs::path p = fs::weakly_canonical(fs::absolute(path), ec);
  return ec ? fs::absolute(path).string() : p.string();
}

// Size and modification time: a corpus or labeler edited in place gets a new cache directory.
std::string file_stamp(const std::string& path) {
  std::error_code ec;
  const auto size = fs::is_regular_file(path, ec) ? static_cast<int64_t>(fs::file_size(path, ec)) : int64_t{-1};
  const auto time = fs::last_write_time(path, ec);
  return fmt::format("{}@{}", size, ec ? 0 : static_cast<int64_t>(time.time_since_epoch().count()));
}

std::string labeler_state(const std::string& dir) { return (fs::path(dir) / "prompt.safetensors").string(); }

// What defines the pre-training, as a mapping (key.yaml) — its hash names the cache directory.
YAML::Node cache_key(const YAML::Node& root, const ppt::PptConfig& c) {
  YAML::Node key(YAML::NodeType::Map);
  const YAML::Node model = root["model"];
  if (model && model.IsMap()) {
    for (const char* k : {"path", "tokenizer"})
      if (model[k] && !model[k].IsNull()) key["model"][k] = absolute(model[k].Scalar());
    if (model["dtype"]) key["model"]["dtype"] = YAML::Clone(model["dtype"]);
    if (model["architecture"] && !model["architecture"].IsNull())
      key["model"]["architecture"] = YAML::Clone(model["architecture"]);
  }
  key["format"] = ppt::format_name(c.format);
  key["corpus"] = absolute(c.corpus);
  key["corpus_stamp"] = file_stamp(c.corpus);
  key["corpus_limit"] = c.corpus_limit;
  key["block_sentences"] = c.block_sentences;
  key["train_examples"] = c.train_examples;
  key["dev_examples"] = c.dev_examples;
  if (c.format == ppt::Format::kNss) key["options"] = c.options;
  if (c.format == ppt::Format::kUnified) {
    key["min_options"] = c.min_options;
    key["max_options"] = c.max_options;
  }
  if (c.labeler) {
    key["labeler"] = absolute(*c.labeler);
    key["labeler_stamp"] = file_stamp(labeler_state(*c.labeler));
    key["min_confidence"] = c.min_confidence;
  }
  if (c.template_text) key["template"] = *c.template_text;
  if (c.verbalizer.IsDefined() && !c.verbalizer.IsNull()) key["verbalizer"] = YAML::Clone(c.verbalizer);
  key["max_length"] = c.max_length;
  key["seed"] = static_cast<int64_t>(c.seed);
  key["length"] = c.length;
  key["init"] = c.init;
  key["pretrain_method"] = YAML::Clone(c.pretrain_method);
  YAML::Node trainer = pretrain_trainer(root, c);
  for (const char* k : {"resume", "progress"})
    if (trainer[k]) trainer.remove(k);  // how a process runs, not what it trains
  key["trainer"] = trainer;
  return key;
}

std::string pretrain_dir_of(const YAML::Node& root, const ppt::PptConfig& c) {
  const YAML::Node key = cache_key(root, c);
  const uint64_t hash = data::hash_name(config::to_yaml(key));
  const std::string base = c.cache_dir.value_or(outputs_dir(root) + "/ppt_pretrain");
  return fmt::format("{}/{}-{:016x}", base, ppt::format_name(c.format), hash);
}

void write_file(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    PTLAB_CHECK(out.good(), "cannot write {}", tmp);
    out << text;
  }
  fs::rename(tmp, path);
}

// The labeler's task mapping (from its config.yaml), for cls's template, verbalizer and classes.
YAML::Node labeler_task(const std::string& dir, const std::string& where) {
  const fs::path config = fs::path(dir) / "config.yaml";
  PTLAB_CHECK(fs::is_regular_file(config),
              "{}: {} is not a ptlab run directory (no config.yaml); give the run directory of a trained classifier",
              where, dir);
  const YAML::Node root = YAML::LoadFile(config.string());
  PTLAB_CHECK(root["task"] && root["task"].IsMap(), "{}: {} has no task in its config.yaml", where, config.string());
  return YAML::Clone(root["task"]);
}

// The data stage: the corpus -> examples -> data/{train,dev}.jsonl (+ labels.jsonl for cls). Returns the
// classes of the pre-training task.
std::vector<std::string> run_data_stage(const ppt::PptConfig& c, const std::string& dir, dist::Communicator& comm) {
  const fs::path data_dir = fs::path(dir) / "data";
  const fs::path record_path = data_dir / "data.json";
  const int64_t max_options = c.format == ppt::Format::kNss ? c.options : c.max_options;
  std::vector<std::string> labels = ppt::format_labels(c.format, max_options);
  const nlohmann::json record = io::read_json_file(record_path.string());
  if (record.is_object() && record.contains("labels")) {
    log_info("ppt: data stage is complete ({}), reusing it", data_dir.string());
    return record["labels"].get<std::vector<std::string>>();
  }
  const ppt::Corpus corpus = ppt::read_corpus(c.corpus, c.block_sentences, c.corpus_limit, c.at("corpus"));
  const int64_t count = c.train_examples + c.dev_examples;
  std::vector<ppt::PptExample> examples;
  nlohmann::json labels_json = nlohmann::json::array();
  switch (c.format) {
    case ppt::Format::kNsp: examples = ppt::build_nsp(corpus, count, c.seed, c.at("format")); break;
    case ppt::Format::kNss: examples = ppt::build_nss(corpus, count, c.options, c.options, c.seed, c.at("options")); break;
    case ppt::Format::kUnified:
      examples = ppt::build_nss(corpus, count, c.min_options, c.max_options, c.seed, c.at("max_options"));
      break;
    case ppt::Format::kCls: {
      std::vector<std::string> texts;
      for (const auto& d : corpus.documents) texts.insert(texts.end(), d.begin(), d.end());
      const ClassPredictions predicted = predict_with_labeler(*c.labeler, texts, dir, comm, c.at("labeler"));
      std::vector<ppt::Prediction> predictions;
      for (std::size_t i = 0; i < texts.size(); ++i) {
        const auto& p = predicted.probs[i];
        const std::size_t best = static_cast<std::size_t>(std::max_element(p.begin(), p.end()) - p.begin());
        predictions.push_back({predicted.classes[best], p[best]});
        labels_json.push_back({{"text", texts[i]}, {"label", predicted.classes[best]}, {"probability", p[best]}});
      }
      labels = predicted.classes;
      if (comm.rank() == 0) {
        // Written before the examples are built, so that a labeler whose labels are unusable can be inspected.
        fs::create_directories(data_dir);
        std::string text;
        for (const auto& row : labels_json) text += row.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
        write_file((data_dir / "labels.jsonl").string(), text);
      }
      examples = ppt::build_cls(corpus, predictions, count, c.min_confidence, c.seed, c.at("min_confidence"));
      break;
    }
  }
  // The last dev_examples are the dev split (cls may have fewer: a tenth of them, at least one training).
  int64_t dev = std::min<int64_t>(c.dev_examples, static_cast<int64_t>(examples.size()) / 10);
  if (c.format != ppt::Format::kCls) dev = c.dev_examples;
  std::vector<ppt::PptExample> train(examples.begin(), examples.end() - dev);
  std::vector<ppt::PptExample> dev_rows(examples.end() - dev, examples.end());
  if (comm.rank() == 0) {
    fs::create_directories(data_dir);
    ppt::write_examples_jsonl((data_dir / "train.jsonl").string(), train);
    // An empty dev split still gets its file, so the task's config stays the same.
    ppt::write_examples_jsonl((data_dir / "dev.jsonl").string(), dev_rows);
    nlohmann::json out = {{"format", ppt::format_name(c.format)},
                          {"corpus", c.corpus},
                          {"documents", corpus.documents.size()},
                          {"sentences", corpus.num_sentences()},
                          {"pseudo_documents", corpus.pseudo_documents},
                          {"block_sentences", c.block_sentences},
                          {"train", train.size()},
                          {"dev", dev_rows.size()},
                          {"seed", c.seed},
                          {"labels", labels}};
    io::write_summary_json(record_path.string(), out);  // last: its presence marks the data as complete
    log_info("ppt: {} examples ({} train, {} dev) of format {} from {} ({} sentences in {} {}documents) in {}",
             examples.size(), train.size(), dev_rows.size(), ppt::format_name(c.format), c.corpus,
             corpus.num_sentences(), corpus.documents.size(), corpus.pseudo_documents ? "pseudo-" : "",
             data_dir.string());
  }
  comm.barrier();
  return labels;
}

std::string state_file(const std::string& path, const std::string& where) {
  std::string file = path;
  if (fs::is_directory(file)) file = (fs::path(file) / "prompt.safetensors").string();
  PTLAB_CHECK(fs::is_regular_file(file),
              "{}: no pre-trained prompt at {} (a prompt.safetensors, or a run directory holding one)", where, path);
  return file;
}

RunOutcome run_ppt(const config::Composed& composed, dist::Communicator& comm, const TrialInfo& trial) {
  const ppt::PptConfig c = ppt::PptConfig::decode(composed.root["method"], composed.origins);
  const std::string run_dir = run_dir_of(composed);
  std::optional<StageResult> pretrain;
  std::string prompt_path;
  // Checked before pre-training, which may take long.
  std::vector<std::pair<std::string, YAML::Node>> unified_set;
  if (!c.stop_after) {
    if (c.format == ppt::Format::kUnified) {
      // Unified PPT: the task's multiple-choice template and letter verbalizer, unless a template was chosen.
      const YAML::Node task = composed.root["task"];
      const bool chosen = task && task["template_name"] && !task["template_name"].IsNull();
      if (!chosen) {
        PTLAB_CHECK(task && task["templates"] && task["templates"]["unified"] && task["verbalizers"] &&
                        task["verbalizers"]["unified"],
                    "method.format: unified transfers to a task's `unified` template and verbalizer (its classes as "
                    "lettered options), but task {} has no task.templates.unified / task.verbalizers.unified; add "
                    "them, or choose a template with task.template_name",
                    composed.choices.count("task") ? composed.choices.at("task") : std::string("task"));
        unified_set.emplace_back("task.template_name", YAML::Node("unified"));
        unified_set.emplace_back("task.verbalizer_name", YAML::Node("unified"));
      }
    }
  }
  if (c.pretrained) {
    prompt_path = state_file(*c.pretrained, c.at("pretrained"));
  } else {
    const std::string dir = pretrain_dir_of(composed.root, c);
    if (comm.rank() == 0) {
      fs::create_directories(dir);
      write_file(dir + "/key.yaml", config::to_yaml(cache_key(composed.root, c)) + "\n");
    }
    comm.barrier();
    YAML::Node labeler = c.labeler ? labeler_task(*c.labeler, c.at("labeler")) : YAML::Node();
    const std::vector<std::string> labels = run_data_stage(c, dir, comm);
    StageSpec spec;
    spec.name = "pretrain";
    spec.dir = dir;
    YAML::Node method(YAML::NodeType::Map);
    method["name"] = "prompt_tuning";
    method["length"] = c.length;
    method["init"] = c.init;
    for (const auto& kv : c.pretrain_method) method[kv.first.Scalar()] = YAML::Clone(kv.second);
    spec.method = method;
    spec.set.emplace_back("task", ppt::pretraining_task(c, fs::absolute(dir + "/data").string(), labeler, labels));
    spec.set.emplace_back("trainer", pretrain_trainer(composed.root, c));
    spec.set.emplace_back("runtime.seed", YAML::Node(static_cast<int64_t>(c.seed)));
    spec.choices["task"] = std::string("ppt_") + ppt::format_name(c.format);
    pretrain = run_stage(composed, run_dir, spec, comm, trial);
    prompt_path = dir + "/prompt.safetensors";
    PTLAB_CHECK(pretrain->outcome.result.status == "completed" || pretrain->reused,
                "ppt: the pre-training in {} ended {}; run again to resume it", dir, pretrain->outcome.result.status);
    if (c.stop_after) {
      log_info("ppt: pre-trained prompt {} (method.stop_after=pretrain); transfer it with method=prompt_tuning "
               "method.init=file method.init_file={}",
               prompt_path, prompt_path);
      return pretrain->outcome;
    }
  }
  // The downstream trial, in the pipeline's run directory.
  StageSpec final_spec;
  YAML::Node method(YAML::NodeType::Map);
  method["name"] = "prompt_tuning";
  method["length"] = c.length;
  for (const auto& kv : c.transfer_method) method[kv.first.Scalar()] = YAML::Clone(kv.second);
  method["init"] = "file";
  method["init_file"] = fs::absolute(prompt_path).string();
  final_spec.method = method;
  final_spec.set = unified_set;
  StageResult final_stage = run_stage(composed, run_dir, final_spec, comm, trial);
  if (comm.rank() == 0) {
    if (pretrain) record_stage(run_dir, "ppt", *pretrain);
    record_stage(run_dir, "ppt", final_stage);
    link_stages(run_dir, nlohmann::json{{"ppt/pretrained_prompt", fs::absolute(prompt_path).string()}});
  }
  comm.barrier();
  final_stage.outcome.run_dir = run_dir;
  return final_stage.outcome;
}

}  // namespace

void register_ppt_pipeline() {
  pipeline_registry().add("ppt", "PPT: prompt pre-training on a corpus, then prompt tuning from it (methods/ppt/ppt.h)",
                          PipelineEntry{run_ppt});
}

std::string ppt_pretrain_dir(const config::Composed& composed) {
  const ppt::PptConfig c = ppt::PptConfig::decode(composed.root["method"], composed.origins);
  return pretrain_dir_of(composed.root, c);
}

ClassPredictions predict_with_labeler(const std::string& labeler_dir, const std::vector<std::string>& texts,
                                      const std::string& work_dir, dist::Communicator& comm, const std::string& where) {
  YAML::Node task = labeler_task(labeler_dir, where);
  const std::string type = task["type"] ? task["type"].Scalar() : "classification";
  PTLAB_CHECK(type == "classification",
              "{}: the labeler {} was trained on a task of type {}; cls needs a single-sentence classifier "
              "(type classification)",
              where, labeler_dir, type);
  const std::string state = labeler_state(labeler_dir);
  PTLAB_CHECK(fs::is_regular_file(state),
              "{}: {} holds no trained classifier (no prompt.safetensors); train one first, e.g. ptlab train "
              "task=sst5 method=prompt_tuning",
              where, labeler_dir);
  config::Composed composed;
  composed.root = YAML::LoadFile((fs::path(labeler_dir) / "config.yaml").string());
  // Its data: the corpus sentences as one unlabeled split (JSONL {"text_a": ...}).
  const fs::path dir = fs::path(work_dir) / "labeler";
  const std::string corpus = (dir / "sentences.jsonl").string();
  if (comm.rank() == 0) {
    fs::create_directories(dir);
    std::string text;
    for (const auto& t : texts) text += nlohmann::json({{"text_a", t}}).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    write_file(corpus, text);
  }
  comm.barrier();
  YAML::Node data = task["data"] ? YAML::Clone(task["data"]) : YAML::Node(YAML::NodeType::Map);
  YAML::Node new_data(YAML::NodeType::Map);
  new_data["splits"]["train"]["path"] = corpus;  // named train: the data defaults (few_shot) name it
  new_data["fields"]["text_a"] = "text_a";
  if (data["labels"]) new_data["labels"] = data["labels"];
  if (data["label_map"]) new_data["label_map"] = data["label_map"];
  new_data["train_split"] = "train";
  new_data["dev_split"] = YAML::Node(YAML::NodeType::Null);
  new_data["test_split"] = YAML::Node(YAML::NodeType::Null);
  composed.root["task"]["data"] = new_data;
  composed.root["run"]["dir"] = dir.string();
  composed.choices["task"] = "labeler";
  composed.choices["method"] = composed.root["method"]["name"].Scalar();
  ClassPredictions out;
  at::Tensor probs = predict_class_probabilities(composed, comm, "train", state, &out.classes);  // [N, C]
  const int64_t n = probs.size(0), k = probs.size(1);
  PTLAB_ASSERT(n == static_cast<int64_t>(texts.size()), "labeler predicted {} rows for {} sentences", n, texts.size());
  auto acc = probs.accessor<float, 2>();
  for (int64_t i = 0; i < n; ++i) {
    std::vector<double> row(static_cast<std::size_t>(k));
    for (int64_t j = 0; j < k; ++j) row[static_cast<std::size_t>(j)] = acc[i][j];
    out.probs.push_back(std::move(row));
  }
  return out;
}

}  // namespace ptlab::launchers
