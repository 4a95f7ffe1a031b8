// Running sweeps: `ptlab sweep -m ...` with launcher=local, in one process or under mpirun / srun.
//
// A sweep directory (default <paths.outputs>/sweeps/<name>, name = the chosen configs/sweep/<name>.yaml or
// "multirun"; `--dir` sets it):
//
//   multirun.yaml          the spec: the command line, the launcher, every trial with its id and overrides
//   summary.csv            one row per trial (docs/sweeps.md), rewritten after every trial
//   sweep.h5               an HDF5 index: /trials/<id> external links to every trial's metrics.h5
//   trials/<id>/           the trial's run dir (config.yaml, metrics.h5, metrics.jsonl, summary.json, ...)
//       status.json        pending (no file) | running | done | failed (with its error line) | stopped
//
// Trial ids are stable: a hash of the trial's own overrides, sorted (the launcher's and the run-time knobs
// that cannot change a result — runtime.threads, runtime.backend, runtime.device, trainer.progress, ... —
// left out). Growing the grid or rerunning adds trials without renaming any.
//
// Under `mpirun -np N` (or srun) with launcher.ranks_per_trial = R, the world is split into N / R groups
// (MPI sub-communicators); each trains its trial data-parallel and takes the next from a queue (a file
// in the sweep dir, claimed under a lock) until none is left. A failing trial is recorded and its group
// goes on (with R > 1 the job is aborted instead: the group's other ranks may be inside a collective); a
// stop signal (SIGTERM / SIGUSR1: Slurm preemption) checkpoints the running trials and ends the sweep
// with exit code 75 so that the job can requeue itself. Running the sweep again skips done trials,
// resumes stopped / interrupted ones from their checkpoints (or restarts them cleanly without one) and
// leaves failed ones failed unless --retry-failed.
#pragma once

#include "framework/config/compose.h"
#include "framework/dist/communicator.h"

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <string>
#include <vector>

namespace ptlab::launchers {

/// The exit code of a sweep stopped by a signal with trials left: "try again" (sysexits' EX_TEMPFAIL).
inline constexpr int kSweepStopped = 75;

struct SweepTrial {
  std::string id;                      ///< stable id (12 hex digits)
  int64_t num = 0;                     ///< position in this expansion (Hydra's job num)
  std::vector<std::string> overrides;  ///< what the trial is composed from (the sweep-level ones included)
  std::vector<std::string> identity;   ///< the overrides that define it, sorted (what the id hashes)
  std::string task, model, method;     ///< composed choices
  int64_t seed = 0;                    ///< runtime.seed
};

struct SweepPlan {
  std::string name;                       ///< the sweep's name
  std::string dir;                        ///< the sweep directory
  std::vector<std::string> command_line;  ///< the overrides as given
  std::vector<SweepTrial> trials;         ///< in Hydra's order
  std::vector<std::pair<int64_t, std::string>> invalid;  ///< trials whose config does not compose: (num, error)
  config::ComposeOptions compose;
  std::string launcher;   ///< launcher.name: local | mpirun | slurm
  int ranks_per_trial = 1;
  YAML::Node launcher_config;  ///< the composed `launcher:` section (of the first trial)
};

/// Expands and validates the sweep (every trial is composed; the invalid ones are listed in `invalid`),
/// and gives each trial its id. `dir` = "" picks the default directory.
SweepPlan plan_sweep(const config::ComposeOptions& options, const std::vector<std::string>& overrides,
                     const std::string& dir);

/// The stable id of a trial with these (identity) overrides.
std::string trial_id(const std::vector<std::string>& identity);

/// Whether an override (as written) is part of a trial's identity (false for launcher.*, runtime.threads, ...).
bool defines_trial(const std::string& override_text);

struct SweepRunOptions {
  bool retry_failed = false;  ///< rerun trials that failed before
  int64_t only = -1;          ///< >= 0: run just the trial with this num (a Slurm array task); its lock and
                              ///< queue then live in the trial's dir, so array tasks run side by side
};

/// Runs the plan's pending trials on `world` (every rank calls it). Returns the exit code: 0 when every
/// trial is done, 1 when some failed, kSweepStopped when a signal stopped it with trials left.
int run_sweep(const SweepPlan& plan, dist::Communicator& world, const SweepRunOptions& options);

/// The status a trial's status.json (parsed; null when there is none) says: "pending" without one.
std::string trial_status(const nlohmann::json& status);

/// Trials by status: pending, running, done, failed, stopped (read from the trial dirs).
struct SweepCounts {
  int pending = 0, running = 0, done = 0, failed = 0, stopped = 0;
};
SweepCounts count_trials(const SweepPlan& plan);

/// Rewrites summary.csv and sweep.h5 from the trial dirs (atomically; safe while trials run).
void write_sweep_index(const SweepPlan& plan);

}  // namespace ptlab::launchers
