// Trainer: the training loop every method shares — optimizer and schedule, gradient accumulation and
// clipping, data-parallel gradient all-reduce, evaluation on the dev split, best-state selection, early
// stopping, checkpoint/resume, preemption signals, and the run's logs (metrics.h5 / metrics.jsonl).
//
//   trainer:                      # configs/trainer/default.yaml
//     max_steps: 1000             # optimizer updates; 0 = use epochs
//     epochs: 0                   # passes over the training split (fractions allowed) when max_steps is 0
//     batch_size: 8               # examples per rank per micro-batch (global batch = batch_size x ranks x accumulation)
//     grad_accumulation: 1
//     max_grad_norm: 1.0          # 0 = no clipping (the norm is still logged)
//     eval_every: 100             # steps; 0 = only at the end
//     eval_batch_size: 32
//     eval_limit: 0               # evaluate on at most this many dev examples (0 = all)
//     log_every: 10               # steps between train/* log rows and progress lines
//     checkpoint_every: 0         # steps between checkpoints (0 = only on a stop signal and at the end)
//     checkpoint_minutes: 10      # also checkpoint when this much wall time passed since the last one (0 = never)
//     early_stopping_patience: 0  # evaluations without improvement before stopping (0 = never)
//     metric: null                # the dev metric that picks the best state (null = the task's first)
//     restore_best: true          # evaluate the test split(s) with the best dev state
//     resume: false               # continue from <run dir>/checkpoint.safetensors
//     checksum_every: 50          # steps between cross-rank parameter checks (0 = never)
//     optimizer: {name: adamw, lr: 0.3, ...}        (optimizer.h)
//     schedule: {name: linear, warmup_steps: 0, ...} (schedule.h)
//
// Determinism: the data order is a pure function of (seed, epoch) (data/sampling.h), so a resumed run
// visits the same batches; the data position, optimizer state and RNG state are in the checkpoint.
// Data parallel: rank r of w visits its strided part of each epoch's order, so w ranks with batch b see
// exactly the examples one process with batch w*b sees; only trainable gradients are all-reduced, as one
// flattened buffer per step (with the loss and the stop flag riding along).
#pragma once

#include "framework/config/reader.h"
#include "framework/data/example.h"
#include "framework/dist/communicator.h"
#include "framework/models/backbone.h"
#include "framework/train/optimizer.h"
#include "framework/train/schedule.h"
#include "methods/method.h"
#include "tasks/objective.h"
#include "tasks/task.h"

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ptlab::train {

struct TrainerConfig {
  int64_t max_steps = 1000;
  double epochs = 0.0;
  int64_t batch_size = 8;
  int64_t grad_accumulation = 1;
  double max_grad_norm = 1.0;
  int64_t eval_every = 100;
  int64_t eval_batch_size = 32;
  int64_t eval_limit = 0;
  int64_t log_every = 10;
  int64_t checkpoint_every = 0;
  double checkpoint_minutes = 10.0;
  int64_t early_stopping_patience = 0;
  std::string metric;  ///< "" = the task's first metric
  bool restore_best = true;
  bool resume = false;
  int64_t checksum_every = 50;
  bool progress = true;  ///< print the progress line (rank 0)
  OptimizerConfig optimizer;
  ScheduleConfig schedule;

  static TrainerConfig decode(config::Reader reader);
};

/// What the trainer works on. Everything referenced must outlive the Trainer.
struct TrainerParts {
  models::Backbone& backbone;
  methods::Method& method;
  const tasks::Task& task;
  const tasks::Objective& objective;
  dist::Communicator& comm;
  const std::vector<data::Example>& train;  ///< the whole training split (every rank visits its part)
  const std::vector<data::Example>& dev;    ///< may be empty: no evaluation during training
  std::string run_dir;                      ///< exists; checkpoint.safetensors goes here
  uint64_t seed = 0;
  std::string identity;  ///< model + method identity stored in checkpoints (resume refuses another)
};

/// Called by rank 0 at every log and eval event: (split, step, wall_time, values).
using MetricSink = std::function<void(const std::string& split, int64_t step, double wall_time,
                                      const std::map<std::string, double>& values)>;

struct TrainResult {
  std::string status = "completed";  ///< completed | stopped (signal; checkpoint written) | early_stopped
  int64_t steps = 0;
  double last_loss = 0.0;
  std::map<std::string, double> last_eval;  ///< metric -> value at the last evaluation
  std::map<std::string, double> best_eval;  ///< at the best evaluation
  int64_t best_step = -1;
  double train_seconds = 0.0;
  double tokens_per_second = 0.0;  ///< real (non-pad) tokens, all ranks, incl. virtual tokens
};

class Trainer {
 public:
  /// `before_checkpoint` runs on rank 0 before each checkpoint is written: the run log flushes there, so a log
  /// always holds every row up to its latest checkpoint (a resume from it then loses no rows).
  Trainer(TrainerConfig config, TrainerParts parts, MetricSink sink = {}, std::function<void()> before_checkpoint = {});

  /// Trains to max_steps / epochs (or a stop signal / early stop). With config.resume and a checkpoint in
  /// the run dir, continues from it. With restore_best, the method ends holding the best dev state.
  TrainResult fit();

  /// Evaluates `examples` (sharded over ranks, merged): the task's metrics plus "loss".
  std::map<std::string, double> evaluate(const std::vector<data::Example>& examples, int64_t limit = 0);

  /// The class scores [N, C] (float32, CPU) of every example of a classification task with the method's
  /// current state (Objective::class_scores; PET's ensemble reads them). Every rank computes all rows.
  at::Tensor class_scores(const std::vector<data::Example>& examples);

  /// The name of the metric that selects the best state.
  const std::string& selection_metric() const { return metric_; }

  /// The metric series this trainer logs, as (split, name), for declaring a run log up front.
  std::vector<std::pair<std::string, std::string>> metric_series() const;

  std::string checkpoint_path() const;

  /// With config.resume and a checkpoint in the run dir: checks that it belongs to this setup (model,
  /// method, ranks, batch size, seed) before anything is written — an Error names what differs.
  void check_resumable() const;

  /// With config.resume and a checkpoint in the run dir: the step it was written at (after
  /// check_resumable's checks); otherwise nothing.
  std::optional<int64_t> resume_step() const;

 private:
  struct Position {
    int64_t step = 0;
    int64_t epoch = 0;
    int64_t offset = 0;  ///< micro-batches of this epoch already consumed
  };
  std::vector<data::Example> micro_batch(Position& position);
  tasks::Batch encode(const std::vector<data::Example>& examples, tasks::Purpose purpose) const;
  at::Tensor forward_loss(const tasks::Batch& batch);
  void save_checkpoint(const Position& position, const Optimizer& optimizer, int64_t bad_evals);
  bool load_checkpoint(Position& position, Optimizer& optimizer, int64_t& bad_evals);
  void check_replicas(int64_t step);
  void emit(const std::string& split, int64_t step, const std::map<std::string, double>& values);

  TrainerConfig config_;
  TrainerParts parts_;
  MetricSink sink_;
  std::function<void()> before_checkpoint_;
  methods::NamedTensors params_;
  int64_t front_soft_ = 0;
  std::string metric_;
  bool greater_is_better_ = true;
  std::map<std::string, at::Tensor> best_state_;
  TrainResult result_;
};

}  // namespace ptlab::train
