// The PPT pipeline (`method=ppt`, methods/ppt/ppt.h for the method, its config and its cache): data ->
// pretrain (in a cache directory shared by every run that pre-trains the same way) -> prompt tuning on the
// downstream task with the pre-trained prompt as its `file` init.
//
//   <cache_dir>/<format>-<hash>/        the pre-training run directory (a complete trial: config.yaml,
//     key.yaml                          metrics.h5, summary.json, prompt.safetensors, adapter/) plus what
//     data/train.jsonl dev.jsonl        defines it (key.yaml), the generated examples with their provenance,
//     data/data.json                    the data stage's record (written last: its presence = data done)
//     data/labels.jsonl                 cls: each corpus sentence's predicted class and probability
//   <run dir>/                          the downstream trial, plus pipeline.json (stages: pretrain, final)
#pragma once

#include "framework/config/compose.h"
#include "framework/dist/communicator.h"
#include "launchers/trial.h"

#include <string>
#include <vector>

namespace ptlab::launchers {

/// Adds "ppt" to pipeline_registry() (register_builtin_pipelines calls it).
void register_ppt_pipeline();

/// The pre-training cache directory of a ppt config (<cache_dir>/<format>-<hash>); Errors as PptConfig.
std::string ppt_pretrain_dir(const config::Composed& composed);

/// A classifier's class probabilities for `texts` (single sentences as text_a): the run directory
/// `labeler_dir` of a trained classifier (its config.yaml and prompt.safetensors). classes = its class
/// names; probs[i][c] = softmax over the class scores. Errors name `where`: not a run directory, not a
/// classification task, no trained state.
struct ClassPredictions {
  std::vector<std::string> classes;
  std::vector<std::vector<double>> probs;
};
ClassPredictions predict_with_labeler(const std::string& labeler_dir, const std::vector<std::string>& texts,
                                      const std::string& work_dir, dist::Communicator& comm, const std::string& where);

}  // namespace ptlab::launchers
