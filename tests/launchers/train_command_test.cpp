// `ptlab train` / `ptlab eval` end to end on stories260K + SST-2 from ../shared: the run directory's files,
// eval of a saved run, resume after SIGTERM, and the bad inputs of issue 5 — each one line on stderr, exit 2.
#include "tests/launchers/train_support.h"

#include <chrono>
#include <cmath>
#include <csignal>
#include <thread>

namespace ptlab::launchers {
namespace {

using namespace ptlab::launchers::testing;
using models::testing::TempDir;
namespace fs = std::filesystem;

TEST(TrainCommand, WritesTheRunDirectoryAndEvalReproducesIt) {
  REQUIRE_SHARED();
  TempDir dir;
  const std::string run = dir.sub("run");
  Result r = ptlab("train " + base_args(run) + " trainer.max_steps=4 trainer.eval_every=2 trainer.log_every=1", dir);
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* f : {"config.yaml", "overrides.yaml", "metrics.h5", "metrics.jsonl", "summary.json",
                        "prompt.safetensors", "checkpoint.safetensors", "adapter/adapter_config.json",
                        "adapter/adapter_model.safetensors"}) {
    EXPECT_TRUE(fs::exists(run + "/" + f)) << f;
  }
  auto summary = read_json(run + "/summary.json");
  EXPECT_EQ(summary["status"], "completed");
  EXPECT_EQ(summary["steps"], 4);
  EXPECT_EQ(summary["trainable_parameters"], 4 * 64);
  // Four train rows (log_every 1) and evaluations at steps 2 and 4, in both logs.
  EXPECT_EQ(series_length(run + "/metrics.h5", "/metrics/train/loss/value"), 4);
  EXPECT_EQ(series_length(run + "/metrics.h5", "/metrics/eval/accuracy/step"), 2);
  EXPECT_EQ(series_length(run + "/metrics.h5", "/metrics/test/accuracy/value"), 1);
  std::ifstream jsonl(run + "/metrics.jsonl");
  int train_rows = 0, eval_rows = 0;
  for (std::string line; std::getline(jsonl, line);) {
    auto j = nlohmann::json::parse(line);
    train_rows += j["split"] == "train";
    eval_rows += j["split"] == "eval";
  }
  EXPECT_EQ(train_rows, 4);
  EXPECT_EQ(eval_rows, 2);
  EXPECT_EQ(prompt_of(run).sizes(), (std::vector<int64_t>{4, 64}));

  // `ptlab eval --from` the run gives the dev accuracy the trainer selected (restore_best).
  Result e = ptlab("eval " + base_args(dir.sub("eval")) + " --split dev --from " + run, dir);
  ASSERT_EQ(e.code, 0) << e.err;
  const double best = summary["best/eval/accuracy"].get<double>();
  EXPECT_NE(e.out.find(fmt_args({"accuracy", fmt_fixed(best)})), std::string::npos) << e.out << " best " << best;
}

std::string file_text(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

TEST(TrainCommand, PrefixTuningTrainsResumesAndEvaluatesFromItsRunAndItsPeftAdapter) {
  REQUIRE_SHARED();
  TempDir dir;
  const std::string run = dir.sub("run");
  auto prefix_args = [](std::string args) {
    args.replace(args.find("method=prompt_tuning"), 20, "method=prefix_tuning");
    args.replace(args.find("method.init=sampled_vocab"), 25, "method.init=normal");
    return args;
  };
  Result r = ptlab("train " + prefix_args(base_args(run)) + " trainer.max_steps=4 trainer.eval_every=2", dir);
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* f : {"prompt.safetensors", "checkpoint.safetensors", "adapter/adapter_config.json",
                        "adapter/adapter_model.safetensors"})
    EXPECT_TRUE(fs::exists(run + "/" + f)) << f;
  EXPECT_NE(file_text(run + "/adapter/adapter_config.json").find("PREFIX_TUNING"), std::string::npos);
  // Resumes from its checkpoint and goes on to step 6.
  Result more = ptlab("train " + prefix_args(base_args(run)) + " trainer.max_steps=6 trainer.eval_every=2 trainer.resume=true",
                      dir);
  ASSERT_EQ(more.code, 0) << more.err;
  EXPECT_NE(more.err.find("resumed from"), std::string::npos) << more.err;
  EXPECT_EQ(read_json(run + "/summary.json")["steps"], 6);
  // The run directory and its PEFT adapter evaluate alike.
  Result from_run = ptlab("eval " + prefix_args(base_args(dir.sub("e1"))) + " --split dev --from " + run, dir);
  Result from_adapter = ptlab("eval " + prefix_args(base_args(dir.sub("e2"))) + " --split dev --from " + run + "/adapter", dir);
  ASSERT_EQ(from_run.code, 0) << from_run.err;
  ASSERT_EQ(from_adapter.code, 0) << from_adapter.err;
  EXPECT_EQ(from_run.out, from_adapter.out);
}

// CPT trains through the method's own loss (Method::loss: the context's and the query's label tokens), saves a
// PEFT CPT adapter, and `ptlab eval` (which loads no train split) rebuilds its context from the run or the adapter.
TEST(TrainCommand, CptTrainsOnItsContextAndEvaluatesFromItsRunAndItsPeftAdapter) {
  REQUIRE_SHARED();
  TempDir dir;
  const std::string run = dir.sub("run");
  auto cpt_args = [](std::string args) {
    args.replace(args.find("method=prompt_tuning"), 20, "method=cpt");
    args.replace(args.find("method.length=4"), 15, "method.context_examples=2");
    args.replace(args.find("method.init=sampled_vocab"), 25, "method.loss_weighting=decay");
    return args;
  };
  Result r = ptlab("train " + cpt_args(base_args(run)) + " trainer.max_steps=4 trainer.eval_every=2 trainer.log_every=1", dir);
  ASSERT_EQ(r.code, 0) << r.err;
  const auto summary = read_json(run + "/summary.json");
  EXPECT_EQ(summary["status"], "completed");
  const at::Tensor delta = io::load_safetensors(run + "/prompt.safetensors").at("delta");  // [n, 64]
  ASSERT_EQ(delta.dim(), 2);
  EXPECT_EQ(delta.size(1), 64);
  EXPECT_GT(delta.abs().max().item<double>(), 0.0);  // the offsets trained
  EXPECT_EQ(summary["trainable_parameters"], delta.numel());
  EXPECT_NE(file_text(run + "/adapter/adapter_config.json").find("\"peft_type\": \"CPT\""), std::string::npos);
  EXPECT_EQ(series_length(run + "/metrics.h5", "/metrics/train/loss/value"), 4);
  Result from_run = ptlab("eval " + cpt_args(base_args(dir.sub("e1"))) + " --split dev --from " + run, dir);
  Result from_adapter = ptlab("eval " + cpt_args(base_args(dir.sub("e2"))) + " --split dev --from " + run + "/adapter", dir);
  ASSERT_EQ(from_run.code, 0) << from_run.err;
  ASSERT_EQ(from_adapter.code, 0) << from_adapter.err;
  EXPECT_EQ(from_run.out, from_adapter.out);
  const double best = summary["best/eval/accuracy"].get<double>();
  EXPECT_NE(from_run.out.find(fmt_args({"accuracy", fmt_fixed(best)})), std::string::npos) << from_run.out;
}

TEST(TrainCommand, ResumeAfterSigtermEqualsAnUninterruptedRun) {
  REQUIRE_SHARED();
  TempDir dir;
  const std::string args = " trainer.max_steps=300 trainer.eval_every=0 trainer.log_every=1 trainer.progress=false";
  const std::string straight = dir.sub("straight");
  ASSERT_EQ(ptlab("train " + base_args(straight) + args, dir).code, 0);

  // Start the same run, stop it with SIGTERM once it has logged a few steps, then resume it.
  const std::string interrupted = dir.sub("interrupted");
  const std::string command = "exec env OMP_WAIT_POLICY=PASSIVE " + std::string(PTLAB_BINARY) + " train " +
                              base_args(interrupted) + args + " >/dev/null 2>" + dir.sub("first.err");
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  int lines = 0;
  while (lines < 5 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::ifstream in(interrupted + "/metrics.jsonl");
    lines = 0;
    for (std::string line; std::getline(in, line);) ++lines;
  }
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  auto first = read_json(interrupted + "/summary.json");
  ASSERT_EQ(first["status"], "stopped") << "the run finished before SIGTERM arrived; the test proves nothing";
  ASSERT_LT(first.value("steps", 300), 300);

  Result resumed = ptlab("train " + base_args(interrupted) + args + " trainer.resume=true", dir);
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  EXPECT_EQ(read_json(interrupted + "/summary.json")["status"], "completed");
  EXPECT_TRUE(at::equal(prompt_of(straight), prompt_of(interrupted)))
      << "max |diff| " << (prompt_of(straight) - prompt_of(interrupted)).abs().max().item<double>();
  // The resumed log continues the interrupted one without repeating steps.
  EXPECT_EQ(series_length(interrupted + "/metrics.h5", "/metrics/train/loss/step"), 300);
}

TEST(TrainCommand, BadInputsAreOneLineErrors) {
  REQUIRE_SHARED();
  TempDir dir;
  const std::string run = dir.sub("run");
  expect_one_line_error(ptlab("train " + base_args(run) + " method.name=promt_tuning", dir), "prompt_tuning");
  expect_one_line_error(ptlab("train " + base_args(run) + " method.length=0", dir), "method.length");
  expect_one_line_error(ptlab("train " + base_args(run) + " method.length=100000", dir), "512 positions");
  expect_one_line_error(ptlab("train " + base_args(run) + " method.init=text method.init_text=''", dir), "init_text");
  dir.write("file", "x");
  expect_one_line_error(ptlab("train " + base_args(dir.sub("file") + "/run") + " trainer.max_steps=1", dir),
                        "run directory");
  // A finished run's directory is not silently overwritten; a checkpoint of another setup is not resumed.
  const std::string done = dir.sub("done");
  Result first = ptlab("train " + base_args(done) + " trainer.max_steps=1 trainer.eval_every=0", dir);
  ASSERT_EQ(first.code, 0) << first.err;
  expect_one_line_error(ptlab("train " + base_args(done) + " trainer.max_steps=1", dir), "trainer.resume=true");
  expect_one_line_error(ptlab("train " + base_args(done) + " method.length=6 trainer.max_steps=2 trainer.resume=true", dir),
                        "different run setup");
}

// The first train/loss row of a run's metrics.jsonl.
double first_train_loss(const std::string& run) {
  std::ifstream jsonl(run + "/metrics.jsonl");
  for (std::string line; std::getline(jsonl, line);) {
    auto j = nlohmann::json::parse(line);
    if (j["split"] == "train") return j["train/loss"].get<double>();
  }
  return std::nan("");
}

TEST(TrainCommand, Bf16FrozenBackboneTrainsAnFp32Prompt) {
  REQUIRE_SHARED();
  TempDir dir;
  const std::string steps = " trainer.max_steps=3 trainer.eval_every=0 trainer.log_every=1 runtime.device=cpu";
  Result fp32 = ptlab("train " + base_args(dir.sub("fp32")) + steps + " model.dtype=fp32", dir);
  ASSERT_EQ(fp32.code, 0) << fp32.err;
  Result bf16 = ptlab("train " + base_args(dir.sub("bf16")) + steps + " model.dtype=bf16", dir);
  ASSERT_EQ(bf16.code, 0) << bf16.err;
  // The trainable prompt stays fp32 (cast to bf16 only at the hook point) ...
  EXPECT_EQ(prompt_of(dir.sub("bf16")).scalar_type(), at::kFloat);
  // ... and the bf16 backbone's loss is the fp32 one within bf16's precision (8 bits of mantissa).
  const double a = first_train_loss(dir.sub("fp32")), b = first_train_loss(dir.sub("bf16"));
  ASSERT_TRUE(std::isfinite(a) && std::isfinite(b)) << a << " " << b;
  EXPECT_NEAR(b, a, 0.05 * a);
  EXPECT_NE(a, b);  // it really ran in bf16
}

TEST(TrainCommand, DeviceErrorsAreOneLine) {
  REQUIRE_SHARED();
  TempDir dir;
  const std::string run = dir.sub("run");
  expect_one_line_error(ptlab("train " + base_args(run) + " runtime.device=tpu", dir),
                        "runtime.device='tpu' is not a device; expected auto, cpu, cuda or cuda:N");
  expect_one_line_error(ptlab("train " + base_args(run) + " model.dtype=fp64", dir), "expected fp32, bf16 or fp16");
  Result r = ptlab("--version", dir);
  if (r.out.find(" 0 GPU(s) visible") != std::string::npos) {
    expect_one_line_error(ptlab("train " + base_args(run) + " runtime.device=cuda", dir), "no CUDA device is visible");
  }
}

TEST(TrainCommand, NanLossStopsAndKeepsTheLastGoodCheckpoint) {
  REQUIRE_SHARED();
  TempDir dir;
  const std::string run = dir.sub("run");
  Result r = ptlab("train " + base_args(run) +
                       " trainer.max_steps=50 trainer.eval_every=0 trainer.checkpoint_every=1 trainer.max_grad_norm=0"
                       " trainer.optimizer.lr=3e38 trainer.optimizer.name=adamw trainer.schedule.name=linear"
                       " trainer.schedule.warmup_steps=10",  // step 0 moves nothing: its checkpoint is good
                   dir);
  // The run logged its start; the failure is the last line, one line.
  EXPECT_EQ(r.code, 2) << r.err;
  const std::string last = r.err.substr(r.err.rfind('\n', r.err.size() - 2) + 1);
  EXPECT_EQ(last.rfind("error: ", 0), 0u) << r.err;
  EXPECT_NE(last.find("stopping"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("checkpoint.safetensors"), std::string::npos) << r.err;
  ASSERT_TRUE(fs::exists(run + "/checkpoint.safetensors"));
  EXPECT_EQ(read_json(run + "/summary.json")["status"], "failed");
}


// MPT's two stages through `ptlab train`: a prompt_tuning teacher, source training distilled from it (the
// trainer adds Method::extra_loss: the logged training loss is above the same run's without a teacher), then
// target adaptation from the source's average task factors.
TEST(TrainCommand, MptDistillsFromTeachersThenAdaptsFromTheSource) {
  REQUIRE_SHARED();
  TempDir dir;
  const std::string teacher = dir.sub("teacher");
  Result t = ptlab("train " + base_args(teacher) + " trainer.max_steps=3 trainer.eval_every=3", dir);
  ASSERT_EQ(t.code, 0) << t.err;
  auto mpt_args = [](std::string args, const std::string& extra) {
    args.replace(args.find("method=prompt_tuning"), 20, "method=mpt");
    args.replace(args.find("method.init=sampled_vocab"), 25, "method.factor_init_std=0.5");
    return args + " trainer.max_steps=3 trainer.eval_every=3 trainer.log_every=1 " + extra;
  };
  auto first_train_loss = [](const std::string& run) {
    std::ifstream jsonl(run + "/metrics.jsonl");
    for (std::string line; std::getline(jsonl, line);) {
      auto j = nlohmann::json::parse(line);
      if (j["split"] == "train") return j["train/loss"].get<double>();
    }
    return -1.0;
  };
  const std::string source = dir.sub("source"), plain = dir.sub("plain");
  Result s = ptlab("train " + mpt_args(base_args(source), "'method.teachers=[" + teacher + "/prompt.safetensors]'"), dir);
  ASSERT_EQ(s.code, 0) << s.err;
  Result p = ptlab("train " + mpt_args(base_args(plain), ""), dir);
  ASSERT_EQ(p.code, 0) << p.err;
  EXPECT_GT(first_train_loss(source), first_train_loss(plain) + 1e-4);
  const auto state = io::load_safetensors(source + "/prompt.safetensors");
  ASSERT_TRUE(state.count("task_cols") && state.count("task_rows"));
  EXPECT_NE(file_text(source + "/adapter/adapter_config.json").find("MULTITASK_PROMPT_TUNING"), std::string::npos);

  const std::string target = dir.sub("target");
  Result a = ptlab("train " + mpt_args(base_args(target), "method.init=average_source_tasks method.init_file=" + source +
                                                           "/prompt.safetensors"),
                   dir);
  ASSERT_EQ(a.code, 0) << a.err;
  // A source of another length is a one-line error.
  std::string longer = base_args(dir.sub("bad"));
  longer.replace(longer.find("method.length=4"), 15, "method.length=5");
  Result bad = ptlab("train " + mpt_args(longer, "method.init=average_source_tasks method.init_file=" + source +
                                                     "/prompt.safetensors"),
                     dir);
  expect_one_line_error(bad, "the source prompt in " + source + "/prompt.safetensors is [4, 64] but this mpt needs [5, 64]");
}

}  // namespace
}  // namespace ptlab::launchers

namespace ptlab::launchers {
namespace {

using namespace ptlab::launchers::testing;
using models::testing::TempDir;

// `ptlab list methods` names the pipeline methods beside the registry's, so a user can find ppt and pet.
TEST(ListCommand, ListsMethodsAndPipelineMethods) {
  TempDir dir;
  const auto r = ptlab("list methods", dir);
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* name : {"  prompt_tuning ", "  icl ", "  zero_shot "}) EXPECT_NE(r.out.find(name), std::string::npos) << name;
  const auto pipelines = r.out.find("pipeline methods");
  ASSERT_NE(pipelines, std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  ppt ", pipelines), std::string::npos) << r.out;
}

}  // namespace
}  // namespace ptlab::launchers
