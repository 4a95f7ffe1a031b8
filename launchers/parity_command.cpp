// `ptlab parity GOLDEN_DIR [--model DIR] [--steps N]`: replays a PEFT golden run with ptlab's implementation
// of its method (launchers/parity.h) and prints the comparison. Exit 0 within tolerance, 1 beyond, 2 for
// bad input.
#include "framework/config/compose.h"
#include "framework/core/error.h"
#include "launchers/command.h"
#include "launchers/option_parser.h"
#include "launchers/parity.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

namespace ptlab::launchers {
namespace {

namespace fs = std::filesystem;

constexpr const char* kHelp =
    "usage: ptlab parity GOLDEN_DIR [--model DIR] [--steps N] [--config-dir DIR] [overrides...]\n"
    "\n"
    "Replays a PEFT golden training run (../shared/golden/peft/<run>/<method>/: result.json, batch.safetensors,\n"
    "init_full_state.safetensors, grads_step0.safetensors, final_full_state.safetensors) with ptlab's\n"
    "implementation of the method result.json names: the method built with PEFT's configuration (seed 0),\n"
    "started from PEFT's initial parameters, trained with result.json's AdamW settings on PEFT's batch for the\n"
    "golden's steps (5). Prints per-step losses (ptlab, PEFT, relative error), the max |difference| of every\n"
    "step-0 gradient and final parameter, and the checks of the replay (batch layout, seeded init, ...).\n"
    "\n"
    "Methods: prompt_random, prompt_text (prompt_tuning); prefix, prefix_proj, prefix_kvfix,\n"
    "prefix_proj_kvfix (prefix_tuning). Others in the goldens have no ptlab implementation yet.\n"
    "\n"
    "Tolerances: losses 1e-5 relative per step; step-0 gradients 1e-6 + 1e-4 x max |PEFT's gradient|;\n"
    "final parameters 1e-4.\n"
    "\n"
    "--model DIR       the base model (default: result.json's base_model under paths.shared, the config's\n"
    "                  paths.shared: $PTLAB_SHARED, else ../shared; set it with paths.shared=DIR)\n"
    "--steps N         replay the first N steps only (1..the golden's); the final state is then not compared\n"
    "--config-dir DIR  where the config comes from (only paths.shared is read)\n"
    "-h, --help        this message\n"
    "\n"
    "exit status: 0 within tolerance, 1 beyond it, 2 bad input (a directory that is not a golden run, a\n"
    "malformed result.json, a method ptlab lacks, a model that is not the golden's base model)\n"
    "\n"
    "examples:\n"
    "  ptlab parity ../shared/golden/peft/gpt2/prompt_random\n"
    "  ptlab parity ../shared/golden/peft/llama/prefix_proj_kvfix --model ../shared/golden/models/llama\n"
    "  ptlab parity golden/peft/t5/prefix paths.shared=/data/shared --steps 2\n";

// result.json's base_model under the config's paths.shared.
std::string default_model_dir(const GoldenRun& golden, const std::string& config_dir,
                              const std::vector<std::string>& overrides) {
  const config::Composed composed = config::compose(config::ComposeOptions{config_dir}, overrides);
  const YAML::Node shared = composed.root["paths"]["shared"];
  PTLAB_CHECK(shared && shared.IsScalar(),
              "ptlab parity: the config has no paths.shared; set paths.shared=DIR or "
              "give --model DIR");
  const std::string dir = shared.as<std::string>() + "/" + golden.base_model;
  PTLAB_CHECK(fs::is_directory(dir),
              "ptlab parity: the golden's base model {} not found (paths.shared '{}' + result.json base_model '{}'); "
              "set paths.shared=DIR (or PTLAB_SHARED) to the shared folder, or give --model DIR",
              dir, shared.as<std::string>(), golden.base_model);
  return dir;
}

void print_diffs(const char* title, const std::vector<TensorDiff>& diffs) {
  std::size_t width = 0;
  for (const TensorDiff& d : diffs) width = std::max(width, d.name.size());
  std::printf("\n%-*s  %-10s  %-10s\n", static_cast<int>(width + 2), title, "max |diff|", "tolerance");
  for (const TensorDiff& d : diffs) {
    std::printf("  %-*s  %-10.3e  %-10.3e  %s\n", static_cast<int>(width), d.name.c_str(), d.max_abs_diff, d.tolerance,
                d.ok() ? "ok" : "FAIL");
  }
}

void print_report(const ParityReport& r) {
  std::printf("PEFT %s (%s) replayed by %s\n", r.golden.peft_method.c_str(), r.golden.flavour.c_str(),
              r.method.c_str());
  std::printf("  golden  %s\n  model   %s\n\n", r.golden.dir.c_str(), r.model_dir.c_str());
  std::printf("%4s  %-14s  %-14s  %-10s\n", "step", "ptlab loss", "PEFT loss", "rel error");
  for (std::size_t step = 0; step < r.losses.size(); ++step) {
    const StepLoss& l = r.losses[step];
    std::printf("%4zu  %-14.9f  %-14.9f  %-10.3e  %s\n", step, l.ptlab, l.peft, l.relative_error,
                l.ok() ? "ok" : "FAIL");
  }
  print_diffs("step-0 gradients", r.step0_grads);
  if (r.final_state_compared) {
    print_diffs("final parameters", r.final_state);
  } else {
    std::printf("\nfinal parameters: not compared (%zu of the golden's %zu steps run)\n", r.losses.size(),
                r.golden.losses.size());
  }
  std::printf("\nchecks\n");
  for (const ParityCheck& c : r.checks) std::printf("  %-4s  %s\n", c.ok ? "ok" : "FAIL", c.what.c_str());

  std::vector<std::string> failed;
  for (std::size_t step = 0; step < r.losses.size(); ++step) {
    if (!r.losses[step].ok()) failed.push_back("step " + std::to_string(step) + " loss");
  }
  for (const TensorDiff& d : r.step0_grads)
    if (!d.ok()) failed.push_back("gradient " + d.name);
  for (const TensorDiff& d : r.final_state)
    if (!d.ok()) failed.push_back("final " + d.name);
  for (const ParityCheck& c : r.checks)
    if (!c.ok) failed.push_back("check '" + c.what + "'");
  const ParityTolerances& t = r.tolerances;
  if (failed.empty()) {
    std::printf(
        "\nPASS: losses within %.0e relative, gradients within %.0e + %.0e x max |PEFT's|, parameters "
        "within %.0e\n",
        t.loss_relative, t.grad_absolute, t.grad_relative, t.state_absolute);
    return;
  }
  std::string list;
  for (const std::string& f : failed) list += (list.empty() ? "" : ", ") + f;
  std::printf("\nFAIL: %zu beyond tolerance: %s\n", failed.size(), list.c_str());
}

int run_parity(const std::vector<std::string>& args) {
  if (wants_help(args)) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  OptionParser opts("ptlab parity", {}, {"--model", "--steps", "--config-dir"});
  opts.parse(args);
  std::vector<std::string> dirs, overrides;
  for (const std::string& a : opts.positional()) (a.find('=') == std::string::npos ? dirs : overrides).push_back(a);
  PTLAB_CHECK(dirs.size() == 1,
              "ptlab parity: expected one GOLDEN_DIR (a PEFT golden run directory such as "
              "../shared/golden/peft/gpt2/prompt_random), got {}; see ptlab parity --help",
              dirs.size());
  const GoldenRun golden = GoldenRun::read(dirs[0]);
  parity_method_for(golden);  // an unknown method fails before the config is composed

  PTLAB_CHECK(!opts.has("--model") || (overrides.empty() && !opts.has("--config-dir")),
              "ptlab parity: the config ({}) only chooses the default model; with --model it would be ignored, so "
              "give one or the other",
              overrides.empty() ? "--config-dir" : overrides[0]);
  ParityOptions options;
  options.model_dir =
      opts.has("--model")
          ? *opts.get("--model")
          : default_model_dir(golden, opts.get("--config-dir", config::default_config_dir()), overrides);
  if (opts.has("--steps")) options.steps = opts.get_int("--steps", 0);
  const ParityReport report = replay_peft_golden(golden, options);
  print_report(report);
  return report.passed() ? 0 : 1;
}

}  // namespace

void add_parity_command(CommandRegistry& registry) {
  registry.add("parity", "replay a PEFT golden run and compare losses, gradients, parameters: parity GOLDEN_DIR",
               Command{kHelp, run_parity});
}

}  // namespace ptlab::launchers
