// `ptlab config show [--unresolved] [--config-dir DIR] [overrides...]`: prints the composed config as
// YAML — the exact config a run with these overrides would get — so users can check a composition,
// an experiment or an interpolation before launching anything.
#include "framework/config/compose.h"
#include "framework/config/yaml_value.h"
#include "framework/core/error.h"
#include "framework/core/suggest.h"
#include "launchers/command.h"

#include <cstdio>
#include <string>
#include <vector>

namespace ptlab::launchers {
namespace {

constexpr const char* kHelp =
    "usage: ptlab config show [--unresolved] [--config-dir DIR] [overrides...]\n"
    "\n"
    "Composes the config (configs/config.yaml, its defaults list and the overrides) and prints it as YAML.\n"
    "\n"
    "--unresolved      keep ${...} interpolations and ??? as written (no resolution, no missing-value check)\n"
    "--config-dir DIR  the config directory (default: $PTLAB_CONFIG_DIR, else ./configs over the built-in configs)\n"
    "-h, --help        this message\n"
    "\n"
    "overrides (Hydra's grammar): group=option  +group=option  ~group  a.b=value  +a.b=value  ++a.b=value\n"
    "  ~a.b  ~a.b=value; values: 1_000, 1e-3, true, null, 'quoted', [1,2], {a:1}, ${other.key}\n"
    "examples:\n"
    "  ptlab config show method=prefix_tuning trainer.lr=0.01\n"
    "  ptlab config show +experiment=scale --unresolved\n";

int run_config(const std::vector<std::string>& args) {
  if (args.empty() || wants_help(args)) {
    std::fputs(kHelp, stdout);
    return args.empty() ? 2 : 0;
  }
  PTLAB_CHECK(args[0] == "show", "ptlab config: unknown subcommand '{}'{}; the subcommand is 'show'\n{}", args[0],
              did_you_mean(args[0], {"show"}), kHelp);
  config::ComposeOptions options{config::default_config_dir()};
  bool resolve = true;
  std::vector<std::string> overrides;
  const std::vector<std::string> flags = {"--unresolved", "--config-dir", "--help"};
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--unresolved") {
      resolve = false;
    } else if (a == "--config-dir") {
      PTLAB_CHECK(i + 1 < args.size(), "ptlab config show: --config-dir needs a directory");
      options.config_dir = args[++i];
    } else if (a.rfind("--config-dir=", 0) == 0) {
      options.config_dir = a.substr(13);
    } else if (a.size() > 1 && a[0] == '-') {
      PTLAB_FAIL("ptlab config show: unknown option '{}'{}; options: {}", a, did_you_mean(a, flags), join_names(flags));
    } else {
      overrides.push_back(a);
    }
  }
  config::Composed composed = config::compose(options, overrides, resolve);
  std::fputs(config::to_yaml(composed.root).c_str(), stdout);
  return 0;
}

}  // namespace

void add_config_command(CommandRegistry& registry) {
  registry.add("config", "show the composed config: config show [--unresolved] [overrides...]",
               Command{kHelp, run_config});
}

}  // namespace ptlab::launchers
