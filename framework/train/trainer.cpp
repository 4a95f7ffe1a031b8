#include "framework/train/trainer.h"

#include "framework/core/error.h"
#include "framework/core/clock.h"
#include "framework/core/log.h"
#include "framework/data/sampling.h"
#include "framework/train/checkpoint_file.h"
#include "framework/train/stop_signal.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>
#include <torch/csrc/autograd/autograd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>

namespace ptlab::train {
namespace {

constexpr int kCheckpointSchema = 1;

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  auto s = static_cast<int64_t>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
  if (s >= 60) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

bool lower_is_better(const std::string& metric) { return metric == "loss" || metric == "perplexity"; }

}  // namespace

TrainerConfig TrainerConfig::decode(config::Reader r) {
  TrainerConfig c;
  c.max_steps = r.get<int64_t>("max_steps", c.max_steps);
  c.epochs = r.get<double>("epochs", c.epochs);
  c.batch_size = r.get<int64_t>("batch_size", c.batch_size);
  c.grad_accumulation = r.get<int64_t>("grad_accumulation", c.grad_accumulation);
  c.max_grad_norm = r.get<double>("max_grad_norm", c.max_grad_norm);
  c.eval_every = r.get<int64_t>("eval_every", c.eval_every);
  c.eval_batch_size = r.get<int64_t>("eval_batch_size", c.eval_batch_size);
  c.eval_limit = r.get<int64_t>("eval_limit", c.eval_limit);
  c.log_every = r.get<int64_t>("log_every", c.log_every);
  c.checkpoint_every = r.get<int64_t>("checkpoint_every", c.checkpoint_every);
  c.checkpoint_minutes = r.get<double>("checkpoint_minutes", c.checkpoint_minutes);
  c.early_stopping_patience = r.get<int64_t>("early_stopping_patience", c.early_stopping_patience);
  c.metric = r.get<std::optional<std::string>>("metric", std::nullopt).value_or("");
  c.restore_best = r.get<bool>("restore_best", c.restore_best);
  c.resume = r.get<bool>("resume", c.resume);
  c.checksum_every = r.get<int64_t>("checksum_every", c.checksum_every);
  c.progress = r.get<bool>("progress", c.progress);
  c.optimizer = OptimizerConfig::decode(r.child("optimizer"));
  c.schedule = ScheduleConfig::decode(r.child("schedule"));
  auto positive = [&](int64_t v, const char* key) {
    PTLAB_CHECK(v >= 1, "{}: must be at least 1, got {}", r.key_path(key), v);
  };
  auto non_negative = [&](int64_t v, const char* key) {
    PTLAB_CHECK(v >= 0, "{}: must be 0 or more, got {}", r.key_path(key), v);
  };
  positive(c.batch_size, "batch_size");
  positive(c.grad_accumulation, "grad_accumulation");
  positive(c.eval_batch_size, "eval_batch_size");
  positive(c.log_every, "log_every");
  non_negative(c.max_steps, "max_steps");
  non_negative(c.eval_every, "eval_every");
  non_negative(c.eval_limit, "eval_limit");
  non_negative(c.checkpoint_every, "checkpoint_every");
  non_negative(c.early_stopping_patience, "early_stopping_patience");
  non_negative(c.checksum_every, "checksum_every");
  PTLAB_CHECK(c.epochs >= 0 && std::isfinite(c.epochs), "{}: must be 0 or more, got {}", r.key_path("epochs"), c.epochs);
  PTLAB_CHECK(c.max_steps > 0 || c.epochs > 0, "{} and {} are both 0: say how long to train (e.g. trainer.max_steps=1000)",
              r.key_path("max_steps"), r.key_path("epochs"));
  PTLAB_CHECK(c.checkpoint_minutes >= 0 && std::isfinite(c.checkpoint_minutes),
              "{}: must be 0 (no time-based checkpoints) or more minutes, got {}", r.key_path("checkpoint_minutes"),
              c.checkpoint_minutes);
  PTLAB_CHECK(c.max_grad_norm >= 0, "{}: must be 0 (no clipping) or more, got {}", r.key_path("max_grad_norm"),
              c.max_grad_norm);
  r.finish();
  return c;
}

Trainer::Trainer(TrainerConfig config, TrainerParts parts, MetricSink sink, std::function<void()> before_checkpoint)
    : config_(std::move(config)),
      parts_(std::move(parts)),
      sink_(std::move(sink)),
      before_checkpoint_(std::move(before_checkpoint)) {
  front_soft_ = parts_.method.front_soft_tokens(parts_.task.prompt());
  auto names = parts_.task.metric_names();
  metric_ = config_.metric.empty() ? (names.empty() ? std::string("loss") : names.front()) : config_.metric;
  if (metric_ != "loss") {
    PTLAB_CHECK(std::find(names.begin(), names.end(), metric_) != names.end(),
                "trainer.metric: task {} has no metric '{}'; its metrics are {} (or loss)", parts_.task.name(), metric_,
                fmt::join(names, ", "));
  }
  greater_is_better_ = !lower_is_better(metric_);
}

std::string Trainer::checkpoint_path() const { return parts_.run_dir + "/checkpoint.safetensors"; }

std::vector<std::pair<std::string, std::string>> Trainer::metric_series() const {
  std::vector<std::pair<std::string, std::string>> out = {
      {"train", "loss"}, {"train", "lr"}, {"train", "grad_norm"}, {"train", "tokens_per_s"}, {"eval", "loss"}};
  for (const auto& [name, value] : parts_.task.make_metrics().values()) out.emplace_back("eval", name);
  return out;
}

tasks::Batch Trainer::encode(const std::vector<data::Example>& examples, tasks::Purpose purpose) const {
  std::vector<tasks::RenderedExample> rendered;
  rendered.reserve(examples.size());
  const int64_t placeholder = tasks::Template::placeholder_id(parts_.task.tokenizer());
  for (const auto& example : examples) {
    rendered.push_back(parts_.task.encode(example, purpose));
    if (front_soft_ > 0) tasks::prepend_soft_tokens(rendered.back(), front_soft_, placeholder);
  }
  return parts_.objective.collate(rendered);
}

std::vector<data::Example> Trainer::micro_batch(Position& position) {
  const auto n = static_cast<int64_t>(parts_.train.size());
  const data::Shard shard{parts_.comm.rank(), parts_.comm.size(), data::ShardMode::kStrided};
  // Each epoch: this rank's rows of the (seed, epoch) order; a micro-batch is the next batch_size of them.
  // The last incomplete micro-batch of an epoch is dropped so every rank takes the same number of steps.
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto rows = data::epoch_shard(n, parts_.seed, position.epoch, shard);
    const int64_t per_epoch = static_cast<int64_t>(rows.size()) / config_.batch_size;
    if (position.offset < per_epoch) {
      std::vector<data::Example> out;
      out.reserve(config_.batch_size);
      for (int64_t i = 0; i < config_.batch_size; ++i) out.push_back(parts_.train[rows[position.offset * config_.batch_size + i]]);
      ++position.offset;
      return out;
    }
    ++position.epoch;
    position.offset = 0;
  }
  PTLAB_FAIL("internal: no micro-batch in epoch {}", position.epoch);
}

at::Tensor Trainer::forward_loss(const tasks::Batch& batch) {
  models::BackboneInput input = parts_.method.prompt(batch);
  parts_.objective.request(batch, input);
  parts_.method.request_loss(batch, input);
  models::BackboneOutput output = parts_.backbone.forward(input);
  at::Tensor loss = parts_.method.loss(output, batch);  // a method with its own loss (CPT), else undefined
  if (!loss.defined()) loss = parts_.objective.loss(output, batch);
  const at::Tensor extra = parts_.method.extra_loss(batch, input, output);  // a term on top (MPT's distillation)
  return extra.defined() ? loss + extra : loss;
}

std::map<std::string, double> Trainer::evaluate(const std::vector<data::Example>& examples, int64_t limit) {
  c10::AutoGradMode no_grad(false);
  const bool was_training = parts_.backbone.is_training();
  parts_.backbone.eval();
  parts_.method.eval();
  const int64_t n = limit > 0 ? std::min<int64_t>(limit, examples.size()) : static_cast<int64_t>(examples.size());
  auto rows = data::shard_indices(n, {parts_.comm.rank(), parts_.comm.size(), data::ShardMode::kStrided});
  auto metrics = parts_.task.make_metrics();
  double loss_sum = 0.0;
  double loss_count = 0.0;
  for (std::size_t begin = 0; begin < rows.size(); begin += config_.eval_batch_size) {
    const std::size_t end = std::min(rows.size(), begin + static_cast<std::size_t>(config_.eval_batch_size));
    std::vector<data::Example> chunk;
    for (std::size_t i = begin; i < end; ++i) chunk.push_back(examples[rows[i]]);
    tasks::Batch batch = encode(chunk, parts_.objective.is_classification() ? tasks::Purpose::kEval : tasks::Purpose::kTrain);
    models::BackboneInput input = parts_.method.prompt(batch);
    parts_.objective.request(batch, input);
    auto output = parts_.backbone.forward(input);
    auto [sum, count] = parts_.objective.score(output, batch, metrics);
    loss_sum += sum;
    loss_count += static_cast<double>(count);
  }
  // Merge over ranks: metric states and the loss sums travel in one buffer.
  auto state = metrics.state();
  state.push_back(loss_sum);
  state.push_back(loss_count);
  auto buffer = at::tensor(state, at::kDouble);
  parts_.comm.all_reduce_sum(buffer);
  std::vector<double> merged(buffer.data_ptr<double>(), buffer.data_ptr<double>() + buffer.numel());
  loss_count = merged.back();
  merged.pop_back();
  loss_sum = merged.back();
  merged.pop_back();
  metrics.reset();
  metrics.merge(merged);
  auto values = metrics.values();
  values["loss"] = loss_count > 0 ? loss_sum / loss_count : std::nan("");
  if (was_training) parts_.backbone.train();
  parts_.method.train();
  return values;
}

at::Tensor Trainer::class_scores(const std::vector<data::Example>& examples) {
  PTLAB_CHECK(parts_.objective.is_classification(), "class scores of task type {}: only classification tasks have them",
              parts_.task.type());
  c10::AutoGradMode no_grad(false);
  const bool was_training = parts_.backbone.is_training();
  parts_.backbone.eval();
  parts_.method.eval();
  std::vector<at::Tensor> chunks;
  for (std::size_t begin = 0; begin < examples.size(); begin += config_.eval_batch_size) {
    const std::size_t end = std::min(examples.size(), begin + static_cast<std::size_t>(config_.eval_batch_size));
    std::vector<data::Example> chunk(examples.begin() + static_cast<std::ptrdiff_t>(begin),
                                     examples.begin() + static_cast<std::ptrdiff_t>(end));
    tasks::Batch batch = encode(chunk, tasks::Purpose::kEval);
    models::BackboneInput input = parts_.method.prompt(batch);
    parts_.objective.request(batch, input);
    auto output = parts_.backbone.forward(input);
    chunks.push_back(parts_.objective.class_scores(output, batch).to(at::kCPU).to(at::kFloat));
  }
  if (was_training) parts_.backbone.train();
  parts_.method.train();
  const int64_t classes = parts_.task.num_classes();
  return chunks.empty() ? at::zeros({0, classes}, at::kFloat) : at::cat(chunks, 0);
}

void Trainer::emit(const std::string& split, int64_t step, const std::map<std::string, double>& values) {
  if (parts_.comm.rank() == 0 && sink_) sink_(split, step, unix_seconds(), values);
}

void Trainer::check_replicas(int64_t step) {
  // A cheap fingerprint of the trainable parameters; ranks that applied the same all-reduced update hold
  // bit-identical values, so the fingerprints must be exactly equal.
  double fingerprint = 0.0;
  {
    c10::AutoGradMode no_grad(false);
    for (const auto& [name, p] : params_) {
      auto d = p.detach().to(at::kDouble);
      fingerprint += d.sum().item<double>() + 0.5 * d.abs().sum().item<double>();
    }
  }
  auto all = parts_.comm.all_gather(fingerprint);
  for (std::size_t r = 1; r < all.size(); ++r) {
    PTLAB_CHECK(all[r] == all[0],
                "step {}: trainable parameters differ across ranks (rank 0 checksum {:.17g}, rank {} {:.17g}); the "
                "replicas diverged — check that every rank runs the same build and config",
                step, all[0], r, all[r]);
  }
}

void Trainer::save_checkpoint(const Position& position, const Optimizer& optimizer, int64_t bad_evals) {
  if (parts_.comm.rank() != 0) return;  // replicas are identical (checked); rank 0 writes
  {
    // Never replace a good checkpoint with a diverged state.
    c10::AutoGradMode no_grad(false);
    for (const auto& [name, p] : params_) {
      PTLAB_CHECK(at::isfinite(p.detach()).all().item<bool>(),
                  "step {}: parameter {} holds inf or NaN after the update — stopping; the last good state is in {} "
                  "(the training loss diverged: lower trainer.optimizer.lr)",
                  position.step, name,
                  std::filesystem::exists(checkpoint_path()) ? checkpoint_path() : std::string("no checkpoint yet"));
    }
  }
  if (before_checkpoint_) before_checkpoint_();
  CheckpointFile file;
  for (const auto& [name, p] : params_) file.tensors["param/" + name] = p.detach().to(at::kCPU).contiguous();
  for (const auto& [name, t] : optimizer.state_dict()) file.tensors["optim/" + name] = t.to(at::kCPU).contiguous();
  for (const auto& [name, t] : best_state_) file.tensors["best/" + name] = t.to(at::kCPU).contiguous();
  file.tensors["rng/cpu"] = cpu_rng_state();
  file.meta = {{"schema", "ptlab-checkpoint"},
               {"schema_version", kCheckpointSchema},
               {"identity", parts_.identity},
               {"method", parts_.method.name()},
               {"step", position.step},
               {"epoch", position.epoch},
               {"offset", position.offset},
               {"bad_evals", bad_evals},
               {"best_step", result_.best_step},
               {"world_size", parts_.comm.size()},
               {"batch_size", config_.batch_size},
               {"seed", parts_.seed}};
  nlohmann::json best = nlohmann::json::object();
  for (const auto& [k, v] : result_.best_eval) best[k] = v;
  file.meta["best_eval"] = best;
  ptlab::train::save_checkpoint(checkpoint_path(), file);
}

void Trainer::check_resumable() const {
  const std::string path = checkpoint_path();
  if (!config_.resume || !std::filesystem::exists(path)) return;
  CheckpointFile file = ptlab::train::load_checkpoint(path);
  auto get = [&](const char* key) {
    PTLAB_CHECK(file.meta.contains(key), "{}: not a ptlab training checkpoint (no '{}' in its metadata)", path, key);
    return file.meta.at(key);
  };
  const std::string identity = get("identity").get<std::string>();
  PTLAB_CHECK(identity == parts_.identity,
              "{}: the checkpoint is from a different run setup ({}) than this one ({}); resume with the same model "
              "and method, or use another run dir",
              path, identity, parts_.identity);
  PTLAB_CHECK(get("world_size").get<int>() == parts_.comm.size() && get("batch_size").get<int64_t>() == config_.batch_size &&
                  get("seed").get<uint64_t>() == parts_.seed,
              "{}: written with {} ranks, batch_size {}, seed {}; this run has {} ranks, batch_size {}, seed {} — the "
              "data order would differ",
              path, get("world_size").get<int>(), get("batch_size").get<int64_t>(), get("seed").get<uint64_t>(),
              parts_.comm.size(), config_.batch_size, parts_.seed);
  for (const char* key : {"step", "epoch", "offset", "bad_evals", "best_step", "best_eval"}) get(key);
}

std::optional<int64_t> Trainer::resume_step() const {
  if (!config_.resume || !std::filesystem::exists(checkpoint_path())) return std::nullopt;
  check_resumable();
  CheckpointFile file = ptlab::train::load_checkpoint(checkpoint_path());
  return file.meta.at("step").get<int64_t>();
}

bool Trainer::load_checkpoint(Position& position, Optimizer& optimizer, int64_t& bad_evals) {
  const std::string path = checkpoint_path();
  if (!std::filesystem::exists(path)) {
    log_warn("trainer.resume=true but {} does not exist; starting from step 0", path);
    return false;
  }
  check_resumable();
  CheckpointFile file = ptlab::train::load_checkpoint(path);
  auto get = [&](const char* key) { return file.meta.at(key); };
  {
    c10::AutoGradMode no_grad(false);
    for (auto& [name, p] : params_) {
      auto it = file.tensors.find("param/" + name);
      PTLAB_CHECK(it != file.tensors.end(), "{}: parameter {} is missing; the checkpoint is from another method or model",
                  path, name);
      PTLAB_CHECK(it->second.sizes() == p.sizes(), "{}: parameter {} has shape {} in the checkpoint but {} here", path,
                  name, fmt::join(it->second.sizes(), "x"), fmt::join(p.sizes(), "x"));
      p.copy_(it->second);
    }
  }
  std::map<std::string, at::Tensor> optim_state;
  best_state_.clear();
  for (const auto& [key, t] : file.tensors) {
    if (key.rfind("optim/", 0) == 0) optim_state[key.substr(6)] = t;
    if (key.rfind("best/", 0) == 0) best_state_[key.substr(5)] = t.clone();
  }
  optimizer.load_state_dict(optim_state, path);
  if (file.tensors.count("rng/cpu")) set_cpu_rng_state(file.tensors.at("rng/cpu"));
  position.step = get("step").get<int64_t>();
  position.epoch = get("epoch").get<int64_t>();
  position.offset = get("offset").get<int64_t>();
  bad_evals = get("bad_evals").get<int64_t>();
  result_.best_step = get("best_step").get<int64_t>();
  result_.best_eval.clear();
  const nlohmann::json best_eval = get("best_eval");  // a named copy: items() of a temporary would dangle
  for (const auto& [k, v] : best_eval.items()) result_.best_eval[k] = v.is_number() ? v.get<double>() : std::nan("");
  log_info("resumed from {} at step {}", path, position.step);
  return true;
}

TrainResult Trainer::fit() {
  result_ = TrainResult{};
  auto& comm = parts_.comm;
  if (parts_.method.trains_backbone()) {
    parts_.backbone.set_trainable(true);
    parts_.backbone.train();
  } else {
    parts_.backbone.set_trainable(false);
    parts_.backbone.eval();  // frozen: no dropout in the backbone's forward either way
  }
  parts_.method.train();
  params_ = parts_.method.trainable_parameters();
  PTLAB_CHECK(!params_.empty() && parts_.method.trains(),
              "method {} has nothing to train; evaluate it with `ptlab eval` (or the demo's zero-shot row)",
              parts_.method.name());
  // Start identical: rank 0's initial values everywhere.
  {
    c10::AutoGradMode no_grad(false);
    for (auto& [name, p] : params_) {
      auto t = p.detach().to(at::kCPU).contiguous();
      comm.broadcast(t, 0);
      p.copy_(t);
    }
  }
  std::vector<at::Tensor> tensors;
  int64_t numel = 0;
  for (auto& [name, p] : params_) {
    tensors.push_back(p);
    numel += p.numel();
  }

  const int64_t n_train = static_cast<int64_t>(parts_.train.size());
  const int64_t global_batch = config_.batch_size * comm.size() * config_.grad_accumulation;
  const int64_t rows_per_rank = n_train / comm.size();
  const int64_t micro_per_epoch = rows_per_rank / config_.batch_size;
  PTLAB_CHECK(micro_per_epoch >= config_.grad_accumulation,
              "the training split has {} examples, fewer than one global batch of {} (trainer.batch_size {} x {} ranks "
              "x grad_accumulation {}); lower trainer.batch_size",
              n_train, global_batch, config_.batch_size, comm.size(), config_.grad_accumulation);
  const int64_t steps_per_epoch = micro_per_epoch / config_.grad_accumulation;
  const int64_t total_steps =
      config_.max_steps > 0 ? config_.max_steps
                            : std::max<int64_t>(1, static_cast<int64_t>(std::ceil(config_.epochs * steps_per_epoch)));

  auto optimizer = make_optimizer(config_.optimizer, params_);
  Position position;
  int64_t bad_evals = 0;
  if (config_.resume) load_checkpoint(position, *optimizer, bad_evals);
  // Micro-batches of an epoch beyond steps_per_epoch * accumulation are skipped the same way on resume.
  install_stop_handlers();

  const double start = unix_seconds();
  double last_checkpoint = start;
  double window_start = start;
  int64_t window_tokens = 0;
  int64_t total_tokens = 0;
  const int64_t start_step = position.step;
  double loss_window = 0.0;
  int64_t loss_window_steps = 0;
  std::map<std::string, double> last_eval_values;

  auto evaluate_and_select = [&](int64_t step) -> bool {  // returns true when early stopping triggers
    if (parts_.dev.empty()) return false;
    auto values = evaluate(parts_.dev, config_.eval_limit);
    result_.last_eval = values;
    emit("eval", step, values);
    auto it = values.find(metric_);
    const double value = it == values.end() ? std::nan("") : it->second;
    const auto best_it = result_.best_eval.find(metric_);
    const bool better = std::isfinite(value) &&
                        (best_it == result_.best_eval.end() ||
                         (greater_is_better_ ? value > best_it->second : value < best_it->second));
    if (better) {
      result_.best_eval = values;
      result_.best_step = step;
      bad_evals = 0;
      c10::AutoGradMode no_grad(false);
      best_state_.clear();
      for (const auto& [name, p] : params_) best_state_[name] = p.detach().clone();
    } else {
      ++bad_evals;
    }
    if (comm.rank() == 0) {
      log_info("eval step {}: {} {:.4f}{} (best {:.4f} at step {})", step, metric_, value, better ? " *" : "",
               result_.best_eval.count(metric_) ? result_.best_eval.at(metric_) : value, result_.best_step);
    }
    return config_.early_stopping_patience > 0 && bad_evals >= config_.early_stopping_patience;
  };

  while (position.step < total_steps) {
    const double lr = config_.optimizer.lr * lr_multiplier(config_.schedule, position.step, total_steps);
    optimizer->set_lr(lr);
    double local_loss = 0.0;
    int64_t tokens = 0;
    for (int64_t micro = 0; micro < config_.grad_accumulation; ++micro) {
      if (position.offset >= steps_per_epoch * config_.grad_accumulation) {
        ++position.epoch;
        position.offset = 0;
      }
      auto examples = micro_batch(position);
      auto batch = encode(examples, tasks::Purpose::kTrain);
      auto loss = forward_loss(batch) / static_cast<double>(config_.grad_accumulation);
      local_loss += loss.item<double>();
      loss.backward();
      tokens += batch.num_tokens;
    }
    // One flattened all-reduce: [grads..., loss, stop flag, tokens].
    // On the parameters' device: over NCCL when they live on a GPU.
    auto flat = at::zeros({numel + 3}, at::TensorOptions(at::kFloat).device(tensors.front().device()));
    {
      int64_t offset = 0;
      for (auto& p : tensors) {
        auto g = p.grad();
        if (g.defined()) flat.narrow(0, offset, p.numel()).copy_(g.reshape({-1}));
        offset += p.numel();
      }
      flat[numel] = static_cast<float>(local_loss);
      flat[numel + 1] = stop_requested() ? 1.0f : 0.0f;
      flat[numel + 2] = static_cast<float>(tokens);
    }
    if (comm.size() > 1) {
      comm.all_reduce_sum(flat);
      flat.narrow(0, 0, numel + 1).div_(static_cast<double>(comm.size()));
      int64_t offset = 0;
      for (auto& p : tensors) {
        if (p.grad().defined()) p.mutable_grad().copy_(flat.narrow(0, offset, p.numel()).view_as(p));
        offset += p.numel();
      }
    }
    const double loss_value = flat[numel].item<double>();
    const bool stop = flat[numel + 1].item<double>() > 0;
    tokens = static_cast<int64_t>(flat[numel + 2].item<double>());
    if (!std::isfinite(loss_value)) {
      optimizer->zero_grad();
      PTLAB_FAIL("step {}: the training loss is {} — stopping; the last good state is in {} (lower "
                 "trainer.optimizer.lr, or set trainer.max_grad_norm)",
                 position.step, loss_value,
                 std::filesystem::exists(checkpoint_path()) ? checkpoint_path() : std::string("no checkpoint yet"));
    }
    const double grad_norm = clip_grad_norm(tensors, config_.max_grad_norm);
    if (!std::isfinite(grad_norm)) {
      optimizer->zero_grad();
      PTLAB_FAIL("step {}: the gradient norm is {} — stopping before the update; the last good state is in {} "
                 "(lower trainer.optimizer.lr, or set trainer.max_grad_norm)",
                 position.step, grad_norm,
                 std::filesystem::exists(checkpoint_path()) ? checkpoint_path() : std::string("no checkpoint yet"));
    }
    optimizer->step();
    optimizer->zero_grad();
    ++position.step;
    result_.last_loss = loss_value;
    loss_window += loss_value;
    ++loss_window_steps;
    window_tokens += tokens;
    total_tokens += tokens;

    if (position.step % config_.log_every == 0 || position.step == total_steps) {
      const double t = unix_seconds();
      const double rate = window_tokens / std::max(1e-9, t - window_start);
      const double mean_loss = loss_window / std::max<int64_t>(1, loss_window_steps);
      emit("train", position.step, {{"loss", mean_loss}, {"lr", lr}, {"grad_norm", grad_norm}, {"tokens_per_s", rate}});
      if (config_.progress && comm.rank() == 0) {
        const double per_step = (t - start) / std::max<int64_t>(1, position.step - start_step);
        log_info("step {}/{} loss {:.4f} lr {:.2e} |g| {:.3f} {:.0f} tok/s eta {}", position.step, total_steps, mean_loss,
                 lr, grad_norm, rate, format_duration(per_step * (total_steps - position.step)));
      }
      window_start = t;
      window_tokens = 0;
      loss_window = 0.0;
      loss_window_steps = 0;
    }
    if (config_.checksum_every > 0 && comm.size() > 1 && position.step % config_.checksum_every == 0) {
      check_replicas(position.step);
    }
    bool early = false;
    if (config_.eval_every > 0 && position.step % config_.eval_every == 0 && position.step < total_steps) {
      early = evaluate_and_select(position.step);
    }
    if (stop) {
      save_checkpoint(position, *optimizer, bad_evals);
      if (comm.rank() == 0) {
        log_warn("signal {} received: checkpoint written to {} at step {}; resume with trainer.resume=true",
                 stop_signal(), checkpoint_path(), position.step);
      }
      result_.status = "stopped";
      break;
    }
    // Rank 0 alone writes checkpoints (no collective inside), so the wall-clock rule needs no agreement.
    const bool due_by_time =
        config_.checkpoint_minutes > 0 && unix_seconds() - last_checkpoint >= 60.0 * config_.checkpoint_minutes;
    if ((config_.checkpoint_every > 0 && position.step % config_.checkpoint_every == 0) || due_by_time) {
      save_checkpoint(position, *optimizer, bad_evals);
      last_checkpoint = unix_seconds();
    }
    if (early) {
      result_.status = "early_stopped";
      if (comm.rank() == 0) log_info("early stopping at step {}: no improvement in {} evaluations", position.step, bad_evals);
      break;
    }
  }
  result_.steps = position.step;
  result_.train_seconds = unix_seconds() - start;
  result_.tokens_per_second = total_tokens / std::max(1e-9, result_.train_seconds);
  if (result_.status != "stopped") {
    if (result_.status == "completed") evaluate_and_select(position.step);  // early stops evaluated just now
    save_checkpoint(position, *optimizer, bad_evals);
    if (config_.restore_best && !best_state_.empty()) {
      c10::AutoGradMode no_grad(false);
      for (auto& [name, p] : params_) p.copy_(best_state_.at(name));
    }
  }
  return result_;
}

}  // namespace ptlab::train
