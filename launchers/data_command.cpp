// `ptlab data show task=NAME ...`: prints a task's examples and dataset statistics (data_show_command.cpp).
// `ptlab data synth --out DIR`: writes the project's synthetic English-like language (pretraining corpus,
// labeled tasks sentiment2 / sentiment5 / topic / entailment, word-level tokenizer files and a manifest)
// and prints what it wrote with the generation speed. See tasks/synthetic/write_synthetic.h.
#include "framework/core/error.h"
#include "framework/core/suggest.h"
#include "launchers/command.h"
#include "launchers/option_parser.h"
#include "tasks/synthetic/write_synthetic.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace ptlab::launchers {
namespace {

namespace synthetic = tasks::synthetic;

}  // namespace

int run_data_show(const std::vector<std::string>& args);  // data_show_command.cpp
extern const char* const kDataShowHelp;

namespace {

constexpr const char* kHelp =
    "usage: ptlab data synth --out DIR [--seed N] [--corpus-sentences N] [--train N] [--dev N] [--test N]\n"
    "\n"
    "Generates the synthetic English-like language that `ptlab demo` runs on, into DIR:\n"
    "  corpus.txt                        unlabeled pretraining corpus, one sentence (or two) per line\n"
    "  <task>/{train,dev,test}.tsv       sentiment2, sentiment5, topic (sentence, label) and\n"
    "                                    entailment (sentence1, sentence2, label); classes balanced\n"
    "  multitask/{train,dev,test}.tsv    sentiment2 and topic in one file (task, sentence, label),\n"
    "                                    rows alternating: mixed-task data (task=synthetic_multitask)\n"
    "  tokenizer/                        word-level tokenizer.json, tokenizer_config.json,\n"
    "                                    special_tokens_map.json (loadable by transformers)\n"
    "  manifest.json                     config, sizes, label counts, token counts, file hashes\n"
    "The same options give byte-identical files on any machine.\n"
    "\n"
    "--out DIR               output folder (created; files in it are replaced)\n"
    "--seed N                random seed, 0 .. 2^64-1 (default 1234)\n"
    "--corpus-sentences N    lines of corpus.txt (default 200000, about 2.5M words)\n"
    "--train N --dev N --test N\n"
    "                        examples per split of every task (default 2000 / 500 / 1000)\n";

uint64_t parse_seed(const std::string& text) {
  bool digits = !text.empty() && text.size() <= 20;
  for (char c : text) digits = digits && c >= '0' && c <= '9';
  errno = 0;
  const unsigned long long v = digits ? std::strtoull(text.c_str(), nullptr, 10) : 0;
  PTLAB_CHECK(digits && errno == 0,
              "ptlab data synth: option --seed needs an integer from 0 to 18446744073709551615, got '{}'", text);
  return v;
}

int64_t positive(const OptionParser& opts, const std::string& name, int64_t fallback) {
  const int64_t v = opts.get_int(name, fallback);
  PTLAB_CHECK(v >= 1, "ptlab data synth: option {} must be at least 1, got {}", name, v);
  return v;
}

int run_synth(const std::vector<std::string>& args) {
  OptionParser opts("ptlab data synth", {}, {"--out", "--seed", "--corpus-sentences", "--train", "--dev", "--test"});
  opts.parse(args);
  opts.expect_positional(0, "no positional arguments");
  const auto out = opts.get("--out");
  PTLAB_CHECK(out && !out->empty(), "ptlab data synth: --out DIR is required (the folder to write into)");

  synthetic::SyntheticConfig config;
  if (auto seed = opts.get("--seed")) config.seed = parse_seed(*seed);
  config.corpus_sentences = positive(opts, "--corpus-sentences", config.corpus_sentences);
  const synthetic::TaskSizes defaults;
  config.set_task_sizes(positive(opts, "--train", defaults.train), positive(opts, "--dev", defaults.dev),
                        positive(opts, "--test", defaults.test));

  const auto report = synthetic::write_synthetic(config, *out);
  const auto& m = report.manifest;
  std::printf("synthetic language (generator v%d, seed %llu) written to %s (listed in %s)\n",
              synthetic::kGeneratorVersion, static_cast<unsigned long long>(config.seed), out->c_str(),
              std::string(synthetic::kManifestFile).c_str());
  std::printf("  %-36s %12s %10s  %s\n", "file", "bytes", "tokens", "fnv1a64");
  for (const auto& f : m.files) {
    std::printf("  %-36s %12llu %10lld  %s\n", f.path.c_str(), static_cast<unsigned long long>(f.bytes),
                static_cast<long long>(f.tokens), f.fnv1a64.c_str());
  }
  std::printf("vocabulary %lld tokens; %lld tokens in all\n", static_cast<long long>(m.vocab_size),
              static_cast<long long>(report.total_tokens()));
  std::printf("corpus: %lld sentences, %lld tokens in %.2f s (%.2f M tokens/s); total %.2f s\n",
              static_cast<long long>(m.corpus_sentences), static_cast<long long>(m.corpus_tokens),
              report.corpus_seconds, report.corpus_tokens_per_second() / 1e6, report.total_seconds);
  return 0;
}

int run_data(const std::vector<std::string>& args) {
  if (!args.empty() && args[0] == "show") {
    if (wants_help(args)) {
      std::fputs(kDataShowHelp, stdout);
      return 0;
    }
    return run_data_show(std::vector<std::string>(args.begin() + 1, args.end()));
  }
  if (args.empty() || args[0] == "-h" || args[0] == "--help" || wants_help(args)) {
    std::fputs(kHelp, stdout);
    std::fputs("\n", stdout);
    std::fputs(kDataShowHelp, stdout);
    return args.empty() ? 2 : 0;
  }
  const std::vector<std::string> subcommands = {"show", "synth"};
  if (args[0] == "synth") return run_synth(std::vector<std::string>(args.begin() + 1, args.end()));
  PTLAB_FAIL("ptlab data: unknown subcommand '{}'{}; subcommands: {}", args[0], did_you_mean(args[0], subcommands),
             join_names(subcommands));
}

}  // namespace

void add_data_command(CommandRegistry& registry) {
  registry.add("data", "show a task's dataset (data show task=NAME); generate the synthetic language (data synth)", Command{kHelp, run_data});
}

}  // namespace ptlab::launchers
