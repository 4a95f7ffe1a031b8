// `ptlab bench cpt`: CPT train steps against the number of in-context demonstrations k. The real method
// (methods/cpt) with a context of k synthetic demonstrations of PEFT's notebook shape — "input: " (4 tokens,
// type 4j+1), the input (--demo-input tokens, 4j+2), "output: " (3 tokens, 4j+3), a 1-token label (4j+4) and a
// separator (0) — in front of a batch of queries with the same shape, random ids; one step is the trainer's:
// projection, forward over [context][query], CPT's loss at every label token, backward to the offsets (masked),
// AdamW. Reports the median step time and the process's peak RSS (run one k per process: RSS is a peak).
// The context must fit the model's positions (context + query <= max_positions): that is CPT's first limit.
#include "framework/config/origins.h"
#include "framework/config/reader.h"
#include "framework/core/error.h"
#include "framework/core/threads.h"
#include "framework/models/loader.h"
#include "framework/text/tokenizer.h"
#include "framework/train/optimizer.h"
#include "launchers/command.h"
#include "launchers/option_parser.h"
#include "methods/cpt/cpt.h"
#include "tasks/batch.h"
#include "tasks/task.h"
#include "tasks/template.h"

#include <ATen/ATen.h>
#include <sys/resource.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>

namespace ptlab::launchers {
namespace {

constexpr const char* kHelp =
    "usage: ptlab bench cpt DIR --k K [--batch B] [--demo-input L] [--steps S] [--warmup W] [--threads N] [--json]\n"
    "\n"
    "Measures CPT train steps (methods/cpt) with a context of K synthetic demonstrations of 4 + L + 3 + 1 + 1\n"
    "tokens each (PEFT notebook's shape: input template, input, output template, label, separator) in front of\n"
    "B queries of the same shape: median step time of S steps after W warm-up steps and the peak RSS of the\n"
    "process. A context + query longer than the model's max_positions is an Error (CPT's length limit).\n"
    "\n"
    "--k K (4)  --batch B (1)  --demo-input L (12)  --steps S (3)  --warmup W (1)  --threads N (all)  --json\n";

using Clock = std::chrono::steady_clock;

int run_bench_cpt(const std::vector<std::string>& args) {
  if (wants_help(args)) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  OptionParser opts("ptlab bench cpt", {"--json"}, {"--k", "--batch", "--demo-input", "--steps", "--warmup", "--threads"});
  opts.parse(args);
  const int64_t k = opts.get_int("--k", 4), batch = opts.get_int("--batch", 1), input_len = opts.get_int("--demo-input", 12);
  const int64_t steps = opts.get_int("--steps", 3), warmup = opts.get_int("--warmup", 1);
  PTLAB_CHECK(k > 0 && batch > 0 && input_len > 0 && steps > 0 && warmup >= 0,
              "ptlab bench cpt: --k, --batch, --demo-input and --steps must be > 0, --warmup >= 0");
  const int threads = configure_threads(static_cast<int>(opts.get_int("--threads", 0)), 1);
  opts.expect_positional(1, "one model directory");
  const std::string dir = opts.positional()[0];
  std::shared_ptr<models::Backbone> model = models::load_backbone(dir);
  const std::unique_ptr<text::Tokenizer> tokenizer = text::load_tokenizer(dir);
  model->set_trainable(false);
  model->eval();
  const auto& info = model->info();

  // k demonstrations and one query shape: [4 x type 1][L x 2][3 x 3][1 x 4][1 x 0], types + 4j.
  at::manual_seed(0);
  const int64_t demo = 4 + input_len + 3 + 1 + 1;
  const std::vector<int64_t> shape_types = [&] {
    std::vector<int64_t> t;
    t.insert(t.end(), 4, 1);
    t.insert(t.end(), input_len, 2);
    t.insert(t.end(), 3, 3);
    t.push_back(4);
    t.push_back(0);
    return t;
  }();
  YAML::Node node;
  node["name"] = "cpt";
  const at::Tensor ctx_ids = at::randint(0, info.vocab_size, {k * demo}, at::kLong);
  for (int64_t j = 0; j < k; ++j) {
    for (int64_t i = 0; i < demo; ++i) {
      node["context_token_ids"].push_back(ctx_ids[j * demo + i].item<int64_t>());
      node["context_type_mask"].push_back(shape_types[i] == 0 ? 0 : shape_types[i] + 4 * j);
    }
  }
  node["loss_weighting"] = "decay";
  node["decay_factor"] = 0.95;
  config::Origins origins;
  origins.set_subtree("method", node, "ptlab bench cpt");
  config::Origins task_origins;
  YAML::Node task_node = YAML::Load("{type: lm, template: '{text_a}', max_length: 0}");
  task_origins.set_subtree("task", task_node, "ptlab bench cpt");
  const std::unique_ptr<tasks::Task> task = tasks::make_task(
      tasks::TaskConfig::decode(config::Reader(task_node, "task", task_origins), task_origins, "bench"), *tokenizer, info);
  const methods::MethodContext context{*model, *tokenizer, *task, 0};
  const int64_t n = k * demo;
  const int64_t max_pos = info.max_positions > 0 ? info.max_positions
                                                 : model->config().get_int("max_position_embeddings", 0);
  // Learned position tables (GPT-2) end at max_positions: a hard limit. RoPE models compute any position but
  // were trained up to max_position_embeddings: measured anyway, flagged (ptlab train refuses it).
  PTLAB_CHECK(info.max_positions == 0 || n + demo <= info.max_positions,
              "ptlab bench cpt: a context of {} demonstrations is {} tokens; with a {}-token query it exceeds the "
              "model's {} positions (at most {} demonstrations of this shape fit)",
              k, n, demo, info.max_positions, info.max_positions / demo - 1);
  const bool beyond = max_pos > 0 && n + demo > max_pos;
  std::unique_ptr<methods::Method> method = methods::make_method(config::Reader(node, "method", origins), context);

  // The query batch: the lm path's token labels mark the query's label token (type 4 -> the last group).
  std::vector<tasks::RenderedExample> rendered;
  for (int64_t b = 0; b < batch; ++b) {
    tasks::RenderedExample r;
    const at::Tensor ids = at::randint(0, info.vocab_size, {demo}, at::kLong);
    r.input_ids.assign(ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + demo);
    r.length = demo;
    r.token_type_ids.assign(demo, 0);
    r.token_labels.assign(demo, tasks::kIgnoreIndex);
    r.token_labels[demo - 2] = r.input_ids[demo - 2];
    tasks::prepend_soft_tokens(r, n, tasks::Template::placeholder_id(*tokenizer));
    rendered.push_back(std::move(r));
  }
  const tasks::Batch queries = tasks::collate(rendered, tasks::CollateOptions{});
  train::OptimizerConfig optim;
  optim.lr = 1e-3;
  auto optimizer = train::make_optimizer(optim, method->trainable_parameters());
  auto step = [&] {
    models::BackboneInput input = method->prompt(queries);
    method->request_loss(queries, input);
    at::Tensor loss = method->loss(model->forward(input), queries);
    loss.backward();
    optimizer->step();
    optimizer->zero_grad();
  };
  for (int64_t i = 0; i < warmup; ++i) step();
  std::vector<double> times;
  for (int64_t i = 0; i < steps; ++i) {
    const auto start = Clock::now();
    step();
    times.push_back(std::chrono::duration<double>(Clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  const double median = times[times.size() / 2];
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  const double rss_mib = usage.ru_maxrss / 1024.0;
  if (opts.flag("--json")) {
    nlohmann::ordered_json j = {{"model", dir},     {"k", k},
                                {"context_tokens", n}, {"query_tokens", demo},
                                {"batch", batch},   {"threads", threads},
                                {"max_positions", max_pos}, {"beyond_trained_positions", beyond},
                                {"step_ms", median * 1e3},
                                {"peak_rss_mib", rss_mib}};
    std::printf("%s\n", j.dump().c_str());
    return 0;
  }
  std::printf("model      %s (%s, %lld parameters, max positions %lld)\n", dir.c_str(), info.family.c_str(),
              static_cast<long long>(info.num_parameters), static_cast<long long>(max_pos));
  std::printf("context    %lld demonstrations = %lld tokens; batch %lld x %lld query tokens; %d threads\n",
              static_cast<long long>(k), static_cast<long long>(n), static_cast<long long>(batch),
              static_cast<long long>(demo), threads);
  if (beyond) {
    std::printf("note       %lld tokens exceed the %lld positions the model was trained on (RoPE computes them; "
                "ptlab train refuses such a context, at most %lld demonstrations of this shape fit)\n",
                static_cast<long long>(n + demo), static_cast<long long>(max_pos),
                static_cast<long long>(max_pos / demo - 1));
  }
  std::printf("time       %.1f ms/step (median of %lld)\n", median * 1e3, static_cast<long long>(steps));
  std::printf("peak RSS   %.0f MiB\n", rss_mib);
  return 0;
}

}  // namespace

// `ptlab bench cpt` is reached through `ptlab bench` (bench_command.cpp).
int run_bench_cpt_command(const std::vector<std::string>& args) { return run_bench_cpt(args); }

}  // namespace ptlab::launchers
