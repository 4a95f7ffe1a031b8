// The PET pipeline end to end through `ptlab train method=pet` (launchers/pet_pipeline.cpp): two pattern models
// on stories260K + SST-2 (16 labeled rows, 8 unlabeled from GLUE's unlabeled test file, 2 steps each), the
// ensemble's soft labels, the distilled final model; a run whose final stage fails resumes without training
// the pattern models again; iPET's generation trains on T plus ensemble-labelled D; bad inputs are one line.
#include "tests/launchers/train_support.h"

#include <cmath>
#include <sstream>

namespace ptlab::launchers {
namespace {

using namespace ptlab::launchers::testing;
using models::testing::TempDir;
namespace fs = std::filesystem;

std::string pet_args(const std::string& run_dir, const std::string& extra = "", const std::string& task = "sst2") {
  return fmt_args({"--config-dir", std::string(PTLAB_SOURCE_DIR) + "/configs",
                   "paths.shared=" + std::string(PTLAB_SHARED_DIR), "model=stories260K", "task=" + task,
                   "task.data.limit=16", "task.data.unlabeled_split=test_unlabeled", "method=pet",
                   "'method.patterns=[0,1]'", "method.unlabeled_limit=8", "trainer.max_steps=2",
                   "trainer.batch_size=4", "trainer.eval_batch_size=16", "runtime.threads=1", "run.dir=" + run_dir,
                   extra});
}

std::vector<nlohmann::json> read_lines(const std::string& path) {
  std::vector<nlohmann::json> rows;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) rows.push_back(nlohmann::json::parse(line));
  return rows;
}

nlohmann::json stage_entry(const nlohmann::json& pipeline, const std::string& name) {
  for (const auto& stage : pipeline["stages"])
    if (stage["name"] == name) return stage;
  return nullptr;
}

std::vector<double> numbers(const std::string& text) {
  std::istringstream in(text);
  std::vector<double> out;
  for (double v; in >> v;) out.push_back(v);
  return out;
}

TEST(PetPipeline, StagesSoftLabelsDistillationAndResumeAfterAFailedFinalStage) {
  REQUIRE_SHARED();
  TempDir dir;
  const std::string run = dir.sub("run");
  // The final stage fails (a trainer key it does not know); the pattern stages and the labels are done.
  Result failed = ptlab("train " + pet_args(run, "'method.final_trainer={no_such_key: 1}'"), dir);
  ASSERT_NE(failed.code, 0);
  EXPECT_NE(failed.err.find("no_such_key"), std::string::npos) << failed.err;
  for (const char* stage : {"pattern0", "pattern1"}) {
    const std::string s = run + "/stages/" + stage;
    ASSERT_EQ(read_json(s + "/summary.json")["status"], "completed") << stage;
    for (const char* split : {"test_unlabeled", "dev", "test"})
      EXPECT_TRUE(fs::exists(s + "/predictions/" + split + ".safetensors")) << stage << " " << split;
  }
  EXPECT_FALSE(fs::exists(run + "/summary.json"));
  const auto mtime0 = fs::last_write_time(run + "/stages/pattern0/metrics.h5");
  const auto mtime1 = fs::last_write_time(run + "/stages/pattern1/model/model.safetensors");

  // Soft labels = softmax(mean of the two models' scores / 2) on the 8 unlabeled rows.
  const auto rows = read_lines(run + "/soft_labels.jsonl");
  ASSERT_EQ(rows.size(), 8u);
  const auto u0 = io::load_safetensors(run + "/stages/pattern0/predictions/test_unlabeled.safetensors").at("scores");
  const auto u1 = io::load_safetensors(run + "/stages/pattern1/predictions/test_unlabeled.safetensors").at("scores");
  ASSERT_EQ(u0.size(0), 8);
  const at::Tensor q = at::softmax((u0 + u1) / 2.0 / 2.0, 1);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto soft = numbers(rows[i]["soft_labels"].get<std::string>());
    ASSERT_EQ(soft.size(), 2u);
    EXPECT_NEAR(soft[0], q[static_cast<int64_t>(i)][0].item<double>(), 1e-6);
    EXPECT_NEAR(soft[0] + soft[1], 1.0, 1e-6);
    EXPECT_EQ(rows[i]["label"], soft[1] > soft[0] ? "1" : "0");  // the file's raw label of the argmax class
  }

  // Rerun: the pattern stages are reused (not retrained), the final stage trains on the soft labels.
  Result ok = ptlab("train " + pet_args(run), dir);
  ASSERT_EQ(ok.code, 0) << ok.err;
  EXPECT_EQ(fs::last_write_time(run + "/stages/pattern0/metrics.h5"), mtime0);
  EXPECT_EQ(fs::last_write_time(run + "/stages/pattern1/model/model.safetensors"), mtime1);
  const auto pipeline = read_json(run + "/pipeline.json");
  EXPECT_EQ(pipeline["pipeline"], "pet");
  EXPECT_EQ(stage_entry(pipeline, "pattern0")["reused"], true);
  EXPECT_EQ(stage_entry(pipeline, "pattern1")["reused"], true);
  EXPECT_EQ(stage_entry(pipeline, "final")["status"], "completed");
  ASSERT_FALSE(stage_entry(pipeline, "label").is_null());
  const auto summary = read_json(run + "/summary.json");
  EXPECT_EQ(summary["status"], "completed");
  EXPECT_EQ(summary["method"], "full_finetune");  // the distilled model
  EXPECT_TRUE(summary.contains("test/accuracy"));
  EXPECT_TRUE(fs::exists(run + "/metrics.h5"));
  EXPECT_TRUE(fs::exists(run + "/model/model.safetensors"));
  for (const char* key : {"pet/pattern0/test/accuracy", "pet/pattern1/test/accuracy", "pet/ensemble/test/accuracy",
                          "pet/ensemble/dev/accuracy"})
    EXPECT_TRUE(summary.contains(key)) << key;
  // The ensemble's test accuracy is argmax of the mean scores against the gold labels.
  const auto t0 = io::load_safetensors(run + "/stages/pattern0/predictions/test.safetensors");
  const auto t1 = io::load_safetensors(run + "/stages/pattern1/predictions/test.safetensors");
  const at::Tensor gold = t0.at("labels");
  const double expected =
      ((t0.at("scores") + t1.at("scores")) / 2).argmax(1).eq(gold).sum().item<double>() / gold.size(0);
  EXPECT_NEAR(summary["pet/ensemble/test/accuracy"].get<double>(), expected, 1e-9);
  EXPECT_EQ(read_json(run + "/stages/pattern0/summary.json")["test/accuracy"], summary["pet/pattern0/test/accuracy"]);
  // The run's metrics.h5 is the pipeline's HDF5 entry point: external links to each pattern stage's log and PET's
  // numbers as /summary attributes.
  const int64_t pattern_evals = series_length(run + "/stages/pattern0/metrics.h5", "/metrics/eval/accuracy/value");
  ASSERT_GT(pattern_evals, 0);
  EXPECT_EQ(series_length(run + "/metrics.h5", "/stages/pattern0/metrics/eval/accuracy/value"), pattern_evals);
  EXPECT_GT(series_length(run + "/metrics.h5", "/stages/pattern1/metrics/eval/accuracy/value"), 0);
  {
    hid_t f = H5Fopen((run + "/metrics.h5").c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    ASSERT_GE(f, 0);
    hid_t a = H5Aopen_by_name(f, "/summary", "pet/ensemble/test/accuracy", H5P_DEFAULT, H5P_DEFAULT);
    ASSERT_GE(a, 0) << "no pet/ensemble/test/accuracy attribute on /summary";
    double value = -1;
    H5Aread(a, H5T_NATIVE_DOUBLE, &value);
    EXPECT_NEAR(value, expected, 1e-9);
    H5Aclose(a);
    H5Fclose(f);
  }
  // The final stage trained on the soft-labels split.
  std::ifstream cfg(run + "/config.yaml");
  std::stringstream text;
  text << cfg.rdbuf();
  EXPECT_NE(text.str().find("train_split: pet_soft_labels"), std::string::npos);

  // A completed pipeline run again reuses every stage.
  const auto final_mtime = fs::last_write_time(run + "/metrics.h5");
  Result again = ptlab("train " + pet_args(run), dir);
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_EQ(fs::last_write_time(run + "/metrics.h5"), final_mtime);
}

TEST(PetPipeline, IpetGenerationTrainsOnTPlusEnsembleLabelledExamples) {
  REQUIRE_SHARED();
  TempDir dir;
  const std::string run = dir.sub("run");
  // growth 1.5: generation 1 adds round(0.5 * 16) = 8 examples of D (all 8, if the classes allow).
  Result r = ptlab("train " + pet_args(run, "method.ipet.generations=1 method.ipet.growth=1.5 method.ipet.fraction=1"),
                   dir);
  ASSERT_EQ(r.code, 0) << r.err;
  const auto pipeline = read_json(run + "/pipeline.json");
  for (const char* stage : {"pattern0", "pattern1", "ipet1_pattern0", "ipet1_pattern1", "label", "final"})
    EXPECT_FALSE(stage_entry(pipeline, stage).is_null()) << stage;
  const auto train = read_lines(run + "/stages/ipet1_pattern0/train.jsonl");
  EXPECT_GT(train.size(), 16u);   // T plus labelled examples of D ...
  EXPECT_LE(train.size(), 24u);   // ... at most 8 of them
  // The iPET stage trained on all of its file, though task.data.limit=16 caps the task's other splits.
  std::ifstream cfg(run + "/stages/ipet1_pattern0/config.yaml");
  std::stringstream text;
  text << cfg.rdbuf();
  EXPECT_NE(text.str().find("limit: " + std::to_string(train.size())), std::string::npos) << text.str();
  const auto summary = read_json(run + "/summary.json");
  EXPECT_TRUE(summary.contains("pet/ipet1_pattern1/test/accuracy"));
  EXPECT_EQ(summary["pet/ipet_generations"], 1);
}

// Prompt tuning per pattern on the frozen model, prior-accuracy weights, a linear head distilled at the end.
TEST(PetPipeline, PriorAccuracyWeightsPromptTuningPatternsAndALinearHeadFinal) {
  REQUIRE_SHARED();
  TempDir dir;
  const std::string run = dir.sub("run");
  Result r = ptlab("train " + pet_args(run, "method.ensemble_weighting=prior_accuracy "
                                            "'method.pattern_method={name: prompt_tuning, length: 4, init: sampled_vocab}' "
                                            "'method.final_method={name: linear_head}' "
                                            "'method.final_task={verbalizer_name: linear_head}'"),
                   dir);
  ASSERT_EQ(r.code, 0) << r.err;
  const auto summary = read_json(run + "/summary.json");
  EXPECT_EQ(summary["method"], "linear_head");
  EXPECT_EQ(read_json(run + "/stages/pattern0/summary.json")["method"], "prompt_tuning");
  // w(p) = the zero-shot accuracy of pattern p on the 16 labeled rows (stage prior<p>).
  std::vector<double> w;
  for (const char* p : {"0", "1"}) {
    const auto prior = read_json(run + "/stages/prior" + p + "/summary.json");
    EXPECT_EQ(prior["method"], "zero_shot");
    w.push_back(prior["final/eval/accuracy"].get<double>());
    EXPECT_EQ(summary["pet/prior" + std::string(p) + "/train/accuracy"].get<double>(), w.back());
  }
  const auto d0 = io::load_safetensors(run + "/stages/pattern0/predictions/dev.safetensors");
  const auto d1 = io::load_safetensors(run + "/stages/pattern1/predictions/dev.safetensors");
  const at::Tensor s = (d0.at("scores") * w[0] + d1.at("scores") * w[1]) / (w[0] + w[1]);
  const at::Tensor gold = d0.at("labels");
  EXPECT_NEAR(summary["pet/ensemble/dev/accuracy"].get<double>(),
              s.argmax(1).eq(gold).sum().item<double>() / gold.size(0), 1e-9);
}

TEST(PetPipeline, BadInputsAreOneLineErrors) {
  REQUIRE_SHARED();
  TempDir dir;
  const std::string run = dir.sub("run");
  expect_one_line_error(ptlab("train " + pet_args(run, "task.data.unlabeled_split=null"), dir),
                        "task.data.unlabeled_split: not set");
  expect_one_line_error(ptlab("train " + pet_args(run, "'method.patterns=[1]' method.ipet.generations=1"), dir),
                        "method.ipet.generations: iPET needs at least 2 patterns");
  expect_one_line_error(ptlab("train " + pet_args(run, "method.temperature=0"), dir),
                        "method.temperature (from ");
  expect_one_line_error(ptlab("train " + pet_args(run, "'method.patterns=[0,7]'"), dir),
                        "method.patterns: pattern 7 is not in task.pvps");
  expect_one_line_error(ptlab("train " + pet_args(run, "task.data.unlabeled_split=train", "trec"), dir),
                        "has no pattern-verbalizer pairs");
  EXPECT_FALSE(fs::exists(run + "/stages"));

  // Label words of several tokens where the cloze scorer reads one position: on stories260K CB's Yes / No share
  // their first token, and the first pattern stage stops with the verbalizer's error line (after the stage's
  // log line), before anything trains.
  const std::string cb = dir.sub("cb");
  Result words = ptlab("train " + pet_args(cb, "task.data.unlabeled_split=pool task.data.train_split=fewglue_train",
                                           "cb"),
                       dir);
  EXPECT_EQ(words.code, 2);
  EXPECT_NE(words.err.find("cb.yaml): label words 'Yes' (class entailment) and 'No' (class contradiction) are scored "
                           "alike (first token"),
            std::string::npos)
      << words.err;
  EXPECT_FALSE(fs::exists(cb + "/stages/pattern0/metrics.h5"));
}

}  // namespace
}  // namespace ptlab::launchers
