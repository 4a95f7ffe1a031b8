// `ptlab bench model DIR`: forward and forward+backward tokens/s of a backbone (median of N timed steps
// after warm-up), peak RSS, and the machine's fp32 matrix-multiply GFLOP/s measured in the same run, so
// numbers from different machines can be put side by side. The backward pass is the soft-prompt case:
// gradients with respect to inputs_embeds only, backbone frozen. --random (or --config FILE) builds the
// model in its real shapes with random weights, so a GPT-2-124M-shaped config needs no checkpoint.
#include "framework/core/error.h"
#include "framework/core/suggest.h"
#include "framework/core/threads.h"
#include "framework/models/lm_head.h"
#include "framework/models/loader.h"
#include "launchers/command.h"
#include "launchers/option_parser.h"

#include <ATen/Parallel.h>
#include <ATen/core/grad_mode.h>
#include <nlohmann/json.hpp>
#include <malloc.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

namespace ptlab::launchers {
namespace {

constexpr const char* kHelp =
    "usage: ptlab bench train ...  (prompt-tuning train steps; see ptlab bench train --help)\n"
    "       ptlab bench cpt DIR --k K ...  (CPT train steps against k demonstrations; see ptlab bench cpt --help)\n"
    "       ptlab bench model DIR [--random] [--batch B] [--seq T] [--steps N] [--warmup W]\n"
    "                             [--dtype fp32|bf16] [--device cpu|cuda[:N]] [--threads N] [--json]\n"
    "       ptlab bench model --config config.json [same options]\n"
    "\n"
    "Measures forward and forward+backward tokens/s of the model in DIR on random token ids (median of N\n"
    "timed steps after W warm-up steps), the peak resident memory, and the machine's fp32 matrix-multiply\n"
    "GFLOP/s (a 1024 x 1024 x 1024 product) in the same run. forward+backward computes gradients with\n"
    "respect to inputs_embeds only (backbone frozen: the soft-prompt case).\n"
    "\n"
    "--random         random weights in the real shapes of DIR/config.json (no model.safetensors needed)\n"
    "--config FILE    a config.json anywhere (implies --random)\n"
    "--batch B        sequences per step (default 4)\n"
    "--seq T          tokens per sequence (default 128)\n"
    "--steps N        timed steps (default 10); --warmup W untimed steps first (default 2)\n"
    "--dtype          parameter dtype (default fp32)\n"
    "--device         cpu (default), cuda or cuda:N (the matmul rate is then measured there too)\n"
    "--threads N      intra-op threads (default: all cores)\n"
    "--json           print one JSON object instead of the table\n";

using Clock = std::chrono::steady_clock;

double median_seconds(int64_t warmup, int64_t steps, const std::function<void()>& step) {
  for (int64_t i = 0; i < warmup; ++i) step();
  std::vector<double> times;
  for (int64_t i = 0; i < steps; ++i) {
    auto start = Clock::now();
    step();
    times.push_back(std::chrono::duration<double>(Clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  const std::size_t n = times.size();
  return n % 2 ? times[n / 2] : 0.5 * (times[n / 2 - 1] + times[n / 2]);
}

// glibc serves allocations above its mmap threshold (128 KiB at first) with fresh mmap()s and unmaps them
// on free, so the first dozens of steps page-fault on every activation tensor (measured: a stories260K
// forward at 300+ ms instead of 30 ms until the dynamic threshold has grown). Keeping freed memory in the
// heap makes the timed steps show the steady state from the first one.
void keep_freed_memory() {
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
}

// Waits for the device to finish (reading one value back); a no-op cost on CPU.
void sync(const at::Tensor& t) { t.reshape({-1}).narrow(0, 0, 1).to(at::kCPU); }


// The 1-minute load average: other processes competing for the cores make every number here lower.
double load_average() {
  double load = 0;
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf", &load) != 1) load = 0;
    std::fclose(f);
  }
  return load;
}

double peak_rss_mib() {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}


}  // namespace

// Shared with `ptlab bench train` (bench_train_command.cpp).
double matmul_gflops(at::Device device) {
  const int64_t n = 1024;
  auto opts = at::TensorOptions().device(device);
  at::Tensor a = at::randn({n, n}, opts), b = at::randn({n, n}, opts), c = at::empty({n, n}, opts);
  const double seconds = median_seconds(1, 5, [&] {
    at::mm_out(c, a, b);
    sync(c);
  });
  return 2.0 * n * n * n / seconds / 1e9;
}

models::HFConfig read_config(const std::string& path) {
  std::ifstream in(path);
  PTLAB_CHECK(in.good(), "ptlab bench: cannot read config file {}", path);
  std::stringstream text;
  text << in.rdbuf();
  try {
    return models::HFConfig(nlohmann::json::parse(text.str()), path);
  } catch (const nlohmann::json::parse_error& e) {
    PTLAB_FAIL("{} is not valid JSON: {}", path, e.what());
  }
}

namespace {

std::string with_commas(double value) {
  std::string s = std::to_string(static_cast<int64_t>(value + 0.5)), out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i && (s.size() - i) % 3 == 0) out += ',';
    out += s[i];
  }
  return out;
}

int run_bench_model(const std::vector<std::string>& args) {
  OptionParser opts("ptlab bench model", {"--random", "--json"},
                    {"--config", "--batch", "--seq", "--steps", "--warmup", "--dtype", "--device", "--threads"});
  opts.parse(args);
  const int64_t batch = opts.get_int("--batch", 4), len = opts.get_int("--seq", 128);
  const int64_t steps = opts.get_int("--steps", 10), warmup = opts.get_int("--warmup", 2);
  PTLAB_CHECK(batch > 0 && len > 1 && steps > 0 && warmup >= 0,
              "ptlab bench model: --batch must be > 0, --seq > 1, --steps > 0 and --warmup >= 0");
  const int threads = configure_threads(static_cast<int>(opts.get_int("--threads", 0)), 1);
  keep_freed_memory();
  models::LoadOptions load;
  load.dtype = models::parse_dtype(opts.get("--dtype", "fp32"));
  load.device = models::parse_device(opts.get("--device", "cpu"));

  std::shared_ptr<models::Backbone> model;
  std::string source;
  if (opts.has("--config")) {
    PTLAB_CHECK(opts.positional().empty(), "ptlab bench model: give a model directory or --config FILE, not both");
    model = models::random_backbone(read_config(*opts.get("--config")), load);
    source = *opts.get("--config") + " (random weights)";
  } else {
    opts.expect_positional(1, "one model directory (or --config FILE)");
    const std::string dir = opts.positional()[0];
    model = opts.flag("--random") ? models::random_backbone(models::HFConfig::load(dir), load) : models::load_backbone(dir, load);
    source = dir + (opts.flag("--random") ? " (random weights)" : "");
  }
  const auto& info = model->info();

  const double gflops = matmul_gflops(load.device);
  at::manual_seed(0);
  at::Tensor ids = at::randint(0, info.vocab_size, {batch, len}, at::kLong);  // [B, T]
  auto input_for = [&](const at::Tensor& embeds) {
    models::BackboneInput in;
    if (embeds.defined()) in.inputs_embeds = embeds;
    else in.input_ids = ids;
    if (info.is_encoder_decoder) in.decoder_input_ids = ids;
    return in;
  };

  const double forward_s = median_seconds(warmup, steps, [&] {
    at::NoGradGuard no_grad;
    sync(model->forward(input_for({})).logits);
  });
  const double backward_s = median_seconds(warmup, steps, [&] {
    at::Tensor embeds = model->embed(ids).detach().requires_grad_(true);  // [B, T, d]: the trainable input
    at::Tensor logits = model->forward(input_for(embeds)).logits;
    at::Tensor loss = info.is_causal && !info.is_encoder_decoder ? models::causal_lm_loss(logits, ids)
                                                                  : logits.to(at::kFloat).logsumexp(-1).mean();
    loss.backward();
    sync(embeds.grad());
  });
  const double tokens = static_cast<double>(batch * len);
  const double rss = peak_rss_mib();
  const double load_avg = load_average();

  if (opts.flag("--json")) {
    nlohmann::ordered_json j = {{"model", source},
                                {"family", info.family},
                                {"parameters", info.num_parameters},
                                {"dtype", models::dtype_name(model->dtype())},
                                {"threads", threads},
                                {"batch", batch},
                                {"seq", len},
                                {"steps", steps},
                                {"warmup", warmup},
                                {"matmul_gflops", gflops},
                                {"forward_tokens_per_s", tokens / forward_s},
                                {"forward_backward_tokens_per_s", tokens / backward_s},
                                {"forward_ms", forward_s * 1e3},
                                {"forward_backward_ms", backward_s * 1e3},
                                {"peak_rss_mib", rss},
                                {"load_average", load_avg}};
    std::printf("%s\n", j.dump().c_str());
    return 0;
  }
  std::printf("model      %s\n", source.c_str());
  std::printf("           %s, %s parameters, %s\n", info.family.c_str(), with_commas(info.num_parameters).c_str(),
              models::dtype_name(model->dtype()).c_str());
  std::printf("threads    %d (load average %.2f on %d cores)\n", threads, load_avg, available_cores());
  std::printf("shape      batch %lld x seq %lld = %lld tokens/step; median of %lld steps after %lld warm-up\n",
              static_cast<long long>(batch), static_cast<long long>(len), static_cast<long long>(batch * len),
              static_cast<long long>(steps), static_cast<long long>(warmup));
  std::printf("matmul     %.1f GFLOP/s (fp32 1024^3 on %s)\n", gflops, load.device.str().c_str());
  std::printf("forward    %s tokens/s (%.2f ms/step)\n", with_commas(tokens / forward_s).c_str(), forward_s * 1e3);
  std::printf("fwd+bwd    %s tokens/s (%.2f ms/step; gradients w.r.t. inputs_embeds, backbone frozen)\n",
              with_commas(tokens / backward_s).c_str(), backward_s * 1e3);
  std::printf("peak RSS   %.0f MiB\n", rss);
  return 0;
}

}  // namespace

int run_bench_train_command(const std::vector<std::string>& args);  // bench_train_command.cpp
int run_bench_cpt_command(const std::vector<std::string>& args);    // bench_cpt_command.cpp

namespace {

int run_bench(const std::vector<std::string>& args) {
  if (args.empty() || args[0] == "-h" || args[0] == "--help" || (args[0] != "train" && args[0] != "cpt" && wants_help(args))) {
    std::fputs(kHelp, stdout);
    return args.empty() ? 2 : 0;
  }
  const std::vector<std::string> subcommands = {"model", "train", "cpt"};
  if (args[0] == "model") return run_bench_model(std::vector<std::string>(args.begin() + 1, args.end()));
  if (args[0] == "train") return run_bench_train_command(std::vector<std::string>(args.begin() + 1, args.end()));
  if (args[0] == "cpt") return run_bench_cpt_command(std::vector<std::string>(args.begin() + 1, args.end()));
  PTLAB_FAIL("ptlab bench: unknown subcommand '{}'{}; subcommands: {}", args[0], did_you_mean(args[0], subcommands),
             join_names(subcommands));
}

}  // namespace

void add_bench_command(CommandRegistry& registry) {
  registry.add("bench", "measure model / prompt-tuning training speed (tokens/s) next to the machine's matmul GFLOP/s",
               Command{kHelp, run_bench});
}

}  // namespace ptlab::launchers
