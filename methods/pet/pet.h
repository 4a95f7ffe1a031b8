// PET and iPET (Schick & Schütze 2021, "Exploiting Cloze Questions for Few Shot Text Classification and
// Natural Language Inference"; "It's Not Just Size That Matters"): the algorithms of the `pet` pipeline
// (launchers/pet_pipeline.cpp runs the stages; this file holds what is computed between them).
//
// Pattern-verbalizer pairs (PVPs) come from the task: `task.pvps` lists {template, verbalizer} names
// (tasks/task.h); a pattern is a template with one {mask}, a verbalizer maps each label to a word.
//
// PET, as run here (`ptlab train method=pet task=cb ...`, configs/method/pet.yaml):
//  1. pattern<i>, one stage per PVP p (a run directory under stages/): pattern_method (default full_finetune:
//     prompt-based fine-tuning of the LM/MLM through the PVP's verbalizer; or a prompt method on a frozen
//     backbone, e.g. {name: prompt_tuning, length: 10}) trains on the labeled set T (task.data.train_split)
//     with the PVP's cloze loss — cross-entropy over the verbalizer's label-word scores. PET's auxiliary MLM
//     loss is not used. The stage saves its class scores s_p(l|x) (log-probs of the label words) on the
//     unlabeled split D and on the dev/test splits (predictions/<split>.safetensors).
//     With ensemble_weighting: prior_accuracy, a stage prior<i> first evaluates the PVP zero-shot on T
//     (zero_shot method: the backbone before training) and w(p) = that accuracy; uniform: w(p) = 1.
//  2. label: the ensemble's scores  s(l|x) = sum_p w(p) s_p(l|x) / sum_p w(p)  and soft labels
//     q(l|x) = exp(s(l|x)/T) / sum_l' exp(s(l'|x)/T)  (temperature T, default 2), written with D's texts to
//     soft_labels.jsonl in the run directory. The ensemble's dev/test accuracy is argmax_l s(l|x) vs the gold.
//  3. final: final_method trains, in the run directory itself, on D with the soft labels: the objective's
//     soft-label loss  L = mean_x [ -sum_l q(l|x) log softmax(scores(x))_l ]  (tasks::soft_label_loss; the
//     cross-entropy, = KL(q || p) + H(q), same gradient as PET's KL). Unlike PET's code, the student's
//     scores are not divided by T (nor the loss multiplied by T^2). PET's final model is a sequence classifier;
//     here it is any single-run method: default full_finetune with the task's default template and
//     verbalizer; `final_method: {name: linear_head}` with `final_task: {verbalizer_name: linear_head}` is a
//     classification head on a frozen backbone.
//
// iPET (ipet.generations = G > 0). Generation 0 is PET's pattern models. In generation g = 1..G, for each
// PVP j: a subset N of max(1, round(fraction * (n - 1))) of the other n - 1 models of generation g - 1 is
// drawn (seeded by the run's seed, g and j); their ensemble (the weights above) labels D with hard labels
// argmax_l s_N(l|x); added_g = min(|D|, round((growth^g - 1) * |T|)) of them are drawn so that the class
// counts follow T's class distribution (largest remainders) and, within a class l, with probability
// proportional to the ensemble's confidence softmax(s_N(x))_l (without replacement); model j of generation g
// (stage ipet<g>_pattern<j>) trains on T plus them, so |T_j^g| = growth^g * |T| (PET's d = 5, lambda = 0.25).
// When a class has too few candidates, all of them are taken (and the set is smaller). The set is written to
// stages/ipet<g>_pattern<j>/train.jsonl (T's rows, then the drawn rows with their hard labels). A model of a
// later generation keeps its pattern's weight w(p). Generation G's models label D for the final stage as in 2.
//
// What lands where. soft_labels.jsonl: per row of D {text_a, text_b, idx, label: the argmax class as the data
// file writes it, soft_labels: "q_0 q_1 ..." in class order} — the final stage reads it as split
// pet_soft_labels (meta.soft_labels -> RenderedExample::soft_labels). pipeline.json: every stage with its
// dev/test metrics, and a `label` entry with the ensemble's accuracy. The run's summary.json (the final
// model's) gains pet/<stage>/<split>/<metric> for every earlier stage, pet/prior<i>/train/accuracy (the
// weights), pet/ensemble/{dev,test}/accuracy, pet/patterns and pet/ipet_generations. The sweep index reads
// only its best/eval, final/eval and test keys (the distilled model's); the pet/ keys are for reports.
// Resuming: completed stages are reused (pipeline.h), the ensemble and soft labels are recomputed from the
// stages' saved scores (deterministic), and a final stage that stopped before a checkpoint starts over.
#pragma once

#include "framework/config/compose.h"
#include "tasks/objective.h"

#include <ATen/ATen.h>
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <string>
#include <vector>

namespace ptlab::methods::pet {

struct IpetConfig {
  int64_t generations = 0;  ///< 0: plain PET
  double fraction = 0.25;   ///< lambda: the share of the other models whose ensemble labels a model's data
  double growth = 5.0;      ///< d: the training set grows by this factor per generation
};

struct PetConfig {
  YAML::Node pattern_method;         ///< the `method:` mapping of each pattern stage ({name: full_finetune})
  std::vector<int64_t> patterns;     ///< indices into task.pvps; empty = all of them
  std::string ensemble_weighting = "uniform";  ///< uniform | prior_accuracy
  double temperature = 2.0;
  int64_t unlabeled_limit = 0;       ///< at most this many rows of D (0: all)
  YAML::Node final_method;           ///< the `method:` mapping of the final stage
  YAML::Node final_task;             ///< task keys set in the final stage ({verbalizer_name: linear_head})
  YAML::Node pattern_trainer;        ///< trainer keys set in the pattern stages
  YAML::Node final_trainer;          ///< trainer keys set in the final stage
  IpetConfig ipet;

  /// Decodes the `method:` mapping of a pet run (name: pet). Errors name the key path.
  static PetConfig decode(const YAML::Node& method, const config::Origins& origins);
};

/// The ensemble's scores [N, C]: sum_p w_p scores_p / sum_p w_p. Every scores_p is [N, C]; weights >= 0 with a
/// positive sum.
at::Tensor ensemble_scores(const std::vector<at::Tensor>& scores, const std::vector<double>& weights);

/// PET's soft labels: softmax(scores / temperature) over the classes, [N, C] float32 (temperature > 0).
at::Tensor soft_labels(const at::Tensor& scores, double temperature);

/// The distillation loss (tasks::soft_label_loss): mean over rows of -sum_c q_c log softmax(scores)_c.
inline at::Tensor distillation_loss(const at::Tensor& scores, const at::Tensor& q) {
  return tasks::soft_label_loss(scores, q);
}

/// iPET: how many examples of D generation g adds to T: min(unlabeled, round((growth^g - 1) * train)).
int64_t ipet_added(int64_t generation, int64_t train, double growth, int64_t unlabeled);

/// iPET: the models (indices 0..models-1, never `j`) whose ensemble labels model j's data: max(1,
/// round(fraction * (models - 1))) of them, sorted, drawn with `seed`.
std::vector<int64_t> ipet_subset(int64_t j, int64_t models, double fraction, uint64_t seed);

/// Per class, how many of `n` examples follow the class counts `train_counts` (largest remainders; sums to n).
std::vector<int64_t> ipet_class_quota(const std::vector<int64_t>& train_counts, int64_t n);

struct IpetDraw {
  std::vector<int64_t> rows;    ///< indices into D
  std::vector<int64_t> labels;  ///< their hard labels argmax_l scores
};

/// iPET's draw from D labelled by an ensemble with scores [N, C]: each row's label is its argmax; per class,
/// ipet_class_quota(train_counts, n)[c] rows of that label drawn without replacement with probability
/// proportional to softmax(scores)_c (all of them when there are fewer). Deterministic in `seed`.
IpetDraw ipet_sample(const at::Tensor& scores, const std::vector<int64_t>& train_counts, int64_t n, uint64_t seed);

}  // namespace ptlab::methods::pet
