// `ptlab sweep -m [overrides...]`: expands a multirun (comma lists, range(), glob(), the sweep file's
// params) into trials and runs them with the chosen launcher (launcher=local | mpirun | slurm;
// launchers/sweep_runner.h has the sweep directory's layout and the rules).
#include "framework/config/compose.h"
#include "framework/config/override.h"
#include "framework/core/error.h"
#include "framework/core/log.h"
#include "framework/core/suggest.h"
#include "framework/core/threads.h"
#include "framework/dist/communicator.h"
#include "launchers/command.h"
#include "launchers/sweep_runner.h"

#include <nlohmann/json.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace ptlab::launchers {
namespace {
namespace fs = std::filesystem;

constexpr const char* kHelp =
    "usage: ptlab sweep [-m] [--dir DIR] [--dry-run | --status] [--retry-failed] [--submit] [--config-dir DIR]\n"
    "                   [overrides...]\n"
    "\n"
    "Expands the overrides into the trials of a multirun (the Cartesian product, last key fastest), gives each a\n"
    "stable id (a hash of its own overrides) and runs them with the launcher the config chooses:\n"
    "  launcher=local   in this process, one trial after another; under `mpirun -np N` / `srun` in groups of\n"
    "                   launcher.ranks_per_trial ranks, each group taking the next trial from a queue\n"
    "  launcher=mpirun  prints the mpirun line that runs the sweep (launcher.run=true runs it): -np launcher.np,\n"
    "                   the -x exports, OMP_WAIT_POLICY=PASSIVE and --oversubscribe when the ranks outnumber cores\n"
    "  launcher=slurm   writes <sweep dir>/sweep.sbatch: one allocation running the sweep under srun\n"
    "                   (launcher.mode=allocation) or an array job of one task per trial (launcher.mode=array),\n"
    "                   with --signal=USR1@launcher.signal_seconds and checkpoint-and-requeue; --submit calls sbatch\n"
    "\n"
    "The sweep directory (--dir, default <paths.outputs>/sweeps/<sweep name or 'multirun'>) holds multirun.yaml,\n"
    "summary.csv (one row per trial), sweep.h5 (links to every trial's metrics.h5) and trials/<id>/ (docs/sweeps.md).\n"
    "Running a sweep again skips done trials and resumes interrupted ones from their checkpoints; failed trials\n"
    "stay failed unless --retry-failed. Exit code: 0 all done, 1 some failed, 75 stopped by a signal (resumable),\n"
    "2 bad input.\n"
    "\n"
    "--dir DIR         the sweep directory\n"
    "--dry-run         list and validate the trials (index, id, overrides, status); run nothing\n"
    "--status          print each trial's status and the counts\n"
    "--retry-failed    run failed trials again\n"
    "--submit          launcher=slurm: submit the script with sbatch (same as launcher.submit=true)\n"
    "--only NUM        run only trial NUM of the expansion (what a Slurm array task runs)\n"
    "-m, --multirun    accepted for Hydra habits (ptlab sweep always expands)\n"
    "--config-dir DIR  the config directory (default: $PTLAB_CONFIG_DIR, else ./configs over the built-in configs)\n"
    "-h, --help        this message\n"
    "\n"
    "sweeps: a=1,2,3  a=choice(x,y)  a=range(0,10,2)  a=range(0,1,0.25)  model=glob(*, exclude=big*)\n"
    "  and the params of configs/sweep/<name>.yaml when sweep=<name> is chosen (the command line wins)\n"
    "examples:\n"
    "  ptlab sweep -m task=synthetic_sentiment2 method=prompt_tuning method.length=5,20 runtime.seed=0,1\n"
    "  mpirun -np 4 ptlab sweep sweep=prompt_length launcher.ranks_per_trial=2\n"
    "  ptlab sweep sweep=scale_curve launcher=slurm launcher.ntasks=8 --submit\n";

// The override quoted for a POSIX shell when it holds characters the shell would interpret.
std::string shell_quote(const std::string& s) {
  bool safe = !s.empty() && s.find_first_not_of(
                                "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                                "_-+=.,/:@~%") == std::string::npos;
  if (safe) return s;
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string self_executable() {
  std::error_code ec;
  auto p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("ptlab") : p.string();
}

template <class T>
T launcher_value(const SweepPlan& plan, const char* key, T fallback) {
  const YAML::Node& c = plan.launcher_config;
  if (!c || !c[key] || c[key].IsNull()) return fallback;
  try {
    return c[key].as<T>();
  } catch (const YAML::Exception&) {
    PTLAB_FAIL("launcher.{}: '{}' is not a valid value for launcher={}", key, c[key].Scalar(), plan.launcher);
  }
}

std::vector<std::string> launcher_list(const SweepPlan& plan, const char* key) {
  std::vector<std::string> out;
  const YAML::Node& c = plan.launcher_config;
  if (!c || !c[key] || c[key].IsNull()) return out;
  PTLAB_CHECK(c[key].IsSequence(), "launcher.{}: expected a list, e.g. [--hostfile, hosts]", key);
  for (const auto& item : c[key]) out.push_back(item.as<std::string>());
  return out;
}

// The `ptlab sweep` command every rank of the launched job runs: the same overrides, with the launcher
// turned into local (keeping ranks_per_trial), an absolute sweep dir and config dir.
std::vector<std::string> inner_command(const SweepPlan& plan, const config::ComposeOptions& options,
                                       const std::vector<std::string>& extra_flags) {
  std::vector<std::string> cmd = {self_executable(), "sweep", "--dir", fs::absolute(plan.dir).string()};
  if (!options.config_dir.empty()) {
    std::string dirs;
    // A search path "a:b": each entry made absolute (the job may start elsewhere).
    std::string rest = options.config_dir;
    while (!rest.empty()) {
      auto colon = rest.find(':');
      std::string entry = rest.substr(0, colon);
      if (!entry.empty()) dirs += (dirs.empty() ? "" : ":") + fs::absolute(entry).string();
      rest = colon == std::string::npos ? "" : rest.substr(colon + 1);
    }
    cmd.insert(cmd.end(), {"--config-dir", dirs});
  }
  cmd.insert(cmd.end(), extra_flags.begin(), extra_flags.end());
  for (const auto& o : plan.command_line) {
    const std::string key = config::parse_override(o).key;
    if (key == "launcher" || key.rfind("launcher.", 0) == 0) continue;
    cmd.push_back(o);
  }
  cmd.push_back("launcher=local");
  cmd.push_back("launcher.ranks_per_trial=" + std::to_string(plan.ranks_per_trial));
  return cmd;
}

std::string join_quoted(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : " ") + shell_quote(w);
  return out;
}

int launch_mpirun(const SweepPlan& plan, const config::ComposeOptions& options, bool retry_failed) {
  const int np = launcher_value<int>(plan, "np", 2);
  PTLAB_CHECK(np >= 1, "launcher.np: must be at least 1, got {}", np);
  PTLAB_CHECK(np % plan.ranks_per_trial == 0, "launcher.np={} is not a multiple of launcher.ranks_per_trial={}", np,
              plan.ranks_per_trial);
  std::vector<std::string> cmd = {launcher_value<std::string>(plan, "mpirun", "mpirun"), "-np", std::to_string(np),
                                  "--bind-to", launcher_value<std::string>(plan, "bind_to", "none")};
  if (::geteuid() == 0) cmd.push_back("--allow-run-as-root");
  const int cores = available_cores();
  if (np > cores) {
    // More ranks than cores: OpenMP threads must sleep, not spin, while they wait (DESIGN.md).
    cmd.insert(cmd.end(), {"--oversubscribe", "-x", "OMP_WAIT_POLICY=PASSIVE"});
  }
  for (const auto& var : launcher_list(plan, "export"))
    if (std::getenv(var.c_str())) cmd.insert(cmd.end(), {"-x", var});
  for (const auto& a : launcher_list(plan, "extra_args")) cmd.push_back(a);
  auto inner = inner_command(plan, options, retry_failed ? std::vector<std::string>{"--retry-failed"}
                                                         : std::vector<std::string>{});
  cmd.insert(cmd.end(), inner.begin(), inner.end());
  const std::string line = join_quoted(cmd);
  if (!launcher_value<bool>(plan, "run", false)) {
    std::printf("%s\n", line.c_str());
    return 0;
  }
  std::fprintf(stderr, "ptlab sweep: running %s\n", line.c_str());
  std::fflush(stderr);
  std::vector<char*> argv;
  for (auto& w : cmd) argv.push_back(w.data());
  argv.push_back(nullptr);
  ::execvp(argv[0], argv.data());
  PTLAB_FAIL("launcher=mpirun: cannot run '{}': {}; install Open MPI or set launcher.mpirun to its path", cmd[0],
             std::strerror(errno));
}

int launch_slurm(const SweepPlan& plan, const config::ComposeOptions& options, bool retry_failed, bool submit) {
  const std::string mode = launcher_value<std::string>(plan, "mode", "allocation");
  PTLAB_CHECK(mode == "allocation" || mode == "array", "launcher.mode: '{}' is not allocation or array", mode);
  const bool array = mode == "array";
  const int ntasks = array ? plan.ranks_per_trial : launcher_value<int>(plan, "ntasks", 2);
  PTLAB_CHECK(ntasks % plan.ranks_per_trial == 0, "launcher.ntasks={} is not a multiple of launcher.ranks_per_trial={}",
              ntasks, plan.ranks_per_trial);
  const int signal_seconds = launcher_value<int>(plan, "signal_seconds", 120);
  const std::string dir = fs::absolute(plan.dir).string();
  std::error_code ec;
  fs::create_directories(dir, ec);
  PTLAB_CHECK(!ec, "cannot create the sweep directory {}: {}", dir, ec.message());

  std::string s = "#!/bin/bash\n";
  s += "#SBATCH --job-name=" + launcher_value<std::string>(plan, "job_name", "ptlab-" + plan.name) + "\n";
  s += "#SBATCH --ntasks=" + std::to_string(ntasks) + "\n";
  s += "#SBATCH --cpus-per-task=" + std::to_string(launcher_value<int>(plan, "cpus_per_task", 1)) + "\n";
  s += "#SBATCH --time=" + launcher_value<std::string>(plan, "time", "01:00:00") + "\n";
  const std::string partition = launcher_value<std::string>(plan, "partition", "");
  if (!partition.empty()) s += "#SBATCH --partition=" + partition + "\n";
  if (signal_seconds > 0) s += "#SBATCH --signal=USR1@" + std::to_string(signal_seconds) + "\n";
  s += "#SBATCH --requeue\n#SBATCH --open-mode=append\n";
  if (array) {
    const int parallel = launcher_value<int>(plan, "array_parallel", 0);
    s += "#SBATCH --array=0-" + std::to_string(plan.trials.size() - 1) +
         (parallel > 0 ? "%" + std::to_string(parallel) : std::string()) + "\n";
    s += "#SBATCH --output=" + dir + "/slurm-%A_%a.out\n";
  } else {
    s += "#SBATCH --output=" + dir + "/slurm-%j.out\n";
  }
  for (const auto& a : launcher_list(plan, "sbatch_args")) s += "#SBATCH " + a + "\n";
  s += "# Written by `ptlab sweep` (launcher=slurm, mode=" + mode + "); submit with: sbatch " + dir + "/sweep.sbatch\n";
  s += "# A USR1 (preemption, or the time limit coming) makes every rank checkpoint and exit 75; the job then\n";
  s += "# requeues itself and the sweep resumes where it stopped.\n";
  s += "cd " + shell_quote(fs::current_path().string()) + "\n";
  if (::geteuid() == 0) s += "export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1\n";
  if (const char* shared = std::getenv("PTLAB_SHARED")) s += "export PTLAB_SHARED=" + shell_quote(shared) + "\n";
  std::vector<std::string> flags;
  if (retry_failed) flags.push_back("--retry-failed");
  if (array) flags.insert(flags.end(), {"--only", "${SLURM_ARRAY_TASK_ID}"});
  auto inner = inner_command(plan, options, flags);
  std::string inner_line = join_quoted(inner);
  // The array index must stay expandable by the shell.
  const std::string quoted_index = "'${SLURM_ARRAY_TASK_ID}'";
  if (auto at = inner_line.find(quoted_index); at != std::string::npos)
    inner_line.replace(at, quoted_index.size(), "\"$SLURM_ARRAY_TASK_ID\"");
  s += "srun --mpi=" + launcher_value<std::string>(plan, "mpi", "pmix") + " --kill-on-bad-exit=1 " + inner_line + "\n";
  s += "rc=$?\n";
  s += "if [ \"$rc\" -eq 75 ]; then\n";
  const std::string job = array ? "${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}" : "${SLURM_JOB_ID}";
  s += "  echo \"ptlab: stopped by a signal; requeueing job " + job + "\"\n";
  s += "  scontrol requeue \"" + job + "\"\n";
  s += "fi\n";
  s += "exit \"$rc\"\n";
  const std::string script = dir + "/sweep.sbatch";
  {
    std::ofstream out(script, std::ios::binary | std::ios::trunc);
    out << s;
    PTLAB_CHECK(out.good(), "cannot write {}", script);
  }
  fs::permissions(script, fs::perms::owner_exec | fs::perms::group_exec, fs::perm_options::add, ec);
  std::printf("wrote %s (%s: %zu trials, %d task(s)%s)\n", script.c_str(), mode.c_str(), plan.trials.size(), ntasks,
              array ? " per array task" : "");
  if (!submit && !launcher_value<bool>(plan, "submit", false)) {
    std::printf("submit it with: sbatch %s\n", script.c_str());
    return 0;
  }
  const std::string cmd = "sbatch --parsable " + shell_quote(script);
  std::FILE* pipe = ::popen(cmd.c_str(), "r");
  PTLAB_CHECK(pipe != nullptr, "cannot run sbatch: {}", std::strerror(errno));
  std::string out;
  char buf[256];
  while (std::fgets(buf, sizeof buf, pipe)) out += buf;
  const int status = ::pclose(pipe);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  PTLAB_CHECK(status == 0 && !out.empty(),
              "sbatch {} failed (exit {}){}; is Slurm running here (sinfo)? The script is there to submit by hand",
              script, WIFEXITED(status) ? WEXITSTATUS(status) : -1, out.empty() ? "" : ": " + out);
  std::printf("submitted batch job %s\n", out.c_str());
  return 0;
}

void print_status(const SweepPlan& plan) {
  for (const auto& t : plan.trials) {
    std::string status = "pending", error;
    std::ifstream in(fs::path(plan.dir) / "trials" / t.id / "status.json");
    if (in) {
      auto j = nlohmann::json::parse(in, nullptr, false);
      if (j.is_object()) {
        status = j.value("status", status);
        error = j.value("error", std::string());
      }
    }
    std::string line = fmt::format("{:>4} {} {:<8}", t.num, t.id, status);
    for (const auto& o : t.identity) line += " " + shell_quote(o);
    if (!error.empty()) line += "\n       error: " + error;
    std::printf("%s\n", line.c_str());
  }
  const SweepCounts c = count_trials(plan);
  std::printf("%s: %zu trials: %d done, %d failed, %d stopped, %d running, %d pending\n", plan.dir.c_str(),
              plan.trials.size(), c.done, c.failed, c.stopped, c.running, c.pending);
}

int run_sweep_command(const std::vector<std::string>& args) {
  if (wants_help(args)) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  config::ComposeOptions options{config::default_config_dir()};
  bool dry_run = false, status = false, retry_failed = false, submit = false;
  std::string dir;
  int64_t only = -1;
  std::vector<std::string> overrides;
  const std::vector<std::string> flags = {"--dry-run", "--status", "--retry-failed", "--submit", "--only", "--dir",
                                          "--multirun", "-m", "--config-dir", "--help"};
  auto value_of = [&](std::size_t& i, const std::string& flag) -> std::string {
    const std::string& a = args[i];
    if (a.size() > flag.size() && a.compare(0, flag.size() + 1, flag + "=") == 0) return a.substr(flag.size() + 1);
    PTLAB_CHECK(i + 1 < args.size(), "ptlab sweep: {} needs a value", flag);
    return args[++i];
  };
  auto is = [](const std::string& a, const std::string& flag) { return a == flag || a.rfind(flag + "=", 0) == 0; };
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--dry-run") {
      dry_run = true;
    } else if (a == "--status") {
      status = true;
    } else if (a == "--retry-failed") {
      retry_failed = true;
    } else if (a == "--submit") {
      submit = true;
    } else if (a == "-m" || a == "--multirun") {
      // Sweeps always expand here.
    } else if (is(a, "--config-dir")) {
      options.config_dir = value_of(i, "--config-dir");
    } else if (is(a, "--dir")) {
      dir = value_of(i, "--dir");
    } else if (is(a, "--only")) {
      const std::string v = value_of(i, "--only");
      char* end = nullptr;
      only = std::strtoll(v.c_str(), &end, 10);
      PTLAB_CHECK(!v.empty() && *end == '\0' && only >= 0, "ptlab sweep: --only needs a trial number (0, 1, ...), got '{}'",
                  v);
    } else if (a.size() > 1 && a[0] == '-') {
      PTLAB_FAIL("ptlab sweep: unknown option '{}'{}; options: {}", a, did_you_mean(a, flags), join_names(flags));
    } else {
      overrides.push_back(a);
    }
  }
  PTLAB_CHECK(!(dry_run && status), "ptlab sweep: --dry-run and --status exclude each other; pick one");

  const SweepPlan plan = plan_sweep(options, overrides, dir);
  if (dry_run) {
    for (const auto& t : plan.trials) {
      std::string line = std::to_string(t.num) + ":";
      for (const auto& o : t.overrides) line += " " + shell_quote(o);
      std::printf("%s  # %s\n", line.c_str(), t.id.c_str());
    }
    for (const auto& [num, error] : plan.invalid) std::printf("trial %lld is invalid: %s\n", static_cast<long long>(num), error.c_str());
    if (!plan.invalid.empty()) {
      std::printf("%zu of %zu trials are invalid\n", plan.invalid.size(), plan.trials.size());
      return 2;
    }
    std::printf("%zu trial%s, all valid; sweep dir %s, launcher %s\n", plan.trials.size(),
                plan.trials.size() == 1 ? "" : "s", plan.dir.c_str(), plan.launcher.c_str());
    return 0;
  }
  if (!plan.invalid.empty()) {
    const auto& [num, error] = plan.invalid.front();
    PTLAB_FAIL("{} of {} trials are invalid (`ptlab sweep --dry-run` lists them); trial {}: {}", plan.invalid.size(),
               plan.trials.size(), num, error);
  }
  if (status) {
    print_status(plan);
    return 0;
  }
  if (plan.launcher == "mpirun") return launch_mpirun(plan, options, retry_failed);
  if (plan.launcher == "slurm") return launch_slurm(plan, options, retry_failed, submit);
  PTLAB_CHECK(plan.launcher == "local", "launcher.name: '{}' is not one of local, mpirun, slurm", plan.launcher);
  PTLAB_CHECK(!submit, "ptlab sweep: --submit is for launcher=slurm");

  std::string backend = "auto";
  auto first = config::compose(options, plan.trials.front().overrides);
  if (first.root["runtime"] && first.root["runtime"]["backend"])
    backend = first.root["runtime"]["backend"].as<std::string>();
  PTLAB_CHECK(backend != "local" || plan.ranks_per_trial == 1,
              "launcher.ranks_per_trial={} needs MPI ranks (runtime.backend=local has one)", plan.ranks_per_trial);
  auto world = dist::make_communicator(backend);
  set_log_rank(world->rank(), world->size());
  if (world->size() == 1) return run_sweep(plan, *world, SweepRunOptions{retry_failed, only});
  try {
    return run_sweep(plan, *world, SweepRunOptions{retry_failed, only});
  } catch (const std::exception& e) {
    log_error("{}", e.what());
    world->abort(dynamic_cast<const Error*>(&e) ? 2 : 1);
    return 1;  // not reached: abort ends the job
  }
}

}  // namespace

void add_sweep_command(CommandRegistry& registry) {
  registry.add("sweep", "run a multirun: sweep -m [overrides...] (launcher=local|mpirun|slurm)",
               Command{kHelp, run_sweep_command});
}

}  // namespace ptlab::launchers
