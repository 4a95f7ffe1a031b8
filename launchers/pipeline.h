// Pipelines: methods whose run is several trials — stages — rather than one training loop (PET: one model
// per pattern, the ensemble's soft labels, distillation; PPT: prompt pre-training on a corpus, then
// transfer). `ptlab train method=pet ...` and a sweep trial call run_training() as for any method;
// run_training() sees the method's name in the pipeline registry and hands the whole run to the pipeline.
//
// A pipeline's run directory is an ordinary run directory — its last stage runs there, so config.yaml,
// metrics.h5, summary.json and the method's state are the final result, and `ptlab report` and the sweep
// index read it like any trial's — plus one folder per earlier stage:
//
//   stages/<stage>/        a complete run directory of its own (config.yaml, metrics.h5, summary.json, ...)
//   pipeline.json          the pipeline's own record: its stages in order, each with its status and result
//
// Resuming. A stage whose summary.json says "completed" is done and is not run again (its outcome is read
// back); a stage with a checkpoint continues from it; a stage that left a log but no checkpoint starts
// over cleanly. So a pipeline killed between stages, or inside one, continues where it was when it is run
// again (the sweep runner reruns interrupted trials; `ptlab train ... trainer.resume=true` does it by hand).
#pragma once

#include "framework/config/compose.h"
#include "framework/core/registry.h"
#include "framework/dist/communicator.h"
#include "launchers/trial.h"

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace ptlab::launchers {

struct PipelineEntry {
  /// Runs the whole pipeline of the composed config (every rank calls it) and returns the final stage's
  /// outcome with outcome.run_dir = the pipeline's run directory.
  std::function<RunOutcome(const config::Composed& composed, dist::Communicator& comm, const TrialInfo& trial)> run;
};

/// Pipeline methods by `method.name`; register_builtin_pipelines() fills it once.
Registry<PipelineEntry>& pipeline_registry();
void register_builtin_pipelines();

/// Whether `composed`'s method is a pipeline.
bool is_pipeline(const config::Composed& composed);

/// The run directory a trial of `composed` writes to: run.dir, else <paths.outputs>/<task>/<method>/<model>/seed<seed>.
std::string run_dir_of(const config::Composed& composed);

/// One stage: the parent config with these changes.
struct StageSpec {
  std::string name;     ///< folder name under stages/ ("pattern0", "pretrain"); "" = the run directory itself
  /// An explicit directory for a named stage instead of <run_dir>/stages/<name> (PPT: its pre-training cache,
  /// shared by every run that pre-trains the same way); "" = the default.
  std::string dir;
  YAML::Node method;    ///< the stage's whole `method:` mapping (replaces the parent's)
  /// Other values to set, by dotted key path ("task.template_name", "trainer.max_steps"); a null node removes
  /// the key. Intermediate mappings are created.
  std::vector<std::pair<std::string, YAML::Node>> set;
  /// Config-group choices to record instead of the parent's (group -> option; "task" -> "ppt_nsp"): they name
  /// the stage's task or model in its logs and summary.json when `set` replaced that group's mapping.
  std::map<std::string, std::string> choices;
};

/// What run_stage() did.
struct StageResult {
  std::string name;      ///< the spec's name ("" = the final stage)
  RunOutcome outcome;
  std::string dir;       ///< the stage's run directory
  bool reused = false;   ///< the stage was complete before: nothing ran, the outcome was read back
};

/// Runs one stage of the pipeline whose run directory is `run_dir` (see the top for resuming). The stage's
/// config is `parent` with the spec applied, run.dir = spec.dir, else run_dir/stages/<name> (or run_dir) and
/// trainer.resume set from what the directory holds. A reused stage's outcome has its splits from its
/// summary.json ("test/<metric>", "best/eval/<metric>" or "final/eval/<metric>").
StageResult run_stage(const config::Composed& parent, const std::string& run_dir, const StageSpec& spec,
                      dist::Communicator& comm, const TrialInfo& trial);

/// Records the stage's status and result in run_dir/pipeline.json (rank 0; rewritten atomically).
void record_stage(const std::string& run_dir, const std::string& pipeline, const StageResult& stage);

/// The outcome recorded in `dir`/summary.json (as a reused stage's; see run_stage).
RunOutcome outcome_from_run_dir(const std::string& dir);

/// Removes what a trial writes to `dir` (logs, summary, config, state, predictions; not stages/ nor other files),
/// so that a stage, or a sweep trial, interrupted before its first checkpoint can start over there.
void remove_stage_outputs(const std::string& dir);

/// PET / iPET (launchers/pet_pipeline.cpp, methods/pet/pet.h).
void register_pet_pipeline();

/// Makes the run's metrics.h5 (the final stage's) the pipeline's one HDF5 entry point (rank 0, after the
/// final stage): /stages/<name> external links to every earlier stage's metrics.h5 that pipeline.json lists
/// (relative paths, so the run directory can move), and `summary` — the pipeline's own numbers, e.g. PET's
/// pet/ensemble/test/accuracy — as attributes of /summary. The file is rewritten through a copy renamed over
/// it, as RunLog writes it. Nothing happens without a metrics.h5.
void link_stages(const std::string& run_dir, const nlohmann::json& summary);

/// Sets `key_path` ("a.b.c") of `root` to `value` (null: removes it), creating mappings on the way.
void set_key_path(YAML::Node root, const std::string& key_path, const YAML::Node& value);

}  // namespace ptlab::launchers
