// Runs: one trial from a composed config — what `ptlab train` and `ptlab eval` do.
//
// A run builds, from the config groups: the backbone (`model:` — a Hugging Face directory, or an
// `architecture:` mapping for training from random weights), its tokenizer, the task (`task:`), the
// method (`method:`), the data, and the trainer (`trainer:`). It writes to the run directory
// (`run.dir`, default <paths.outputs>/<task>/<method>/<model>/seed<seed>), rank 0 only:
//
//   config.yaml  overrides.yaml     the resolved config and the command-line overrides
//   metrics.h5                      HDF5 run log (CONVENTIONS B.2), flushed at every eval
//   metrics.jsonl  summary.json     sidecars (one JSON object per event; final and best values)
//   prompt.safetensors              the method's trained state (export_state), best dev state
//   adapter/                        a PEFT adapter where PEFT has the method (prompt tuning)
//   model/                          the backbone, when the method trains it (full_finetune, pretrain)
//   checkpoint.safetensors          resumable training state (trainer.resume=true)
#pragma once

#include "framework/config/compose.h"
#include "framework/dist/communicator.h"
#include "framework/train/trainer.h"

#include <map>
#include <string>

namespace ptlab::train {

struct RunOutcome {
  std::string run_dir;
  std::string method;
  TrainResult result;                                            ///< empty for evaluation-only methods
  std::map<std::string, std::map<std::string, double>> splits;  ///< final evaluation per split ("dev", "test")
  int64_t trainable_parameters = 0;
  int64_t backbone_parameters = 0;
};

/// Trains (or, for methods that train nothing, evaluates) one trial. Every rank of `comm` calls it.
RunOutcome run_training(const config::Composed& composed, dist::Communicator& comm);

/// Evaluates the configured method on `split` ("" = the task's test split, else dev). With `state_path`
/// (a prompt.safetensors, a run directory holding one, or a PEFT adapter directory) the method's state is
/// loaded from it first.
RunOutcome run_evaluation(const config::Composed& composed, dist::Communicator& comm, const std::string& split,
                          const std::string& state_path);

}  // namespace ptlab::train
