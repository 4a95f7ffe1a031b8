// launcher=slurm against a real one-node Slurm on this machine (scripts/slurm-local.sh starts munged,
// slurmctld and slurmd): a sweep submitted with --submit finishes; preempted with USR1 and requeued, it
// resumes without losing or repeating a finished trial; the array mode runs one task per trial.
#include "tests/launchers/train_support.h"

#include <regex>

namespace ptlab::launchers {
namespace {

using namespace ptlab::launchers::testing;

std::string slurm_sweep_args(const std::string& dir) {
  return fmt_args({"--dir", dir, "--config-dir", std::string(PTLAB_SOURCE_DIR) + "/configs",
                   "paths.shared=" + std::string(PTLAB_SHARED_DIR), "model=stories260K", "task=sst2",
                   "task.data.limit=64", "method=prompt_tuning", "method.init=sampled_vocab", "trainer.batch_size=4",
                   "trainer.eval_batch_size=16", "runtime.threads=1", "trainer.progress=false", "launcher=slurm",
                   "launcher.time=00:10:00"});
}

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string status_of(const std::string& trial_dir) {
  if (!fs::exists(trial_dir + "/status.json")) return "pending";
  return read_json(trial_dir + "/status.json").value("status", std::string("?"));
}

// Starts the local Slurm (idempotent); the reason it cannot, or "".
std::string start_slurm(const TempDir& dir) {
  if (::geteuid() != 0) return "needs root to start munged/slurmctld/slurmd";
  if (!fs::exists("/usr/sbin/slurmctld") || !fs::exists("/usr/sbin/munged"))
    return "slurm-wlm and munge are not installed (scripts/setup.sh installs them)";
  Result r;
  run_shell("bash " + std::string(PTLAB_SOURCE_DIR) + "/scripts/slurm-local.sh start", dir, r);
  return r.code == 0 ? "" : "scripts/slurm-local.sh start failed: " + r.err;
}

std::string job_state(const std::string& job, const TempDir& dir) {
  Result r;
  run_shell("squeue -h -j " + job + " -o '%T %r' 2>/dev/null", dir, r);
  while (!r.out.empty() && r.out.back() == '\n') r.out.pop_back();
  return r.out;  // "" once the job left the queue
}

std::string submit(const std::string& args, const TempDir& dir) {
  Result r = ptlab("sweep " + args + " --submit", dir);
  EXPECT_EQ(r.code, 0) << r.err;
  std::smatch m;
  static const std::regex job(R"(submitted batch job (\d+))");
  EXPECT_TRUE(std::regex_search(r.out, m, job)) << r.out;
  return m.size() > 1 ? m[1].str() : "";
}

bool wait_for(const std::function<bool()>& done, int seconds) {
  for (int i = 0; i < seconds * 10; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return done();
}

TEST(Slurm, ASubmittedSweepPreemptedWithUsr1IsRequeuedAndFinishesWithoutRepeatingATrial) {
  REQUIRE_SHARED();
  TempDir dir;
  if (auto why = start_slurm(dir); !why.empty()) GTEST_SKIP() << why;
  const std::string sweep = dir.sub("sweep");
  const std::string args = slurm_sweep_args(sweep) +
                           " launcher.ntasks=2 method.length=4,8 runtime.seed=0,1,2 trainer.max_steps=150 "
                           "trainer.eval_every=50 trainer.checkpoint_every=10";
  const std::string job = submit(args, dir);
  ASSERT_FALSE(job.empty());
  // Preempt once a trial is done and another is running with a checkpoint.
  std::vector<std::string> done_before;
  const bool ready = wait_for(
      [&] {
        done_before.clear();
        bool running_with_checkpoint = false;
        if (!fs::exists(sweep + "/trials")) return false;
        for (const auto& e : fs::directory_iterator(sweep + "/trials")) {
          const std::string d = e.path().string(), s = status_of(d);
          if (s == "done") done_before.push_back(d);
          if (s == "running" && fs::exists(d + "/checkpoint.safetensors")) running_with_checkpoint = true;
        }
        return !done_before.empty() && running_with_checkpoint;
      },
      120);
  ASSERT_TRUE(ready) << "job " << job << ": " << job_state(job, dir) << "\n" << file_bytes(sweep + "/slurm-" + job + ".out");
  std::map<std::string, std::string> files_before;
  for (const auto& d : done_before)
    for (const char* f : {"metrics.h5", "metrics.jsonl", "summary.json", "status.json", "prompt.safetensors"})
      files_before[d + "/" + f] = file_bytes(d + "/" + f);
  Result sig;
  run_shell("scancel --signal=USR1 " + job, dir, sig);
  ASSERT_EQ(sig.code, 0) << sig.err;
  // The ranks checkpoint and exit 75, the script requeues the job. Slurm holds a requeued batch job for a
  // while before it is eligible again; let it start now.
  ASSERT_TRUE(wait_for([&] { return job_state(job, dir).rfind("PENDING", 0) == 0; }, 60))
      << job_state(job, dir) << "\n" << file_bytes(sweep + "/slurm-" + job + ".out");
  // Slurm's own delay lets the old job's steps be cleaned up first; do that wait here (no slurmstepd left on
  // this one-node cluster), or the restarted step fails to launch.
  ASSERT_TRUE(wait_for(
      [&] {
        Result steps;
        run_shell("pgrep -x slurmstepd", dir, steps);
        return steps.out.empty();
      },
      60));
  Result now;
  run_shell("scontrol update jobid=" + job + " StartTime=now", dir, now);
  ASSERT_TRUE(wait_for([&] { return job_state(job, dir).empty(); }, 180))
      << job_state(job, dir) << "\n" << file_bytes(sweep + "/slurm-" + job + ".out");

  const std::string out = file_bytes(sweep + "/slurm-" + job + ".out");
  EXPECT_NE(out.find("requeueing job " + job), std::string::npos) << out;
  EXPECT_NE(out.find("6 done, 0 failed, 0 stopped, 0 not run"), std::string::npos) << out;
  int resumed = 0;
  for (const auto& e : fs::directory_iterator(sweep + "/trials")) {
    const std::string d = e.path().string();
    ASSERT_EQ(status_of(d), "done") << d;
    auto status = read_json(d + "/status.json");
    if (status.value("resumed", false)) {
      ++resumed;
      EXPECT_EQ(status.value("attempts", 0), 2) << d;
    }
  }
  EXPECT_GE(resumed, 1) << "a trial stopped by USR1 resumed from its checkpoint";
  for (const auto& [path, bytes] : files_before) EXPECT_EQ(file_bytes(path), bytes) << path << " changed";
  for (const auto& d : done_before) EXPECT_EQ(read_json(d + "/status.json").value("attempts", 0), 1) << d;
}

TEST(Slurm, AnArrayJobRunsOneTaskPerTrial) {
  REQUIRE_SHARED();
  TempDir dir;
  if (auto why = start_slurm(dir); !why.empty()) GTEST_SKIP() << why;
  const std::string sweep = dir.sub("sweep");
  const std::string job = submit(slurm_sweep_args(sweep) + " launcher.mode=array runtime.seed=0,1 trainer.max_steps=5 "
                                                           "trainer.eval_every=0",
                                 dir);
  ASSERT_FALSE(job.empty());
  const std::string script = file_bytes(sweep + "/sweep.sbatch");
  EXPECT_NE(script.find("#SBATCH --array=0-1"), std::string::npos) << script;
  EXPECT_NE(script.find("--only \"$SLURM_ARRAY_TASK_ID\""), std::string::npos) << script;
  ASSERT_TRUE(wait_for([&] { return job_state(job, dir).empty(); }, 180)) << job_state(job, dir);
  Result status = ptlab("sweep --status " + slurm_sweep_args(sweep) + " launcher.mode=array runtime.seed=0,1 "
                                                                       "trainer.max_steps=5 trainer.eval_every=0",
                        dir);
  EXPECT_NE(status.out.find("2 trials: 2 done"), std::string::npos) << status.out << status.err;
  for (const char* a : {"0", "1"})
    EXPECT_TRUE(fs::exists(sweep + "/slurm-" + job + "_" + a + ".out")) << "array task " << a << "'s output";
}

}  // namespace
}  // namespace ptlab::launchers
