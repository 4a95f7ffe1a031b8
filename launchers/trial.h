// Trials: one run from a composed config — what `ptlab train`, `ptlab eval`, `ptlab sweep` and the demo do.
// This is the composition root: compose config -> build the parts (backbone, tokenizer, task, method, data,
// trainer) -> train and log. It lives in launchers/, above methods/ and tasks/, so the engine in
// framework/ does not reach up into what plugs into it.
//
// A run builds, from the config groups: the backbone (`model:` — a Hugging Face directory, or an
// `architecture:` mapping for training from random weights), its tokenizer, the task (`task:`), the
// method (`method:`), the data, and the trainer (`trainer:`). It writes to the run directory
// (`run.dir`, default <paths.outputs>/<task>/<method>/<model>/seed<seed>), rank 0 only:
//
//   config.yaml  overrides.yaml     the resolved config and the command-line overrides
//   metrics.h5                      HDF5 run log (CONVENTIONS B.2), flushed at every eval and every
//                                   run.flush_seconds (5) while training; complete and closed at any moment
//   metrics.jsonl  summary.json     sidecars (one JSON object per event; final and best values)
//   prompt.safetensors              the method's trained state (export_state), best dev state
//   adapter/                        a PEFT adapter where PEFT has the method (prompt tuning)
//   model/                          the backbone, when the method trains it (full_finetune, pretrain)
//   checkpoint.safetensors          resumable training state (trainer.resume=true)
//   predictions/<split>.safetensors with run.predict_splits: [split, ...] (classification): each split's class
//                                   scores [N, C] with the final (best) state and its class indices [N] (-1:
//                                   unlabeled) — what PET's ensemble reads from its pattern stages
#pragma once

#include "framework/config/compose.h"
#include "framework/dist/communicator.h"
#include "framework/train/trainer.h"

#include <map>
#include <string>

namespace ptlab::launchers {

struct RunOutcome {
  std::string run_dir;
  std::string method;
  train::TrainResult result;                                            ///< empty for evaluation-only methods
  std::map<std::string, std::map<std::string, double>> splits;  ///< final evaluation per split ("dev", "test")
  int64_t trainable_parameters = 0;
  int64_t backbone_parameters = 0;
};

/// Where a trial sits in a sweep (stamped into its metrics.h5 as @sweep_id and @job_num).
struct TrialInfo {
  std::string sweep_id;
  int64_t job_num = 0;
  int ranks_on_node = 0;  ///< processes sharing this node's cores (runtime.threads=0 divides by it); 0 = comm's
};

/// Trains (or, for methods that train nothing, evaluates) one trial. Every rank of `comm` calls it.
RunOutcome run_training(const config::Composed& composed, dist::Communicator& comm, const TrialInfo& trial = {});

/// Evaluates the configured method on `split` ("" = the task's test split, else dev). With `state_path`
/// (a prompt.safetensors, a run directory holding one, or a PEFT adapter directory) the method's state is
/// loaded from it first.
RunOutcome run_evaluation(const config::Composed& composed, dist::Communicator& comm, const std::string& split,
                          const std::string& state_path);

/// Class probabilities [N, C] float32 on the CPU (softmax of Objective::class_scores) of every example of
/// `split` (in order) with the method's state loaded from `state_path` (a prompt.safetensors); `classes`
/// (if given) gets the task's class names. Classification tasks only. PPT's cls labeler uses it.
at::Tensor predict_class_probabilities(const config::Composed& composed, dist::Communicator& comm,
                                       const std::string& split, const std::string& state_path,
                                       std::vector<std::string>* classes = nullptr);

}  // namespace ptlab::launchers
