// `ptlab bench train`: tokens/s of prompt-tuning train steps — forward with n virtual tokens in front
// (PEFT's layout), backward to the prompt only (frozen backbone), gradient clipping and an AdamW update
// through the trainer's optimizer — for a model, batch, length and prompt length. `--method prefix`
// measures prefix-tuning steps instead: n trained key/value positions in front of every attention layer
// (PEFT's flat [n, 2 L d_kv] prefix split per layer; T5: the decoder's, as PEFT), the input unchanged, so
// the sequence does not grow. `--method ptuning` measures P-tuning steps: the n virtual tokens in front
// are the output of PEFT's prompt encoder (`--encoder mlp|lstm`, hidden size `--hidden`, default d), which
// runs per batch row as PEFT's does and trains with the prompt rows. `--method mpt` measures Multitask
// Prompt Tuning steps: the prompt times a rank-1 task factor picked per example (PEFT's
// MULTITASK_PROMPT_TUNING, one task; decoder-only and BERT). It reports the
// share of the machine's compute limit: frozen-backbone training costs about 2 FLOPs per weight per token
// forward plus 2 for the activation-only backward, so limit = matmul rate / (4 x non-embedding weights)
// tokens/s (attention's T^2 terms on top are ignored, so the share is an upper bound).
//
// The objective follows the model's kind, as PEFT's task types do (bench/peft_step.py is the peer):
//  - decoder-only: lm scores every position over the whole vocabulary (PEFT's CAUSAL_LM loss); classify
//    reads two label-word rows at the last position only, as a verbalizer does, never forming [B, T, V].
//  - encoder-only (BERT): classify reads the two label-word rows of the MLM head at a [MASK] in the last
//    position (the `mlm` verbalizer); lm is an Error (there is no next-token loss to take).
//  - encoder-decoder (T5): the prompt goes in front of the encoder input; lm is the decoder's loss over the
//    whole vocabulary on a random target of --target tokens (PEFT's SEQ_2_SEQ_LM); classify reads two
//    label-word rows at the first decoder position given the start token (the `generate` verbalizer).
#include "framework/core/error.h"
#include "framework/core/threads.h"
#include "framework/models/loader.h"
#include "framework/train/optimizer.h"
#include "launchers/command.h"
#include "launchers/option_parser.h"
#include "methods/prefix_tuning/prefix_tuning.h"
#include "tasks/objective.h"

#include <ATen/ATen.h>
#include <sys/resource.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/rnn.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <vector>

namespace ptlab::launchers {

// bench_command.cpp: the fp32 1024^3 matmul rate, and a config.json read for --config.
double matmul_gflops(at::Device device);
models::HFConfig read_config(const std::string& path);

namespace {

constexpr const char* kHelp =
    "usage: ptlab bench train DIR [--random] [--batch B] [--seq T] [--prompt N] [--objective lm|classify]\n"
    "                             [--method prompt|prefix|ptuning|mpt] [--encoder mlp|lstm] [--hidden H]\n"
    "                             [--target L] [--dtype fp32|bf16] [--steps S] [--warmup W] [--threads N] [--json]\n"
    "       ptlab bench train --config config.json [same options]\n"
    "\n"
    "Measures prompt-tuning train steps (forward + backward + AdamW update of an N x d prompt, backbone\n"
    "frozen) on random token ids: median step time of S steps after W warm-up steps, tokens/s (real tokens,\n"
    "and counting the virtual ones), peak RSS, the fp32 matmul GFLOP/s of this machine in the same run and\n"
    "the share of the compute limit (matmul rate / (4 x non-embedding weights) tokens/s).\n"
    "\n"
    "--batch B (8)  --seq T (128)  --prompt N (20)  --steps S (5)  --warmup W (1)\n"
    "--objective    lm: next-token loss over the full vocabulary at every position (PEFT's CAUSAL_LM);\n"
    "               classify: two label-word logits at the last position (a verbalizer) — default lm.\n"
    "               BERT: classify only, at a [MASK] in the last position. T5: the prompt precedes the\n"
    "               encoder input; lm is the decoder's loss over the full vocabulary on an L-token target\n"
    "               (PEFT's SEQ_2_SEQ_LM), classify reads the first decoder position\n"
    "--target L     decoder target tokens, encoder-decoder models only (8); tokens/s counts encoder tokens\n"
    "--random       random weights in DIR/config.json's shapes; --config FILE: a config.json anywhere\n"
    "--method M     prompt (default): N virtual tokens in the input; prefix: N key/value positions in every\n"
    "               attention layer (prefix tuning), the input unchanged; ptuning: N virtual tokens from\n"
    "               PEFT's P-tuning prompt encoder (--encoder mlp (default) or lstm, hidden size --hidden H,\n"
    "               default d), which trains along; mpt: N virtual tokens P * (U[t] V[t]) with rank-1 task\n"
    "               factors picked per example (multitask prompt tuning; not T5)\n"
    "--dtype D      the frozen backbone's dtype: fp32 (default), bf16 or fp16; the prompt stays fp32 and is cast\n"
    "               where it joins the embeddings (the limit stays the fp32 matmul rate's)\n"
    "--threads N    intra-op threads (default: all cores, divided among the ranks mpirun/srun put on this node);\n"
    "               --json: one JSON object\n";

using Clock = std::chrono::steady_clock;

int run_bench_train(const std::vector<std::string>& args) {
  if (wants_help(args)) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  OptionParser opts("ptlab bench train", {"--random", "--json"},
                    {"--config", "--batch", "--seq", "--prompt", "--objective", "--target", "--steps", "--warmup",
                     "--threads", "--dtype", "--method", "--encoder", "--hidden"});
  opts.parse(args);
  const int64_t batch = opts.get_int("--batch", 8), len = opts.get_int("--seq", 128), n = opts.get_int("--prompt", 20);
  const int64_t steps = opts.get_int("--steps", 5), warmup = opts.get_int("--warmup", 1);
  const int64_t target_len = opts.get_int("--target", 8);
  const std::string objective = opts.get("--objective", "lm");
  PTLAB_CHECK(batch > 0 && len > 1 && n > 0 && steps > 0 && warmup >= 0 && target_len > 0,
              "ptlab bench train: --batch, --prompt, --target and --steps must be > 0, --seq > 1, --warmup >= 0");
  PTLAB_CHECK(objective == "lm" || objective == "classify",
              "ptlab bench train: --objective is lm or classify, got '{}'", objective);
  const std::string method = opts.get("--method", "prompt");
  PTLAB_CHECK(method == "prompt" || method == "prefix" || method == "ptuning" || method == "mpt",
              "ptlab bench train: --method is prompt, prefix, ptuning or mpt, got '{}'", method);
  const bool prefix = method == "prefix", ptuning = method == "ptuning", mpt = method == "mpt";
  const std::string encoder = opts.get("--encoder", "mlp");
  PTLAB_CHECK(encoder == "mlp" || encoder == "lstm", "ptlab bench train: --encoder is mlp or lstm, got '{}'", encoder);
  PTLAB_CHECK(ptuning || (!opts.has("--encoder") && !opts.has("--hidden")),
              "ptlab bench train: --encoder and --hidden size P-tuning's prompt encoder; add --method ptuning");
  // Default: the cores divided among the processes a launcher put on this node (mpirun -np 2: half each).
  const int threads =
      configure_threads(static_cast<int>(opts.get_int("--threads", 0)), std::max(1, launcher_ranks_on_node()));
  models::LoadOptions load;
  const std::string dtype = opts.get("--dtype", "fp32");
  load.dtype = models::parse_dtype(dtype);

  std::shared_ptr<models::Backbone> model;
  std::string source;
  if (opts.has("--config")) {
    model = models::random_backbone(read_config(*opts.get("--config")), load);
    source = *opts.get("--config") + " (random weights)";
  } else {
    opts.expect_positional(1, "one model directory (or --config FILE)");
    const std::string dir = opts.positional()[0];
    model = opts.flag("--random") ? models::random_backbone(models::HFConfig::load(dir), load)
                                  : models::load_backbone(dir, load);
    source = dir + (opts.flag("--random") ? " (random weights)" : "");
  }
  const auto& info = model->info();
  const bool seq2seq = info.is_encoder_decoder, encoder_only = !info.is_encoder_decoder && !info.is_causal;
  PTLAB_CHECK(!(mpt && info.is_encoder_decoder),
              "ptlab bench train: --method mpt covers decoder-only and BERT models; {} is encoder-decoder",
              info.model_type);
  PTLAB_CHECK(!(encoder_only && objective == "lm"),
              "ptlab bench train: {} is an encoder-only model without a next-token loss: use --objective classify "
              "(two label-word logits at a [MASK] position)",
              info.model_type);
  PTLAB_CHECK(seq2seq || !opts.has("--target"),
              "ptlab bench train: --target is the decoder target length of encoder-decoder models; {} has no decoder "
              "input",
              info.model_type);
  PTLAB_CHECK(info.max_positions == 0 || n + len <= info.max_positions,
              "ptlab bench train: --prompt {} + --seq {} exceeds the model's {} positions", n, len, info.max_positions);
  model->set_trainable(false);
  model->eval();
  const double gflops = matmul_gflops(at::kCPU);

  at::manual_seed(0);
  at::Tensor ids = at::randint(0, info.vocab_size, {batch, len}, at::kLong);  // [B, T]
  // BERT reads its verbalizer at a [MASK] ("... It was [MASK]"); random configs have no tokenizer to name it.
  if (encoder_only && info.mask_token_id >= 0) ids.select(1, len - 1).fill_(info.mask_token_id);
  // prompt: [n, d]; prefix: PEFT's flat [n, 2 L d_kv] (L: the decoder's layers for T5).
  const int64_t layers = seq2seq ? info.num_decoder_layers : info.num_layers;
  const int64_t kv_heads = info.num_kv_heads > 0 ? info.num_kv_heads : info.num_heads;
  const int64_t width = prefix ? 2 * layers * kv_heads * info.head_dim : info.hidden_size;
  at::Tensor prompt = (at::randn({n, width}) * 0.5).requires_grad_(true);
  // ptuning: PEFT's PromptEncoder heads over the prompt rows (methods/p_tuning), in PyTorch's default init.
  const int64_t d = info.hidden_size, hidden = opts.get_int("--hidden", d);
  PTLAB_CHECK(hidden > 0, "ptlab bench train: --hidden must be > 0, got {}", hidden);
  torch::nn::LSTM lstm{nullptr};
  torch::nn::Sequential head{nullptr};
  std::vector<std::pair<std::string, at::Tensor>> trained = {{"prompt", prompt}};
  if (ptuning && encoder == "lstm") {
    lstm = torch::nn::LSTM(torch::nn::LSTMOptions(d, hidden).num_layers(2).bidirectional(true).batch_first(true));
    head = torch::nn::Sequential(torch::nn::Linear(2 * hidden, 2 * hidden), torch::nn::ReLU(),
                                 torch::nn::Linear(2 * hidden, d));
    for (const auto& p : lstm->named_parameters()) trained.emplace_back("lstm_head." + p.key(), p.value());
  } else if (ptuning) {
    head = torch::nn::Sequential(torch::nn::Linear(d, hidden), torch::nn::ReLU(), torch::nn::Linear(hidden, hidden),
                                 torch::nn::ReLU(), torch::nn::Linear(hidden, d));
  }
  if (head) {
    for (const auto& p : head->named_parameters()) trained.emplace_back("mlp_head." + p.key(), p.value());
  }
  // mpt: rank-1 factors of one task, U [1, n, 1] and V [1, 1, d], N(0, 0.02^2) as PEFT's init (drawn for
  // mpt only: the other methods' later draws stay as they were).
  at::Tensor task_cols, task_rows;
  const at::Tensor task_ids = at::zeros({batch}, at::kLong);  // [B]
  if (mpt) {
    task_cols = (at::randn({1, n, 1}) * 0.02).requires_grad_(true);
    task_rows = (at::randn({1, 1, d}) * 0.02).requires_grad_(true);
    trained.emplace_back("task_cols", task_cols);
    trained.emplace_back("task_rows", task_rows);
  }
  std::vector<at::Tensor> trained_tensors;
  for (const auto& named : trained) trained_tensors.push_back(named.second);
  train::OptimizerConfig optim;
  optim.lr = 1e-3;
  auto optimizer = train::make_optimizer(optim, trained);
  at::Tensor labels = prefix ? ids                                                                       // [B, T]
                             : at::cat({at::full({batch, n}, tasks::kIgnoreIndex, at::kLong), ids}, 1);  // [B, n+T]
  at::Tensor rows = at::tensor(std::vector<int64_t>{0, 1}, at::kLong);  // 2 label words
  // Where classify reads [B, 1]: the last position (BERT: its [MASK]); T5: the first decoder position.
  at::Tensor read_at = at::full({batch, 1}, seq2seq ? 0 : (prefix ? 0 : n) + len - 1, at::kLong);
  at::Tensor targets = at::zeros({batch}, at::kLong);
  // T5: a random decoder target [B, L] and its input, the target shifted right behind the start token.
  // classify scores the first decoder position given the start token alone: [B, 1].
  at::Tensor start = at::full({batch, 1}, info.decoder_start_token_id, at::kLong);
  at::Tensor target = at::randint(0, info.vocab_size, {batch, target_len}, at::kLong);                   // [B, L]
  at::Tensor decoder_ids = objective == "lm" ? at::cat({start, target.narrow(1, 0, target_len - 1)}, 1)  // [B, L]
                                             : start;                                                    // [B, 1]

  auto step = [&] {
    models::BackboneInput in;
    // [B, n+T, d] (T5: the encoder's input)
    if (prefix) {
      // PEFT's split of the flat prefix (T5: the decoder's, in PEFT's seq2seq layout), as prefix_tuning does.
      (seq2seq ? in.decoder_prefix : in.prefix) =
          methods::split_flat_prefix(prompt.to(model->dtype()), kv_heads, info.head_dim, 0, layers, seq2seq);
      in.input_ids = ids;  // [B, T]
    } else {
      const at::Tensor embeds = model->embed(ids);  // [B, T, d], the backbone's dtype
      at::Tensor rows = prompt.unsqueeze(0).expand({batch, n, info.hidden_size});  // [B, n, d]
      if (mpt) {  // MPT's per-example P * (U[t] V[t]), as methods/mpt does it
        rows = prompt.unsqueeze(0) * at::bmm(task_cols.index_select(0, task_ids), task_rows.index_select(0, task_ids));
      }
      if (ptuning) {
        // PEFT runs its encoder per batch row: [B, n, 2h] out of the LSTM, [B, n, d] out of the head.
        if (lstm) rows = std::get<0>(lstm->forward(rows.contiguous()));
        rows = head->forward(rows);
      }
      in.inputs_embeds = at::cat({rows.to(embeds.scalar_type()), embeds}, 1);
    }
    if (seq2seq) in.decoder_input_ids = decoder_ids;
    at::Tensor loss;
    if (objective == "lm" && seq2seq) {
      loss = tasks::token_loss(model->forward(in).logits, target);  // logits [B, L, V]
    } else if (objective == "lm") {
      loss = tasks::causal_lm_loss(model->forward(in).logits, labels);  // logits [B, n+T, V]
    } else {
      in.logits.mode = models::LogitsRequest::Mode::kPositions;
      in.logits.positions = read_at;
      in.logits.vocab_rows = rows;
      auto logits = model->forward(in).logits.view({batch, 2});  // [B, 2]
      loss = at::cross_entropy_loss(logits.to(at::kFloat), targets);
    }
    loss.backward();
    train::clip_grad_norm(trained_tensors, 1.0);
    optimizer->step();
    optimizer->zero_grad();
  };
  for (int64_t i = 0; i < warmup; ++i) step();
  std::vector<double> times;
  for (int64_t i = 0; i < steps; ++i) {
    auto start = Clock::now();
    step();
    times.push_back(std::chrono::duration<double>(Clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  const double median = times[times.size() / 2];
  const double real_tps = batch * len / median;
  const double all_tps = batch * (len + (prefix ? 0 : n)) / median;
  const double weights = static_cast<double>(info.num_parameters - info.num_embedding_parameters);
  const double limit = gflops * 1e9 / (4.0 * weights);  // real+virtual tokens/s at the compute limit
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  const double rss_mib = usage.ru_maxrss / 1024.0;

  if (opts.flag("--json")) {
    nlohmann::ordered_json j = {{"model", source},
                                {"family", info.family},
                                {"parameters", info.num_parameters},
                                {"threads", threads},
                                {"batch", batch},
                                {"seq", len},
                                {"prompt", n},
                                {"method", method},
                                {"encoder", ptuning ? nlohmann::ordered_json(encoder) : nlohmann::ordered_json()},
                                {"objective", objective},
                                {"dtype", dtype},
                                {"step_ms", median * 1e3},
                                {"tokens_per_s", real_tps},
                                {"tokens_per_s_with_virtual", all_tps},
                                {"matmul_gflops", gflops},
                                {"limit_tokens_per_s_with_virtual", limit},
                                {"share_of_limit", all_tps / limit},
                                {"peak_rss_mib", rss_mib}};
    if (seq2seq) j["target"] = decoder_ids.size(1);
    std::printf("%s\n", j.dump().c_str());
    return 0;
  }
  std::printf("model      %s (%s, %lld parameters, %.0f non-embedding)\n", source.c_str(), info.family.c_str(),
              static_cast<long long>(info.num_parameters), weights);
  std::printf("step       %s: batch %lld x seq %lld + %lld %s, objective %s, %d threads; median of %lld\n",
              prefix    ? "prefix tuning"
              : ptuning ? (encoder == "lstm" ? "p-tuning (lstm encoder)" : "p-tuning (mlp encoder)")
              : mpt     ? "multitask prompt tuning"
                        : "prompt tuning",
              static_cast<long long>(batch), static_cast<long long>(len), static_cast<long long>(n),
              prefix ? "key/value positions in every layer" : "virtual tokens", objective.c_str(), threads,
              static_cast<long long>(steps));
  if (seq2seq) {
    std::printf("decoder    %lld tokens (%s); tokens/s below count the encoder's\n",
                static_cast<long long>(decoder_ids.size(1)),
                objective == "lm" ? "a random target, loss over the full vocabulary" : "the start token");
  }
  std::printf("time       %.1f ms/step\n", median * 1e3);
  std::printf("tokens/s   %.0f real, %.0f with virtual tokens\n", real_tps, all_tps);
  std::printf("limit      %.0f tokens/s with virtual (matmul %.1f GFLOP/s / 4 FLOPs per weight): %.0f%% of it\n", limit,
              gflops, 100.0 * all_tps / limit);
  std::printf("peak RSS   %.0f MiB\n", rss_mib);
  return 0;
}

}  // namespace

// `ptlab bench train` is reached through `ptlab bench` (bench_command.cpp).
int run_bench_train_command(const std::vector<std::string>& args) { return run_bench_train(args); }

}  // namespace ptlab::launchers
