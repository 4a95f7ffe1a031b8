#include "launchers/sweep_runner.h"

#include "launchers/pipeline.h"

#include "framework/config/override.h"
#include "framework/config/sweep.h"
#include "framework/config/yaml_value.h"
#include "framework/core/clock.h"
#include "framework/core/error.h"
#include "framework/core/log.h"
#include "framework/dist/device.h"
#include "framework/io/jsonl_log.h"
#include "framework/train/stop_signal.h"
#include "launchers/trial.h"
#include "tasks/synthetic/fnv1a.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <set>

namespace ptlab::launchers {
namespace fs = std::filesystem;
namespace {

// The override's key without its +/++/~ prefix and @package ("trainer.lr", "method").
std::string override_key(const std::string& text) {
  return config::parse_override(text).key;
}


fs::path trial_dir(const SweepPlan& plan, const SweepTrial& trial) { return fs::path(plan.dir) / "trials" / trial.id; }

// An exclusive lock on `path` (created if missing) held while the returned descriptor is open: flock, so
// it works between the processes of one job and between jobs. `wait` = false fails at once when taken.
int lock_path(const fs::path& path, bool wait) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  PTLAB_CHECK(fd >= 0, "cannot open the lock file {}: {}", path.string(), std::strerror(errno));
  while (::flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) != 0) {
    if (errno == EINTR) continue;  // a stop signal arrived while waiting
    const int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) return -1;
    PTLAB_FAIL("cannot lock {}: {}; on a file system without locks put the sweep dir elsewhere (--dir)",
               path.string(), std::strerror(err));
  }
  return fd;
}

struct LockGuard {
  int fd = -1;
  ~LockGuard() {
    if (fd >= 0) ::close(fd);
  }
};

void write_multirun_yaml(const SweepPlan& plan) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << plan.name;
  out << YAML::Key << "launcher" << YAML::Value << plan.launcher;
  out << YAML::Key << "ranks_per_trial" << YAML::Value << plan.ranks_per_trial;
  out << YAML::Key << "command_line" << YAML::Value << YAML::BeginSeq;
  for (const auto& o : plan.command_line) out << YAML::DoubleQuoted << o;
  out << YAML::EndSeq;
  out << YAML::Key << "trials" << YAML::Value << YAML::BeginSeq;
  for (const auto& t : plan.trials) {
    out << YAML::BeginMap << YAML::Key << "id" << YAML::Value << t.id << YAML::Key << "num" << YAML::Value << t.num;
    out << YAML::Key << "overrides" << YAML::Value << YAML::Flow << YAML::BeginSeq;
    for (const auto& o : t.identity) out << YAML::DoubleQuoted << o;
    out << YAML::EndSeq << YAML::EndMap;
  }
  out << YAML::EndSeq << YAML::EndMap;
  const fs::path path = fs::path(plan.dir) / "multirun.yaml";
  const std::string tmp = path.string() + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f << "# ptlab sweep: the multirun spec (written at every launch)\n" << out.c_str() << "\n";
    PTLAB_CHECK(f.good(), "cannot write {}", tmp);
  }
  PTLAB_CHECK(std::rename(tmp.c_str(), path.c_str()) == 0, "cannot write {}: {}", path.string(),
              std::strerror(errno));
}

// The files a trial's run leaves; removed before a trial starts over without a checkpoint, so that its log
// never mixes two attempts.
std::string one_line(std::string text) {
  std::replace(text.begin(), text.end(), '\n', ' ');
  return text;
}

std::string join(const std::vector<std::string>& items, const std::string& sep) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : sep) + s;
  return out;
}

// The queue of one launch: the trials to run and the next to hand out, in <dir>/.queue.json, changed
// only under <dir>/.queue.lock.
struct Queue {
  fs::path dir;  // where .queue.json and .queue.lock live

  nlohmann::json read() const { return io::read_json_file(dir / ".queue.json"); }
  void write(const nlohmann::json& q) const { io::write_summary_json((dir / ".queue.json").string(), q); }

  // Claims the next trial of launch `launch`: its index in `todo`, or -1 when none is left.
  int64_t claim(const std::string& launch) const {
    LockGuard lock{lock_path(dir / ".queue.lock", true)};
    auto q = read();
    PTLAB_CHECK(q.is_object() && q.value("launch", "") == launch,
                "{}: the sweep's queue was replaced by another launch of the same sweep; only one `ptlab sweep` may "
                "run in a sweep dir at a time",
                (dir / ".queue.json").string());
    const int64_t next = q["next"].get<int64_t>();
    if (next >= static_cast<int64_t>(q["todo"].size())) return -1;
    q["next"] = next + 1;
    write(q);
    return next;
  }

  // Records that a group is finished; returns the updated queue.
  nlohmann::json finish_group(const std::string& launch, int failed, bool stopped) const {
    LockGuard lock{lock_path(dir / ".queue.lock", true)};
    auto q = read();
    if (!q.is_object() || q.value("launch", "") != launch) return nullptr;
    q["finished_groups"] = q["finished_groups"].get<int64_t>() + 1;
    q["failed"] = q["failed"].get<int64_t>() + failed;
    q["stopped"] = q["stopped"].get<bool>() || stopped;
    write(q);
    return q;
  }
};

// Whether a done trial's config.yaml is what its overrides compose to today (as trial.cpp writes it:
// run.dir set, trainer.resume false).
bool config_matches(const SweepPlan& plan, const SweepTrial& trial) {
  const fs::path dir = trial_dir(plan, trial);
  std::ifstream in(dir / "config.yaml", std::ios::binary);
  if (!in) return true;  // nothing to compare with
  const std::string stored((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  try {
    std::vector<std::string> overrides = trial.overrides;
    overrides.push_back("run.dir=" + dir.string());
    overrides.push_back("trainer.resume=false");
    return config::to_yaml(config::compose(plan.compose, overrides).root) == stored;
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

std::string trial_status(const nlohmann::json& status) {
  if (!status.is_object() || !status.contains("status") || !status["status"].is_string()) return "pending";
  return status["status"].get<std::string>();
}

bool defines_trial(const std::string& override_text) {
  const std::string key = override_key(override_text);
  if (key == "launcher" || key.rfind("launcher.", 0) == 0 || key == "sweep") return false;
  static const std::set<std::string> kRuntimeOnly = {
      "runtime.threads", "runtime.backend", "runtime.device",  "runtime.share_devices", "trainer.progress",
      "trainer.resume",  "run.flush_seconds", "paths.outputs", "paths.shared"};
  return kRuntimeOnly.count(key) == 0;
}

std::string trial_id(const std::vector<std::string>& identity) {
  tasks::synthetic::Fnv1a64 h;
  for (const auto& o : identity) {
    h.update(o);
    h.update("\n");
  }
  return h.hex().substr(0, 12);
}

SweepPlan plan_sweep(const config::ComposeOptions& options, const std::vector<std::string>& overrides,
                     const std::string& dir) {
  SweepPlan plan;
  plan.compose = options;
  plan.command_line = overrides;
  for (const auto& o : overrides) {
    const std::string key = override_key(o);
    PTLAB_CHECK(key != "run.dir",
                "override '{}': a sweep gives every trial its own run dir (<sweep dir>/trials/<id>); set the sweep's "
                "directory with --dir instead",
                o);
  }
  auto expanded = config::expand_multirun(options, overrides);
  PTLAB_CHECK(!expanded.empty(), "the sweep has no trials");
  std::set<std::string> seen;
  for (std::size_t t = 0; t < expanded.size(); ++t) {
    SweepTrial trial;
    trial.num = static_cast<int64_t>(t);
    trial.overrides = expanded[t];
    for (const auto& o : expanded[t])
      if (defines_trial(o)) trial.identity.push_back(o);
    std::sort(trial.identity.begin(), trial.identity.end());
    trial.id = trial_id(trial.identity);
    PTLAB_CHECK(seen.insert(trial.id).second,
                "trial {} ({}) appears twice in the sweep: two values of a swept key give the same overrides", t,
                join(trial.identity, " "));
    config::Composed composed;
    try {
      composed = config::compose(options, trial.overrides);
    } catch (const Error& e) {
      plan.invalid.emplace_back(trial.num, e.what());
      plan.trials.push_back(std::move(trial));
      continue;
    }
    auto choice = [&](const char* group) {
      auto it = composed.choices.find(group);
      return it == composed.choices.end() ? std::string() : it->second;
    };
    trial.task = choice("task");
    trial.model = choice("model");
    trial.method = choice("method");
    if (composed.root["runtime"] && composed.root["runtime"]["seed"])
      trial.seed = composed.root["runtime"]["seed"].as<int64_t>();
    if (plan.dir.empty()) {  // the first valid trial names the sweep and its launcher
      plan.name = choice("sweep").empty() ? "multirun" : choice("sweep");
      const YAML::Node launcher = composed.root["launcher"];
      if (launcher) plan.launcher_config = YAML::Clone(launcher);
      plan.launcher = launcher && launcher["name"] ? launcher["name"].as<std::string>() : "local";
      if (launcher && launcher["ranks_per_trial"]) plan.ranks_per_trial = launcher["ranks_per_trial"].as<int>();
      PTLAB_CHECK(plan.ranks_per_trial >= 1, "launcher.ranks_per_trial: must be at least 1, got {}",
                  plan.ranks_per_trial);
      std::string outputs = "outputs";
      if (composed.root["paths"] && composed.root["paths"]["outputs"])
        outputs = composed.root["paths"]["outputs"].as<std::string>();
      plan.dir = dir.empty() ? (fs::path(outputs) / "sweeps" / plan.name).string() : dir;
    }
    plan.trials.push_back(std::move(trial));
  }
  if (plan.dir.empty()) plan.dir = dir.empty() ? "outputs/sweeps/multirun" : dir;
  return plan;
}

SweepCounts count_trials(const SweepPlan& plan) {
  SweepCounts c;
  for (const auto& t : plan.trials) {
    const std::string s = trial_status(io::read_json_file(trial_dir(plan, t) / "status.json"));
    if (s == "done") ++c.done;
    else if (s == "failed") ++c.failed;
    else if (s == "running") ++c.running;
    else if (s == "stopped") ++c.stopped;
    else ++c.pending;
  }
  return c;
}

int run_sweep(const SweepPlan& plan, dist::Communicator& world, const SweepRunOptions& options) {
  if (!plan.invalid.empty()) {
    const auto& [num, error] = plan.invalid.front();
    PTLAB_FAIL("{} of {} trials are invalid (`ptlab sweep --dry-run` lists them); trial {} ({}): {}",
               plan.invalid.size(), plan.trials.size(), num,
               join(plan.trials[static_cast<std::size_t>(num)].identity, " "), error);
  }
  const bool root = world.rank() == 0;
  const int per_trial = plan.ranks_per_trial;
  PTLAB_CHECK(world.size() % per_trial == 0,
              "launcher.ranks_per_trial={} does not divide the {} ranks of the job; start it with a multiple of {} "
              "ranks",
              per_trial, world.size(), per_trial);
  train::install_stop_handlers();  // a preemption signal between trials must not kill the sweep

  // Rank 0 takes the sweep dir (one launch at a time; an array task takes its trial's dir), writes the spec
  // and the queue of this launch.
  PTLAB_CHECK(options.only < static_cast<int64_t>(plan.trials.size()),
              "--only {}: the sweep has trials 0 to {}", options.only, plan.trials.size() - 1);
  const fs::path home =
      options.only >= 0 ? trial_dir(plan, plan.trials[static_cast<std::size_t>(options.only)]) : fs::path(plan.dir);
  LockGuard sweep_lock;
  std::string launch;
  std::string failure;
  if (root) {
    try {
      std::error_code ec;
      fs::create_directories(fs::path(plan.dir) / "trials", ec);
      PTLAB_CHECK(!ec, "cannot create the sweep directory {}: {}; pick another with --dir", plan.dir, ec.message());
      fs::create_directories(home, ec);
      sweep_lock.fd = lock_path(home / ".sweep.lock", false);
      PTLAB_CHECK(sweep_lock.fd >= 0,
                  "{}: another `ptlab sweep` is running there; wait for it, or use another --dir", home.string());
      if (options.only < 0) write_multirun_yaml(plan);
      nlohmann::json todo = nlohmann::json::array();
      int done = 0, failed = 0, drifted = 0;
      std::string drifted_example;
      for (const auto& t : plan.trials) {
        fs::create_directories(trial_dir(plan, t), ec);
        if (options.only >= 0 && t.num != options.only) continue;
        const std::string s = trial_status(io::read_json_file(trial_dir(plan, t) / "status.json"));
        if (s == "done") {
          ++done;
          // Ids hash the overrides, not the config files: a done trial whose config files changed since is
          // kept, but the user hears of it.
          if (!config_matches(plan, t)) {
            if (drifted++ == 0) drifted_example = (trial_dir(plan, t) / "config.yaml").string();
          }
        } else if (s == "failed" && !options.retry_failed) {
          ++failed;
        } else {
          todo.push_back(t.num);
        }
      }
      if (drifted > 0)
        log_warn("sweep {}: {} done trial(s) ran with a config that differs from what the config files give now (e.g. "
                 "{}); their results are kept — remove their trial dirs (or use another --dir) to run them again",
                 plan.dir, drifted, drifted_example);
      launch = fmt::format("{}-{}-{:.0f}", dist::host_name(), ::getpid(), unix_seconds() * 1000);
      Queue{home}.write({{"launch", launch}, {"todo", todo}, {"next", 0}, {"groups", world.size() / per_trial},
                             {"finished_groups", 0}, {"failed", 0}, {"stopped", false}});
      {
        LockGuard lock{lock_path(fs::path(plan.dir) / ".queue.lock", true)};
        write_sweep_index(plan);
      }
      log_info("sweep {}: {} trial(s): {} done, {} failed before{}, {} to run on {} group(s) of {} rank(s)", plan.dir,
               plan.trials.size(), done, failed, failed > 0 && !options.retry_failed ? " (--retry-failed reruns them)" : "",
               todo.size(), world.size() / per_trial, per_trial);
    } catch (const std::exception& e) {
      failure = e.what();
    }
  }
  // Every rank learns the launch id (or rank 0's error) before anything else.
  const std::string message = world.broadcast_string(failure.empty() ? "ok " + launch : "error " + failure, 0);
  if (message.rfind("error ", 0) == 0) {
    if (root) throw Error(failure);
    return 2;  // rank 0 reports it
  }
  launch = message.substr(3);

  std::unique_ptr<dist::Communicator> owned;
  dist::Communicator* group = &world;
  if (per_trial < world.size()) {
    owned = world.split(world.rank() / per_trial, world.rank());
    group = owned.get();
  }
  const bool leader = group->rank() == 0;
  const int group_index = world.rank() / per_trial;
  const Queue queue{home};
  const auto todo = [&] {
    // Read after the broadcast: rank 0 wrote it before.
    std::vector<int64_t> out;
    const nlohmann::json q = queue.read();
    PTLAB_CHECK(q.is_object() && q.contains("todo"), "{}/.queue.json: missing or not a queue", home.string());
    for (const auto& n : q["todo"]) out.push_back(n.get<int64_t>());
    return out;
  }();

  int failed = 0;
  bool stopped = false;
  while (true) {
    // The group agrees on stopping (any rank's signal) and on the trial its leader claimed.
    const bool stop_here = group->size() == 1 ? train::stop_requested() : [&] {
      auto flags = group->all_gather(train::stop_requested() ? 1.0 : 0.0);
      return std::any_of(flags.begin(), flags.end(), [](double f) { return f > 0; });
    }();
    if (stop_here) {
      stopped = true;
      break;
    }
    int64_t index = -1;
    if (leader) index = queue.claim(launch);
    if (group->size() > 1) index = std::stoll(group->broadcast_string(std::to_string(index), 0));
    if (index < 0) break;
    const SweepTrial& trial = plan.trials.at(static_cast<std::size_t>(todo.at(static_cast<std::size_t>(index))));
    const fs::path dir = trial_dir(plan, trial);
    const bool resume = fs::exists(dir / "checkpoint.safetensors");
    nlohmann::json status = io::read_json_file(dir / "status.json");
    const int64_t attempts = (status.is_object() ? status.value("attempts", int64_t{0}) : 0) + 1;
    const double started = unix_seconds();
    const double earlier_seconds = resume && status.is_object() ? status.value("wall_seconds", 0.0) : 0.0;
    status = {{"id", trial.id},         {"num", trial.num},          {"status", "running"},
              {"overrides", trial.identity}, {"attempts", attempts}, {"launch", launch},
              {"host", dist::host_name()},   {"group", group_index}, {"started_utc", utc_now()},
              {"resumed", resume}};
    if (leader) {
      if (!resume) remove_stage_outputs(dir.string());
      io::write_summary_json((dir / "status.json").string(), status);
      log_info("sweep: trial {} ({} of {}) {} [{}]{}", trial.id, index + 1, todo.size(), join(trial.identity, " "),
               fmt::format("group {}", group_index), resume ? ", resuming from its checkpoint" : "");
    }
    if (group->size() > 1) group->barrier();

    std::vector<std::string> overrides = trial.overrides;
    overrides.push_back("run.dir=" + dir.string());
    overrides.push_back(std::string("trainer.resume=") + (resume ? "true" : "false"));
    std::string error;
    std::string outcome_status;
    try {
      const auto composed = config::compose(plan.compose, overrides);
      const RunOutcome outcome =
          run_training(composed, *group, TrialInfo{plan.name, trial.num, world.local_size()});
      outcome_status = outcome.result.status;
    } catch (const std::exception& e) {
      error = one_line(e.what());
      if (error.empty()) error = "unknown error";
    }
    status["wall_seconds"] = earlier_seconds + unix_seconds() - started;
    status["finished_utc"] = utc_now();
    if (!error.empty()) {
      ++failed;
      status["status"] = "failed";
      status["error"] = error;
      // Any rank of the group may be the one that failed; the status is written by it.
      io::write_summary_json((dir / "status.json").string(), status);
      log_error("sweep: trial {} failed: {}", trial.id, error);
      if (group->size() > 1) {
        // The group's other ranks may be waiting in a collective of this trial: end the job, not hang.
        log_error("sweep: a trial of a {}-rank group failed; aborting the job (rerun the sweep to go on: the "
                  "failed trial stays failed unless --retry-failed)",
                  group->size());
        world.abort(1);
      }
    } else if (outcome_status == "stopped") {
      stopped = true;
      status["status"] = "stopped";
      if (leader) io::write_summary_json((dir / "status.json").string(), status);
    } else {
      status["status"] = "done";
      if (leader) io::write_summary_json((dir / "status.json").string(), status);
    }
    if (leader) {
      LockGuard lock{lock_path(fs::path(plan.dir) / ".queue.lock", true)};
      write_sweep_index(plan);
    }
    if (stopped) break;
  }

  // The last group to finish writes the index and says how the sweep ended.
  int code = failed > 0 ? 1 : 0;
  if (stopped) code = kSweepStopped;
  if (leader) {
    const auto q = queue.finish_group(launch, failed, stopped);
    if (q.is_object() && q["finished_groups"].get<int64_t>() == q["groups"].get<int64_t>()) {
      {
        LockGuard lock{lock_path(fs::path(plan.dir) / ".queue.lock", true)};
        write_sweep_index(plan);
      }
      const SweepCounts c = count_trials(plan);
      std::string failed_list;
      for (const auto& t : plan.trials) {
        const auto st = io::read_json_file(trial_dir(plan, t) / "status.json");
        if (trial_status(st) == "failed")
          failed_list += fmt::format("\n  {}: {}", (trial_dir(plan, t) / "status.json").string(),
                                     st.value("error", std::string()));
      }
      const bool any_stopped = q["stopped"].get<bool>();
      log_info("sweep {}: {} trial(s): {} done, {} failed, {} stopped, {} not run{}; summary: {}/summary.csv",
               plan.dir, plan.trials.size(), c.done, c.failed, c.stopped, c.pending + c.running,
               any_stopped ? " (stopped by a signal: run the sweep again to resume)" : "", plan.dir);
      if (!failed_list.empty()) log_error("failed trials (their errors):{}", failed_list);
      if (c.failed > 0) code = 1;
      if (any_stopped) code = kSweepStopped;
    }
  }
  return code;
}

}  // namespace ptlab::launchers
