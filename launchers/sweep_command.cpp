// `ptlab sweep --dry-run -m [overrides...]`: expands a multirun (comma lists, range(), glob(), the sweep
// file's params) into its trials, prints one line per trial, then composes every trial to validate it.
// Running the trials is a later issue; until then `ptlab sweep` without --dry-run is an error.
#include "framework/config/compose.h"
#include "framework/config/sweep.h"
#include "framework/core/error.h"
#include "framework/core/suggest.h"
#include "launchers/command.h"

#include <cstdio>
#include <string>
#include <vector>

namespace ptlab::launchers {
namespace {

constexpr const char* kHelp =
    "usage: ptlab sweep --dry-run -m [--config-dir DIR] [overrides...]\n"
    "\n"
    "Expands the overrides into the trials of a multirun (the Cartesian product, last key fastest) and\n"
    "prints one line per trial: its index and its override list. Then composes each trial and reports the\n"
    "invalid ones; exits 2 when any trial is invalid.\n"
    "\n"
    "--dry-run         list and validate the trials (running sweeps is not built yet)\n"
    "-m, --multirun    expand sweeps (implied by `ptlab sweep`; accepted for Hydra habits)\n"
    "--config-dir DIR  the config directory (default: $PTLAB_CONFIG_DIR, else ./configs over the built-in configs)\n"
    "-h, --help        this message\n"
    "\n"
    "sweeps: a=1,2,3  a=choice(x,y)  a=range(0,10,2)  a=range(0,1,0.25)  model=glob(*, exclude=big*)\n"
    "  and the params of configs/sweep/<name>.yaml when sweep=<name> is chosen (the command line wins)\n"
    "example:\n"
    "  ptlab sweep --dry-run -m method=prompt_tuning,prefix_tuning trainer.lr=0.1,0.01 seed=range(3)\n";

// The override quoted for a POSIX shell when it holds characters the shell would interpret.
std::string shell_quote(const std::string& s) {
  bool safe = !s.empty() && s.find_first_not_of(
                                "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                                "_-+=.,/:@~%") == std::string::npos;
  if (safe) return s;
  if (s.find_first_of("\"$`\\!") == std::string::npos) return "\"" + s + "\"";
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

int run_sweep(const std::vector<std::string>& args) {
  if (wants_help(args)) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  config::ComposeOptions options{config::default_config_dir()};
  bool dry_run = false;
  std::vector<std::string> overrides;
  const std::vector<std::string> flags = {"--dry-run", "--multirun", "-m", "--config-dir", "--help"};
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--dry-run") {
      dry_run = true;
    } else if (a == "-m" || a == "--multirun") {
      // Sweeps always expand here.
    } else if (a == "--config-dir") {
      PTLAB_CHECK(i + 1 < args.size(), "ptlab sweep: --config-dir needs a directory");
      options.config_dir = args[++i];
    } else if (a.rfind("--config-dir=", 0) == 0) {
      options.config_dir = a.substr(13);
    } else if (a.size() > 1 && a[0] == '-') {
      PTLAB_FAIL("ptlab sweep: unknown option '{}'{}; options: {}", a, did_you_mean(a, flags), join_names(flags));
    } else {
      overrides.push_back(a);
    }
  }
  PTLAB_CHECK(dry_run,
              "ptlab sweep: running sweeps is not built yet (a later issue); use --dry-run to list and validate the "
              "trials");

  auto trials = config::expand_multirun(options, overrides);
  for (std::size_t t = 0; t < trials.size(); ++t) {
    std::string line = std::to_string(t) + ":";
    for (const auto& o : trials[t]) line += " " + shell_quote(o);
    std::printf("%s\n", line.c_str());
  }
  std::size_t invalid = 0;
  for (std::size_t t = 0; t < trials.size(); ++t) {
    try {
      config::compose(options, trials[t]);
    } catch (const Error& e) {
      ++invalid;
      std::printf("trial %zu is invalid: %s\n", t, e.what());
    }
  }
  if (invalid > 0) {
    std::printf("%zu of %zu trials are invalid\n", invalid, trials.size());
    return 2;
  }
  std::printf("%zu trial%s, all valid\n", trials.size(), trials.size() == 1 ? "" : "s");
  return 0;
}

}  // namespace

void add_sweep_command(CommandRegistry& registry) {
  registry.add("sweep", "expand a multirun into trials: sweep --dry-run -m [overrides...]", Command{kHelp, run_sweep});
}

}  // namespace ptlab::launchers
