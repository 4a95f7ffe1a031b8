// P-Tuning v2 end to end through `ptlab train` / `ptlab eval`, on ../shared's tiny BERT (2 layers, d=64):
// Brown POS tagging with a per-token head (the loss goes down, the run resumes from its checkpoint, eval
// from the run reports token_accuracy and macro_f1 as the trainer selected them) and SST-2 with a linear
// head (eval from the run and from its PEFT adapter agree).
#include "tests/launchers/train_support.h"

#include <cmath>

namespace ptlab::launchers {
namespace {

using namespace ptlab::launchers::testing;
using models::testing::TempDir;
namespace fs = std::filesystem;

bool have_bert_data() {
  return fs::exists(shared("golden/models/bert/config.json")) && fs::exists(shared("corpus/brown/brown_pos.jsonl")) &&
         fs::exists(shared("data/sst2/train.tsv"));
}

// A small p_tuning_v2 trial on the tiny BERT; `task_args` picks the task.
std::string v2_args(const std::string& run_dir, const std::string& task_args) {
  return fmt_args({"--config-dir", std::string(PTLAB_SOURCE_DIR) + "/configs",
                   "paths.shared=" + std::string(PTLAB_SHARED_DIR), "model.path=" + shared("golden/models/bert"),
                   task_args, "method=p_tuning_v2", "method.length=4", "trainer.batch_size=8",
                   "trainer.eval_batch_size=32", "trainer.optimizer.lr=0.05", "trainer.schedule.name=constant",
                   "runtime.threads=1", "run.dir=" + run_dir});
}

constexpr const char* kBrownPos = "task=brown_pos task.data.limit=160 task.max_length=48";

// train/loss of every train row of a run's metrics.jsonl, in order.
std::vector<double> train_losses(const std::string& run) {
  std::vector<double> out;
  std::ifstream jsonl(run + "/metrics.jsonl");
  for (std::string line; std::getline(jsonl, line);) {
    auto j = nlohmann::json::parse(line);
    if (j["split"] == "train") out.push_back(j["train/loss"].get<double>());
  }
  return out;
}

TEST(PTuningV2Command, BrownPosTrainsResumesAndEvaluatesFromItsRun) {
  if (!have_bert_data()) GTEST_SKIP() << "../shared not found (needs golden/models/bert, corpus/brown, data/sst2)";
  TempDir dir;
  const std::string run = dir.sub("run");
  Result r = ptlab(
      "train " + v2_args(run, kBrownPos) + " trainer.max_steps=30 trainer.eval_every=15 trainer.log_every=1", dir);
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* f : {"prompt.safetensors", "checkpoint.safetensors", "adapter/adapter_config.json",
                        "adapter/adapter_model.safetensors"})
    EXPECT_TRUE(fs::exists(run + "/" + f)) << f;
  const auto config = read_json(run + "/adapter/adapter_config.json");
  EXPECT_EQ(config["peft_type"], "PREFIX_TUNING");
  EXPECT_EQ(config["task_type"], "TOKEN_CLS");
  const auto state = io::load_safetensors(run + "/prompt.safetensors");
  ASSERT_EQ(state.count("head.weight"), 1u);
  const int64_t tags = state.at("head.weight").size(0);
  EXPECT_GT(tags, 20);  // Brown's tag set, learned from the data
  EXPECT_EQ(state.at("head.weight").size(1), 64);
  EXPECT_EQ(state.at("embedding").sizes(), (std::vector<int64_t>{4, 2 * 2 * 64}));
  EXPECT_TRUE(
      at::equal(io::load_safetensors(run + "/adapter/adapter_model.safetensors").at("base_model.classifier.bias"),
                state.at("head.bias")));

  // The loss goes down: the mean of the last 5 steps is well under the first steps' (about ln(tags)).
  const std::vector<double> losses = train_losses(run);
  ASSERT_EQ(losses.size(), 30u);
  double late = 0;
  for (std::size_t i = losses.size() - 5; i < losses.size(); ++i) late += losses[i] / 5;
  EXPECT_NEAR(losses.front(), std::log(static_cast<double>(tags)), 1.0);
  EXPECT_LT(late, losses.front() - 1.0) << "first " << losses.front() << ", last 5 " << late;
  auto summary = read_json(run + "/summary.json");
  ASSERT_TRUE(summary.contains("best/eval/token_accuracy")) << summary.dump();
  ASSERT_TRUE(summary.contains("best/eval/macro_f1")) << summary.dump();
  const double accuracy = summary["best/eval/token_accuracy"].get<double>();
  EXPECT_GT(accuracy, 0.2);  // far above chance (1/tags) after 30 steps
  std::cout << "[ brown_pos ] p_tuning_v2 on the tiny BERT, 30 steps: first loss " << losses.front() << ", last 5 "
            << late << ", dev token_accuracy " << accuracy << ", macro_f1 " << summary["best/eval/macro_f1"] << "\n";

  // Resumes from its checkpoint and goes on to step 36.
  Result more = ptlab(
      "train " + v2_args(run, kBrownPos) + " trainer.max_steps=36 trainer.eval_every=15 trainer.resume=true", dir);
  ASSERT_EQ(more.code, 0) << more.err;
  EXPECT_NE(more.err.find("resumed from"), std::string::npos) << more.err;
  summary = read_json(run + "/summary.json");
  EXPECT_EQ(summary["steps"], 36);

  // `ptlab eval --from` the run reports the dev metrics the trainer selected.
  Result e = ptlab("eval " + v2_args(dir.sub("eval"), kBrownPos) + " --split dev --from " + run, dir);
  ASSERT_EQ(e.code, 0) << e.err;
  EXPECT_NE(e.out.find(fmt_args({"token_accuracy", fmt_fixed(summary["best/eval/token_accuracy"].get<double>())})),
            std::string::npos)
      << e.out << summary.dump();
  EXPECT_NE(e.out.find(fmt_args({"macro_f1", fmt_fixed(summary["best/eval/macro_f1"].get<double>())})),
            std::string::npos)
      << e.out << summary.dump();
  // The PEFT adapter holds the same prefix and head.
  Result a = ptlab("eval " + v2_args(dir.sub("eval2"), kBrownPos) + " --split dev --from " + run + "/adapter", dir);
  ASSERT_EQ(a.code, 0) << a.err;
  EXPECT_EQ(a.out, e.out);
}

TEST(PTuningV2Command, Sst2LinearHeadEvaluatesAlikeFromItsRunAndItsPeftAdapter) {
  if (!have_bert_data()) GTEST_SKIP() << "../shared not found (needs golden/models/bert, corpus/brown, data/sst2)";
  TempDir dir;
  const std::string run = dir.sub("run");
  const std::string sst2 = "task=sst2 task.data.limit=64 task.verbalizer_name=linear_head";
  Result r = ptlab("train " + v2_args(run, sst2) + " trainer.max_steps=4 trainer.eval_every=2", dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(read_json(run + "/adapter/adapter_config.json")["task_type"], "SEQ_CLS");
  Result from_run = ptlab("eval " + v2_args(dir.sub("e1"), sst2) + " --split dev --from " + run, dir);
  Result from_adapter = ptlab("eval " + v2_args(dir.sub("e2"), sst2) + " --split dev --from " + run + "/adapter", dir);
  ASSERT_EQ(from_run.code, 0) << from_run.err;
  ASSERT_EQ(from_adapter.code, 0) << from_adapter.err;
  EXPECT_NE(from_run.out.find("accuracy"), std::string::npos) << from_run.out;
  EXPECT_EQ(from_run.out, from_adapter.out);
  // Without the linear_head verbalizer the head would never train: one clear line.
  expect_one_line_error(ptlab("train " + v2_args(dir.sub("bad"), "task=sst2 task.data.limit=64"), dir),
                        "needs verbalizer mode linear_head");
}

}  // namespace
}  // namespace ptlab::launchers
