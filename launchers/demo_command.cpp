// `ptlab demo`: the README's main job. It runs the most complete real pipeline this build has, end to end:
//  1. the embedded default: generate the synthetic language (corpus + labeled tasks + tokenizer), cached;
//  2. the frozen-backbone stack on a real pretrained model (the configured model, stories260K by default):
//     load a Hugging Face directory, tokenize a prompt, and generate with the KV cache, timed.
// Training (pretraining a model ladder on the synthetic corpus and comparing zero-shot, prompt tuning and
// full fine-tuning) joins this command with the trainer; until then the demo says so instead of faking it.
#include "framework/config/compose.h"
#include "framework/config/reader.h"
#include "framework/core/error.h"
#include "framework/core/log.h"
#include "framework/core/threads.h"
#include "framework/dist/communicator.h"
#include "framework/models/generate.h"
#include "framework/models/loader.h"
#include "framework/text/tokenizer.h"
#include "launchers/command.h"
#include "tasks/synthetic/write_synthetic.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

namespace ptlab::launchers {
namespace {

constexpr const char* kHelp =
    "usage: ptlab demo [--config-dir DIR] [overrides...]\n"
    "\n"
    "Runs the embedded default end to end:\n"
    "  1. generates the synthetic English-like language into ${paths.outputs}/demo/synthetic (cached: a\n"
    "     complete folder for the same settings is reused);\n"
    "  2. loads the configured pretrained model (model=stories260K from ${paths.shared}) and continues\n"
    "     \"Once upon a time\" greedily with the KV cache, reporting tokens/s. Skipped with a message when\n"
    "     the model folder is absent.\n"
    "Training and the method comparison are not built yet; the demo says so at the end.\n"
    "\n"
    "overrides: as for `ptlab config show`, e.g. runtime.threads=1 model.path=/path/to/hf_model\n";

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void synthesize(const std::string& out_dir, uint64_t seed) {
  tasks::synthetic::SyntheticConfig cfg;
  cfg.seed = seed;
  if (tasks::synthetic::is_complete(out_dir, cfg)) {
    std::printf("[1/2] synthetic language: reusing %s (same seed and sizes)\n", out_dir.c_str());
    return;
  }
  auto report = tasks::synthetic::write_synthetic(cfg, out_dir);
  const auto& m = report.manifest;
  std::printf("[1/2] synthetic language: %lld corpus sentences, %lld tokens, vocabulary %lld, in %.2f s (%.1fM tokens/s)\n",
              static_cast<long long>(m.corpus_sentences), static_cast<long long>(m.corpus_tokens),
              static_cast<long long>(m.vocab_size), report.total_seconds, report.corpus_tokens_per_second() / 1e6);
  for (const auto& s : m.splits)
    std::printf("      %-11s %-5s %6lld examples\n", s.task.c_str(), s.split.c_str(), static_cast<long long>(s.examples));
  std::printf("      written to %s\n", out_dir.c_str());
}

void generate_story(const std::string& model_dir) {
  if (!std::filesystem::exists(std::filesystem::path(model_dir) / "config.json")) {
    std::printf("[2/2] pretrained backbone: skipped, %s has no config.json (set PTLAB_SHARED or model.path)\n",
                model_dir.c_str());
    return;
  }
  auto t0 = std::chrono::steady_clock::now();
  auto backbone = models::load_backbone(model_dir);
  auto tokenizer = text::load_tokenizer(model_dir);
  const auto& info = backbone->info();
  std::printf("[2/2] pretrained backbone: %s (%s), %lld layers, d=%lld, %lld/%lld heads, %lld parameters, loaded in %.2f s\n",
              model_dir.c_str(), info.family.c_str(), static_cast<long long>(info.num_layers),
              static_cast<long long>(info.hidden_size), static_cast<long long>(info.num_heads),
              static_cast<long long>(info.num_kv_heads), static_cast<long long>(info.num_parameters), seconds_since(t0));
  const std::string prompt = "Once upon a time";
  auto enc = tokenizer->encode(prompt, /*add_special_tokens=*/true);
  std::vector<int64_t> ids(enc.ids.begin(), enc.ids.end());
  models::BackboneInput input;
  input.input_ids = at::tensor(ids, at::kLong).unsqueeze(0);  // [1, T]
  models::GenerationConfig gen;
  gen.max_new_tokens = 64;
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

int run_demo(const std::vector<std::string>& args) {
  if (wants_help(args)) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  config::ComposeOptions options{config::default_config_dir()};
  std::vector<std::string> overrides;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--config-dir") {
      PTLAB_CHECK(i + 1 < args.size(), "ptlab demo: --config-dir needs a directory");
      options.config_dir = args[++i];
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
  auto seed = static_cast<uint64_t>(runtime.get<int64_t>("seed", 0));
  config::Reader paths = root.child("paths");
  std::string outputs = paths.get<std::string>("outputs", "outputs");
  paths.get<std::string>("shared", "");
  config::Reader model = root.child("model");
  std::string model_dir = model.require<std::string>("path");
  model.get<std::string>("dtype", "fp32");
  model.get<std::string>("device", "cpu");
  root.has("sweep");
  root.finish();

  auto comm = dist::make_communicator(backend);
  PTLAB_CHECK(comm->size() == 1, "ptlab demo runs as one process; start it without mpirun");
  int n = configure_threads(threads, comm->local_size());
  std::printf("ptlab demo: %d LibTorch thread%s\n", n, n == 1 ? "" : "s");

  synthesize((std::filesystem::path(outputs) / "demo" / "synthetic").string(), seed == 0 ? 1234 : seed);
  generate_story(model_dir);
  std::printf(
      "\nnot built yet: pretraining a model ladder on the synthetic corpus and comparing zero-shot, prompt tuning and\n"
      "full fine-tuning on its sentiment task (arrives with the trainer)\n");
  return 0;
}

}  // namespace

void add_demo_command(CommandRegistry& registry) {
  registry.add("demo", "run the embedded default end to end (see ptlab demo --help)", Command{kHelp, run_demo});
}

}  // namespace ptlab::launchers
