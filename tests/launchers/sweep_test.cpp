// `ptlab sweep` end to end on stories260K + SST-2 from ../shared: running trials in one process and under
// mpirun in groups, stable trial ids, failing trials, kill -9 of a rank and the rerun, summary.csv and the
// sweep.h5 index; and the run log of a killed or resumed `ptlab train` (readable as it is, one run per log).
#include "tests/launchers/train_support.h"

#include <signal.h>

#include <random>
#include <regex>
#include <set>

namespace ptlab::launchers {
namespace {

using namespace ptlab::launchers::testing;

std::string sweep_args(const std::string& dir) {
  return fmt_args({"--dir", dir, "--config-dir", std::string(PTLAB_SOURCE_DIR) + "/configs",
                   "paths.shared=" + std::string(PTLAB_SHARED_DIR), "model=stories260K", "task=sst2",
                   "task.data.limit=64", "method=prompt_tuning", "method.init=sampled_vocab", "trainer.batch_size=4",
                   "trainer.eval_batch_size=16", "runtime.threads=1"});
}

std::string mpiexec() {
#ifdef PTLAB_MPIEXEC
  return PTLAB_MPIEXEC;
#else
  return "";
#endif
}

std::string mpirun_np2() {
  return mpiexec().empty() ? "" : mpiexec() + " --allow-run-as-root --oversubscribe -x OMP_WAIT_POLICY=PASSIVE -np 2 ";
}

#define REQUIRE_MPI() \
  if (mpirun_np2().empty()) GTEST_SKIP() << "built without MPI"

std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> out;
  std::string field;
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') field += '"', ++i;
      else if (c == '"') quoted = false;
      else field += c;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out.push_back(field);
      field.clear();
    } else {
      field += c;
    }
  }
  out.push_back(field);
  return out;
}

// summary.csv as rows of column -> value.
std::vector<std::map<std::string, std::string>> read_summary(const std::string& dir) {
  std::ifstream in(dir + "/summary.csv");
  std::string line;
  std::vector<std::map<std::string, std::string>> rows;
  if (!std::getline(in, line)) return rows;
  auto header = split_csv_line(line);
  while (std::getline(in, line)) {
    auto fields = split_csv_line(line);
    EXPECT_EQ(fields.size(), header.size()) << line;
    std::map<std::string, std::string> row;
    for (std::size_t i = 0; i < header.size() && i < fields.size(); ++i) row[header[i]] = fields[i];
    rows.push_back(row);
  }
  return rows;
}

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Rows of /metrics/<path>/step read through the sweep index's external link.
int64_t rows_through_index(const std::string& sweep_h5, const std::string& id, const std::string& series) {
  hid_t f = H5Fopen(sweep_h5.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) return -1;
  int64_t n = -1;
  const std::string path = "/trials/" + id + "/metrics/" + series + "/step";
  hid_t d = H5Dopen2(f, path.c_str(), H5P_DEFAULT);
  if (d >= 0) {
    hid_t s = H5Dget_space(d);
    hsize_t dims[1] = {0};
    H5Sget_simple_extent_dims(s, dims, nullptr);
    n = static_cast<int64_t>(dims[0]);
    H5Sclose(s);
    H5Dclose(d);
  }
  H5Fclose(f);
  return n;
}

std::vector<int64_t> read_steps(const std::string& file, const std::string& series) {
  std::vector<int64_t> steps;
  hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) return steps;
  hid_t d = H5Dopen2(f, ("/metrics/" + series + "/step").c_str(), H5P_DEFAULT);
  if (d >= 0) {
    hid_t s = H5Dget_space(d);
    hsize_t dims[1] = {0};
    H5Sget_simple_extent_dims(s, dims, nullptr);
    steps.resize(dims[0]);
    if (dims[0] > 0) H5Dread(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, steps.data());
    H5Sclose(s);
    H5Dclose(d);
  }
  H5Fclose(f);
  return steps;
}

std::string status_of(const std::string& trial_dir) {
  if (!fs::exists(trial_dir + "/status.json")) return "pending";
  return read_json(trial_dir + "/status.json").value("status", std::string("?"));
}

TEST(Sweep, FourTrialsUnderMpirunInGroupsOfOneAllFinishAndTheIndexOpensEveryTrial) {
  REQUIRE_SHARED();
  REQUIRE_MPI();
  TempDir dir;
  const std::string sweep = dir.sub("sweep");
  const std::string args = sweep_args(sweep) +
                           " method.length=4,8 runtime.seed=0,1 trainer.max_steps=6 trainer.eval_every=3 "
                           "launcher.ranks_per_trial=1";
  Result r;
  run_shell(mpirun_np2() + PTLAB_BINARY + " sweep -m " + args, dir, r);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("4 done, 0 failed"), std::string::npos) << r.err;
  auto rows = read_summary(sweep);
  ASSERT_EQ(rows.size(), 4u);
  std::set<std::string> ids, lengths_seeds;
  for (const auto& row : rows) {
    EXPECT_EQ(row.at("status"), "done");
    EXPECT_TRUE(std::regex_match(row.at("trial_id"), std::regex("[0-9a-f]{12}"))) << row.at("trial_id");
    ids.insert(row.at("trial_id"));
    lengths_seeds.insert(row.at("method.length") + "/" + row.at("seed"));
    EXPECT_EQ(row.at("model_parameters"), "260032");
    EXPECT_EQ(row.at("trainable_parameters"), row.at("method.length") == "4" ? "256" : "512");
    EXPECT_EQ(row.at("steps"), "6");
    EXPECT_FALSE(row.at("test/accuracy").empty());
    EXPECT_EQ(row.at("dir"), "trials/" + row.at("trial_id"));
    // The index reaches every trial's metrics in one open.
    EXPECT_EQ(rows_through_index(sweep + "/sweep.h5", row.at("trial_id"), "eval/accuracy"), 2)
        << "eval at step 3 and the final one";
    EXPECT_GE(rows_through_index(sweep + "/sweep.h5", row.at("trial_id"), "train/loss"), 1);
  }
  EXPECT_EQ(ids.size(), 4u);
  EXPECT_EQ(lengths_seeds, (std::set<std::string>{"4/0", "4/1", "8/0", "8/1"}));
  EXPECT_TRUE(fs::exists(sweep + "/multirun.yaml"));
  // Both ranks took trials (groups of one rank, one queue).
  std::set<int64_t> groups;
  for (const auto& id : ids) groups.insert(read_json(sweep + "/trials/" + id + "/status.json").value("group", -1));
  EXPECT_EQ(groups, (std::set<int64_t>{0, 1}));

  // Run again: nothing left to run, nothing rewritten.
  const std::string before = file_bytes(sweep + "/trials/" + *ids.begin() + "/metrics.h5");
  Result again = ptlab("sweep " + args, dir);
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_NE(again.err.find("4 done, 0 failed before, 0 to run"), std::string::npos) << again.err;
  EXPECT_EQ(file_bytes(sweep + "/trials/" + *ids.begin() + "/metrics.h5"), before);
  EXPECT_EQ(again.err.find("differs"), std::string::npos) << again.err;

  // A config file changed since the trials ran (an overlay with another sample_top_k): the ids stay, the
  // results are kept, and the sweep says so.
  fs::create_directories(dir.sub("overlay/method"));
  {
    std::ifstream in(std::string(PTLAB_SOURCE_DIR) + "/configs/method/prompt_tuning.yaml");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    text.replace(text.find("sample_top_k: 5000"), 18, "sample_top_k: 4000");
    std::ofstream(dir.sub("overlay/method/prompt_tuning.yaml")) << text;
  }
  std::string drifted_args = args;
  const std::string config_dir = std::string(PTLAB_SOURCE_DIR) + "/configs";
  drifted_args.replace(drifted_args.find(config_dir), config_dir.size(), dir.sub("overlay") + ":" + config_dir);
  Result drifted = ptlab("sweep " + drifted_args, dir);
  ASSERT_EQ(drifted.code, 0) << drifted.err;
  EXPECT_NE(drifted.err.find("4 done trial(s) ran with a config that differs"), std::string::npos) << drifted.err;

  // Growing the grid keeps the ids of the trials it had: --dry-run lists them with the new ones.
  Result grown = ptlab("sweep --dry-run " + sweep_args(sweep) +
                           " method.length=4,8,16 runtime.seed=0,1 trainer.max_steps=6 trainer.eval_every=3 "
                           "launcher.ranks_per_trial=1",
                       dir);
  ASSERT_EQ(grown.code, 0) << grown.err;
  for (const auto& id : ids) EXPECT_NE(grown.out.find(id), std::string::npos) << grown.out;
  EXPECT_NE(grown.out.find("6 trials, all valid"), std::string::npos) << grown.out;
}

TEST(Sweep, AFailingTrialIsRecordedAndTheOthersFinish) {
  REQUIRE_SHARED();
  TempDir dir;
  const std::string sweep = dir.sub("sweep");
  // 100000 virtual tokens do not fit stories260K's positions: that trial fails when it is built.
  Result r = ptlab("sweep -m " + sweep_args(sweep) + " method.length=4,100000 trainer.max_steps=4 trainer.eval_every=0",
                   dir);
  EXPECT_EQ(r.code, 1) << r.err;
  auto rows = read_summary(sweep);
  ASSERT_EQ(rows.size(), 2u);
  std::string failed_id;
  for (const auto& row : rows) {
    if (row.at("method.length") == "4") {
      EXPECT_EQ(row.at("status"), "done");
    } else {
      EXPECT_EQ(row.at("status"), "failed");
      EXPECT_NE(row.at("error").find("virtual tokens do not fit"), std::string::npos) << row.at("error");
      EXPECT_TRUE(row.at("test/accuracy").empty());
      failed_id = row.at("trial_id");
    }
  }
  // The last lines say how many failed and where their errors are.
  EXPECT_NE(r.err.find("1 done, 1 failed"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("trials/" + failed_id + "/status.json"), std::string::npos) << r.err;

  // A rerun leaves the failed trial failed (and says how to retry it); --retry-failed runs it again.
  Result again = ptlab("sweep " + sweep_args(sweep) + " method.length=4,100000 trainer.max_steps=4 trainer.eval_every=0",
                       dir);
  EXPECT_EQ(again.code, 1) << again.err;
  EXPECT_NE(again.err.find("--retry-failed"), std::string::npos) << again.err;
  EXPECT_EQ(read_json(sweep + "/trials/" + failed_id + "/status.json").value("attempts", 0), 1);
  Result retry = ptlab("sweep --retry-failed " + sweep_args(sweep) +
                           " method.length=4,100000 trainer.max_steps=4 trainer.eval_every=0",
                       dir);
  EXPECT_EQ(retry.code, 1) << retry.err;
  EXPECT_EQ(read_json(sweep + "/trials/" + failed_id + "/status.json").value("attempts", 0), 2);
}

TEST(Sweep, BadSweepInputsAreOneLineErrors) {
  TempDir dir;
  expect_one_line_error(ptlab("sweep --dir " + dir.sub("s") + " run.dir=x method=prompt_tuning", dir), "--dir");
  expect_one_line_error(ptlab("sweep --dir " + dir.sub("s") + " --only x", dir), "--only needs a trial number");
  expect_one_line_error(ptlab("sweep --bogus", dir), "unknown option '--bogus'");
  expect_one_line_error(ptlab("sweep --dir " + dir.sub("s") + " launcher=nowhere", dir), "launcher");
}

// Every shipped sweep composes every one of its trials (the method, task and experiment configs they name
// exist and agree): `--dry-run` validates each trial's config without running it.
TEST(Sweep, EveryShippedSweepComposes) {
  TempDir dir;
  int sweeps = 0;
  for (const auto& entry : fs::directory_iterator(std::string(PTLAB_SOURCE_DIR) + "/configs/sweep")) {
    const std::string name = entry.path().stem().string();
    SCOPED_TRACE(name);
    const Result r = ptlab(fmt_args({"sweep", "--dry-run", "--dir", dir.sub(name), "--config-dir",
                                     std::string(PTLAB_SOURCE_DIR) + "/configs",
                                     "paths.shared=" + std::string(PTLAB_SHARED_DIR), "sweep=" + name}),
                           dir);
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("trials"), std::string::npos) << r.out;
    ++sweeps;
  }
  EXPECT_GE(sweeps, 6);
}

TEST(Sweep, LauncherMpirunPrintsTheLineAndRunsIt) {
  REQUIRE_SHARED();
  REQUIRE_MPI();
  TempDir dir;
  const std::string sweep = dir.sub("sweep");
  const std::string args = sweep_args(sweep) + " runtime.seed=0,1 trainer.max_steps=3 trainer.eval_every=0 launcher=mpirun";
  // More ranks than cores: oversubscribe, passive wait; the inner command is a local sweep in the same dir.
  Result printed = ptlab("sweep " + args + " launcher.np=64 launcher.ranks_per_trial=2", dir);
  ASSERT_EQ(printed.code, 0) << printed.err;
  EXPECT_NE(printed.out.find("-np 64 --bind-to none"), std::string::npos) << printed.out;
  EXPECT_NE(printed.out.find("--oversubscribe -x OMP_WAIT_POLICY=PASSIVE"), std::string::npos) << printed.out;
  EXPECT_NE(printed.out.find(" sweep --dir " + fs::absolute(sweep).string()), std::string::npos) << printed.out;
  EXPECT_NE(printed.out.find("launcher=local launcher.ranks_per_trial=2"), std::string::npos) << printed.out;
  EXPECT_EQ(printed.out.find("launcher=mpirun"), std::string::npos) << printed.out;
  EXPECT_FALSE(fs::exists(sweep + "/summary.csv")) << "printing runs nothing";
  expect_one_line_error(ptlab("sweep " + args + " launcher.np=3 launcher.ranks_per_trial=2", dir),
                        "not a multiple of launcher.ranks_per_trial=2");
  // launcher.run=true runs that line: 2 ranks, one trial each.
  Result ran = ptlab("sweep " + args + " launcher.np=2 launcher.run=true launcher.mpirun=" + mpiexec(), dir);
  ASSERT_EQ(ran.code, 0) << ran.err;
  auto rows = read_summary(sweep);
  ASSERT_EQ(rows.size(), 2u);
  for (const auto& row : rows) EXPECT_EQ(row.at("status"), "done");
}

TEST(Sweep, KillingOneRankEndsTheJobAndTheRerunCompletesWithoutRetrainingFinishedTrials) {
  REQUIRE_SHARED();
  REQUIRE_MPI();
  TempDir dir;
  const std::string sweep = dir.sub("sweep");
  const std::string args = sweep_args(sweep) +
                           " method.length=4,8 runtime.seed=0,1,2 trainer.max_steps=60 trainer.eval_every=20 "
                           "trainer.checkpoint_every=5 trainer.progress=false";
  const std::string log = dir.sub("first.log");
  // The job in the background; its pid file tells when it ended.
  const std::string script = "(" + mpirun_np2() + PTLAB_BINARY + " sweep " + args + " >" + log + " 2>&1; echo $? >" +
                             dir.sub("first.rc") + ") &";
  ASSERT_EQ(std::system(script.c_str()), 0);
  // Wait until one trial is done and another is running.
  std::vector<std::string> done_before;
  std::string running;
  for (int i = 0; i < 600 && (done_before.empty() || running.empty()); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    done_before.clear();
    running.clear();
    if (!fs::exists(sweep + "/trials")) continue;
    for (const auto& e : fs::directory_iterator(sweep + "/trials")) {
      const std::string s = status_of(e.path().string());
      if (s == "done") done_before.push_back(e.path().string());
      if (s == "running") running = e.path().string();
    }
  }
  ASSERT_FALSE(done_before.empty()) << file_bytes(log);
  ASSERT_FALSE(running.empty()) << file_bytes(log);
  std::map<std::string, std::string> files_before;
  for (const auto& d : done_before)
    for (const char* f : {"metrics.h5", "metrics.jsonl", "summary.json", "status.json", "prompt.safetensors"})
      files_before[d + "/" + f] = file_bytes(d + "/" + f);
  // kill -9 one rank of the job.
  Result pids;
  // A rank: its command line starts with the binary (mpirun's and this shell's do not).
  run_shell("pgrep -f '^" + std::string(PTLAB_BINARY) + " sweep --dir " + sweep + "' | tail -1", dir, pids);
  const pid_t victim = static_cast<pid_t>(std::atoi(pids.out.c_str()));
  ASSERT_GT(victim, 0) << pids.out;
  const auto killed_at = std::chrono::steady_clock::now();
  ASSERT_EQ(::kill(victim, SIGKILL), 0);
  for (int i = 0; i < 600 && !fs::exists(dir.sub("first.rc")); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(fs::exists(dir.sub("first.rc"))) << "the job did not end within 30 s of the kill";
  std::printf("[ timing ] the job ended %.1f s after kill -9 of one rank\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - killed_at).count());
  EXPECT_NE(std::atoi(file_bytes(dir.sub("first.rc")).c_str()), 0);

  // The rerun completes the sweep; the trials finished before the kill are untouched.
  Result r;
  run_shell(mpirun_np2() + PTLAB_BINARY + " sweep " + args, dir, r);
  ASSERT_EQ(r.code, 0) << r.err;
  auto rows = read_summary(sweep);
  ASSERT_EQ(rows.size(), 6u);
  for (const auto& row : rows) EXPECT_EQ(row.at("status"), "done") << row.at("trial_id");
  for (const auto& [path, bytes] : files_before) EXPECT_EQ(file_bytes(path), bytes) << path << " changed";
  for (const auto& d : done_before) EXPECT_EQ(read_json(d + "/status.json").value("attempts", 0), 1) << d;
  // Every trial trained each step once: one train/loss row per log step, no duplicates, none missing.
  for (const auto& row : rows) {
    auto steps = read_steps(sweep + "/trials/" + row.at("trial_id") + "/metrics.h5", "train/loss");
    std::vector<int64_t> expected;
    for (int64_t s = 10; s <= 60; s += 10) expected.push_back(s);
    EXPECT_EQ(steps, expected) << row.at("trial_id");
  }
}

// ---- the run log of one training run ----------------------------------------------------------------

TEST(RunLogOfATrainingRun, KilledAtRandomMomentsLeavesAFileStandardToolsOpenAsItIs) {
  REQUIRE_SHARED();
  TempDir dir;
  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> delay_ms(300, 3000);
  for (int round = 0; round < 4; ++round) {
    const std::string run = dir.sub("run" + std::to_string(round));
    const int delay = delay_ms(rng);
    const std::string cmd = "exec " + std::string(PTLAB_BINARY) + " train " + base_args(run) +
                            " trainer.max_steps=100000 trainer.log_every=2 trainer.eval_every=50 run.flush_seconds=0.5 "
                            "trainer.progress=false >/dev/null 2>&1";
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(delay));
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    SCOPED_TRACE("killed after " + std::to_string(delay) + " ms");
    if (!fs::exists(run + "/metrics.h5")) continue;  // killed before the log existed
    // Opens without SWMR and without h5clear; its three datasets per series agree.
    hid_t f = H5Fopen((run + "/metrics.h5").c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    ASSERT_GE(f, 0);
    H5Fclose(f);
    const int64_t steps = series_length(run + "/metrics.h5", "/metrics/train/loss/step");
    EXPECT_EQ(series_length(run + "/metrics.h5", "/metrics/train/loss/value"), steps);
    EXPECT_EQ(series_length(run + "/metrics.h5", "/metrics/train/loss/wall_time"), steps);
    Result ls;
    run_shell("h5ls -r " + run + "/metrics.h5 >/dev/null", dir, ls);
    EXPECT_EQ(ls.code, 0) << ls.err;
    // Every training row more than a flush interval (0.5 s) older than the last one the sidecar got is in
    // the file (metrics.jsonl is written line by line, after the HDF5 log took the row).
    std::vector<double> times;
    std::ifstream in(run + "/metrics.jsonl");
    std::string line;
    while (std::getline(in, line)) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_object() && j.value("split", "") == "train") times.push_back(j.value("wall_time", 0.0));
    }
    const int64_t settled =
        times.empty() ? 0 : std::count_if(times.begin(), times.end(), [&](double t) { return t < times.back() - 1.0; });
    EXPECT_GE(steps, settled) << "h5 rows " << steps << ", jsonl rows " << times.size();
  }
}

TEST(RunLogOfATrainingRun, ResumeFromAnEarlierCheckpointDropsTheRowsOfTheLostFuture) {
  REQUIRE_SHARED();
  TempDir dir;
  const std::string common = " trainer.log_every=1 trainer.eval_every=5 trainer.progress=false";
  // A 10-step run's final checkpoint (step 10) put into a 20-step run's directory: the resumed run goes on
  // from step 10, and rows 11-20 of the first run are the lost future.
  const std::string ten = dir.sub("ten"), run = dir.sub("run");
  ASSERT_EQ(ptlab("train " + base_args(ten) + common + " trainer.max_steps=10", dir).code, 0);
  Result first = ptlab("train " + base_args(run) + common + " trainer.max_steps=20", dir);
  ASSERT_EQ(first.code, 0) << first.err;
  fs::copy_file(ten + "/checkpoint.safetensors", run + "/checkpoint.safetensors", fs::copy_options::overwrite_existing);
  const double resumed_at = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  Result resumed = ptlab("train " + base_args(run) + common + " trainer.max_steps=20 trainer.resume=true", dir);
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  std::vector<int64_t> expected;
  for (int64_t s = 1; s <= 20; ++s) expected.push_back(s);
  EXPECT_EQ(read_steps(run + "/metrics.h5", "train/loss"), expected);
  EXPECT_EQ(read_steps(run + "/metrics.h5", "eval/accuracy"), (std::vector<int64_t>{5, 10, 15, 20}));
  // Rows 11-20 are the resumed run's (written after it started), 1-10 the first run's.
  std::ifstream in(run + "/metrics.jsonl");
  std::string line;
  std::vector<int64_t> jsonl_steps;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    if (j["split"] != "train") continue;
    jsonl_steps.push_back(j["step"].get<int64_t>());
    EXPECT_EQ(j["wall_time"].get<double>() > resumed_at, j["step"].get<int64_t>() > 10) << line;
  }
  EXPECT_EQ(jsonl_steps, expected);

  // A resume with nothing to resume from, into a directory holding a run, says so instead of mixing runs.
  fs::remove(run + "/checkpoint.safetensors");
  expect_one_line_error(ptlab("train " + base_args(run) + common + " trainer.max_steps=20 trainer.resume=true", dir),
                        "no checkpoint to resume from");
}

}  // namespace
}  // namespace ptlab::launchers
