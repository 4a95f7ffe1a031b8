// `ptlab demo`: the README's main job — the embedded default, end to end, with nothing downloaded:
//  1. generate the synthetic language (corpus + labeled tasks + WordLevel tokenizer), cached;
//  2. pretrain a small Llama-architecture model on its corpus (method=pretrain), cached, and sample from it;
//  3-5. compare zero-shot prompt design, prompt tuning and full fine-tuning on the synthetic sentiment task
//     with the shared trainer, and print the table. Every run leaves its HDF5 log in outputs/demo/.
#include "framework/config/compose.h"
#include "framework/config/reader.h"
#include "framework/core/error.h"
#include "framework/core/log.h"
#include "framework/core/threads.h"
#include "framework/dist/communicator.h"
#include "framework/models/generate.h"
#include "framework/models/loader.h"
#include "framework/text/tokenizer.h"
#include "launchers/trial.h"
#include "launchers/command.h"
#include "tasks/synthetic/write_synthetic.h"

#include <chrono>
#include <cmath>
#include <fstream>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

namespace ptlab::launchers {
namespace {

constexpr const char* kHelp =
    "usage: ptlab demo [--fresh] [--config-dir DIR] [overrides...]\n"
    "\n"
    "Runs the embedded default end to end on the CPU (a few minutes on 2 cores):\n"
    "  1. generates the synthetic English-like language into ${paths.outputs}/demo/synthetic (cached);\n"
    "  2. pretrains a 4-layer d=96 Llama-architecture model on its corpus (model=synthetic_llama,\n"
    "     task=synthetic_lm, method=pretrain) into ${paths.outputs}/demo/pretrain/model, cached for the next run\n"
    "     (--fresh pretrains again), and continues a sentence with it;\n"
    "  3. evaluates zero-shot prompt design, trains prompt tuning and full fine-tuning on synthetic_sentiment2,\n"
    "     and prints dev/test accuracy, trainable parameters and time. Each run leaves metrics.h5,\n"
    "     metrics.jsonl and summary.json in ${paths.outputs}/demo/<method>.\n"
    "\n"
    "overrides apply to every run, e.g. runtime.threads=1 trainer.eval_limit=200\n";

constexpr int kPretrainSteps = 1500;

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void synthesize(const std::string& out_dir, uint64_t seed) {
  tasks::synthetic::SyntheticConfig cfg;
  cfg.seed = seed;
  if (tasks::synthetic::is_complete(out_dir, cfg)) {
    std::printf("[1/5] synthetic language: reusing %s (same seed and sizes)\n", out_dir.c_str());
    return;
  }
  auto report = tasks::synthetic::write_synthetic(cfg, out_dir);
  const auto& m = report.manifest;
  std::printf("[1/5] synthetic language: %lld corpus sentences, %lld tokens, vocabulary %lld, in %.2f s (%.1fM tokens/s)\n",
              static_cast<long long>(m.corpus_sentences), static_cast<long long>(m.corpus_tokens),
              static_cast<long long>(m.vocab_size), report.total_seconds, report.corpus_tokens_per_second() / 1e6);
  for (const auto& s : m.splits)
    std::printf("      %-11s %-5s %6lld examples\n", s.task.c_str(), s.split.c_str(), static_cast<long long>(s.examples));
  std::printf("      written to %s\n", out_dir.c_str());
}

void generate_story(const std::string& model_dir) {
  if (!std::filesystem::exists(std::filesystem::path(model_dir) / "config.json")) {
    std::printf("      no model in %s\n", model_dir.c_str());
    return;
  }
  auto t0 = std::chrono::steady_clock::now();
  auto backbone = models::load_backbone(model_dir);
  auto tokenizer = text::load_tokenizer(model_dir);
  const auto& info = backbone->info();
  std::printf("      model %s (%s), %lld layers, d=%lld, %lld/%lld heads, %lld parameters, loaded in %.2f s\n",
              model_dir.c_str(), info.family.c_str(), static_cast<long long>(info.num_layers),
              static_cast<long long>(info.hidden_size), static_cast<long long>(info.num_heads),
              static_cast<long long>(info.num_kv_heads), static_cast<long long>(info.num_parameters), seconds_since(t0));
  const std::string prompt = "the film seemed";
  auto enc = tokenizer->encode(prompt, /*add_special_tokens=*/true);
  std::vector<int64_t> ids(enc.ids.begin(), enc.ids.end());
  models::BackboneInput input;
  input.input_ids = at::tensor(ids, at::kLong).unsqueeze(0);  // [1, T]
  models::GenerationConfig gen;
  gen.max_new_tokens = 24;
  t0 = std::chrono::steady_clock::now();
  auto out = models::generate(*backbone, input, gen);
  double secs = seconds_since(t0);
  at::Tensor new_tokens = out.new_tokens[0].contiguous();
  std::vector<int> generated(new_tokens.data_ptr<int64_t>(), new_tokens.data_ptr<int64_t>() + new_tokens.numel());
  std::vector<int> all(enc.ids);
  all.insert(all.end(), generated.begin(), generated.end());
  std::printf("      greedy, %zu new tokens in %.3f s (%.0f tokens/s):\n      %s\n", generated.size(), secs,
              generated.size() / std::max(secs, 1e-9), tokenizer->decode(all, /*skip_special_tokens=*/true).c_str());
}

struct DemoRow {
  std::string label;
  RunOutcome outcome;
  double seconds = 0.0;
};

// One trial of the demo: the user's overrides, then the step's own.
RunOutcome run_step(const config::ComposeOptions& options, const std::vector<std::string>& user,
                           const std::vector<std::string>& step, dist::Communicator& comm) {
  std::vector<std::string> overrides = step;
  overrides.insert(overrides.end(), user.begin(), user.end());
  auto composed = config::compose(options, overrides);
  return run_training(composed, comm);
}

double value_or_nan(const RunOutcome& o, const std::string& split, const std::string& metric) {
  auto s = o.splits.find(split);
  if (s == o.splits.end()) return std::nan("");
  auto m = s->second.find(metric);
  return m == s->second.end() ? std::nan("") : m->second;
}

int run_demo(const std::vector<std::string>& args) {
  if (wants_help(args)) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  config::ComposeOptions options{config::default_config_dir()};
  std::vector<std::string> overrides;
  bool fresh = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--config-dir") {
      PTLAB_CHECK(i + 1 < args.size(), "ptlab demo: --config-dir needs a directory");
      options.config_dir = args[++i];
    } else if (args[i] == "--fresh") {
      fresh = true;
    } else {
      PTLAB_CHECK(args[i].empty() || args[i][0] != '-', "ptlab demo: unknown option '{}'; see ptlab demo --help", args[i]);
      overrides.push_back(args[i]);
    }
  }
  auto composed = config::compose(options, overrides);
  config::Reader root(composed.root, "", composed.origins);
  config::Reader runtime = root.child("runtime");
  int threads = runtime.get<int>("threads", 0);
  std::string backend = runtime.get<std::string>("backend", "auto");
  config::Reader paths = root.child("paths");
  std::string outputs = paths.get<std::string>("outputs", "outputs");

  auto comm = dist::make_communicator(backend);
  PTLAB_CHECK(comm->size() == 1, "ptlab demo runs as one process; start it without mpirun");
  int n = configure_threads(threads, comm->local_size());
  std::printf("ptlab demo: %d LibTorch thread%s\n", n, n == 1 ? "" : "s");
  const auto t_start = std::chrono::steady_clock::now();
  const std::filesystem::path demo = std::filesystem::path(outputs) / "demo";
  synthesize((demo / "synthetic").string(), 1234);

  // [2/5] the pretrained model, cached: retrained only when its stamp (the pretraining overrides) differs.
  const std::string pretrain_dir = (demo / "pretrain").string();
  const std::string model_dir = pretrain_dir + "/model";
  std::vector<std::string> pretrain = {"model=synthetic_llama", "task=synthetic_lm", "method=pretrain",
                                       "trainer.max_steps=" + std::to_string(kPretrainSteps), "trainer.batch_size=32",
                                       "trainer.optimizer.lr=3e-3", "trainer.optimizer.weight_decay=0.01",
                                       "trainer.schedule.name=cosine", "trainer.schedule.warmup_steps=100",
                                       "trainer.eval_every=0", "trainer.eval_limit=500", "trainer.log_every=100",
                                       "run.dir=" + pretrain_dir};
  std::string stamp;
  for (const auto& o : pretrain) stamp += o + "\n";
  for (const auto& o : overrides) stamp += o + "\n";
  const std::string stamp_path = pretrain_dir + "/demo_stamp.txt";
  bool cached = false;
  if (!fresh && std::filesystem::exists(model_dir + "/config.json") && std::filesystem::exists(stamp_path)) {
    std::ifstream in(stamp_path);
    std::string old((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    cached = old == stamp;
  }
  std::vector<DemoRow> rows;
  if (cached) {
    std::printf("[2/5] pretrained model: reusing %s (same settings; --fresh retrains)\n", model_dir.c_str());
  } else {
    std::printf("[2/5] pretraining a %s on the synthetic corpus (%d steps)...\n", "4-layer d=96 Llama", kPretrainSteps);
    std::filesystem::remove_all(pretrain_dir);
    auto t0 = std::chrono::steady_clock::now();
    auto outcome = run_step(options, overrides, pretrain, *comm);
    std::ofstream(stamp_path) << stamp;
    std::printf("      done in %.0f s: dev perplexity %.2f, %.0f tokens/s\n", seconds_since(t0),
                value_or_nan(outcome, "dev", "perplexity"), outcome.result.tokens_per_second);
  }

  generate_story(model_dir);

  // [3-5/5] the comparison on the synthetic sentiment task.
  const std::vector<std::string> common = {"model=synthetic_llama", "model.architecture=null", "model.path=" + model_dir,
                                           "task=synthetic_sentiment2", "trainer.eval_every=50",
                                           "trainer.log_every=50", "trainer.batch_size=16"};
  struct Plan {
    std::string label;
    std::vector<std::string> extra;
  };
  const std::vector<Plan> plans = {
      {"zero-shot (prompt design)", {"method=zero_shot"}},
      {"prompt tuning (20 tokens)",
       {"method=prompt_tuning", "method.length=20", "method.init=class_label", "trainer.max_steps=300",
        "trainer.optimizer.lr=0.1"}},
      {"full fine-tuning", {"method=full_finetune", "trainer.max_steps=300", "trainer.optimizer.lr=1e-3"}},
  };
  int index = 3;
  for (const auto& plan : plans) {
    std::vector<std::string> step = common;
    step.insert(step.end(), plan.extra.begin(), plan.extra.end());
    const std::string dir = (demo / plan.extra.front().substr(7)).string();
    step.push_back("run.dir=" + dir);
    std::filesystem::remove_all(dir);
    std::printf("[%d/5] %s...\n", index++, plan.label.c_str());
    auto t0 = std::chrono::steady_clock::now();
    DemoRow row{plan.label, run_step(options, overrides, step, *comm), 0.0};
    row.seconds = seconds_since(t0);
    rows.push_back(std::move(row));
  }

  std::printf("\nsynthetic_sentiment2 with the pretrained synthetic Llama (%s):\n\n", model_dir.c_str());
  std::printf("| method | trainable params | dev accuracy | test accuracy | test macro-F1 | seconds |\n");
  std::printf("|---|---:|---:|---:|---:|---:|\n");
  for (const auto& row : rows) {
    std::printf("| %s | %lld | %.3f | %.3f | %.3f | %.0f |\n", row.label.c_str(),
                static_cast<long long>(row.outcome.trainable_parameters), value_or_nan(row.outcome, "dev", "accuracy"),
                value_or_nan(row.outcome, "test", "accuracy"), value_or_nan(row.outcome, "test", "macro_f1"),
                row.seconds);
  }
  std::printf("\nrun directories (metrics.h5, metrics.jsonl, summary.json, prompt / adapter / model): %s/{zero_shot,"
              "prompt_tuning,full_finetune}\ntotal %.0f s\n",
              demo.string().c_str(), seconds_since(t_start));
  return 0;
}

}  // namespace

void add_demo_command(CommandRegistry& registry) {
  registry.add("demo", "run the embedded default end to end (see ptlab demo --help)", Command{kHelp, run_demo});
}

}  // namespace ptlab::launchers
