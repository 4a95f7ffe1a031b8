// The `ptlab <command>` table. Each command lives in its own file under launchers/ and is added to the
// registry by register_builtin_commands() (launchers/commands.cpp) — one line per command.
#pragma once

#include "framework/core/registry.h"

#include <functional>
#include <string>
#include <vector>

namespace ptlab::launchers {

struct Command {
  /// Usage and options, printed by `ptlab <command> --help`.
  std::string help;
  /// Runs the command with the arguments after its name; returns the process exit code.
  std::function<int(const std::vector<std::string>& args)> run;
};

using CommandRegistry = Registry<Command>;

/// The commands of this build, registered once.
const CommandRegistry& commands();

/// True when args hold -h or --help (commands print their help and exit 0).
bool wants_help(const std::vector<std::string>& args);

}  // namespace ptlab::launchers
