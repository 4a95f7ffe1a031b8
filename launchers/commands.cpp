#include "launchers/command.h"

#include <algorithm>
#include <mutex>

namespace ptlab::launchers {

const CommandRegistry& commands() {
  static CommandRegistry registry("command");
  static std::once_flag once;
  std::call_once(once, [] {
  });
  return registry;
}

bool wants_help(const std::vector<std::string>& args) {
  return std::any_of(args.begin(), args.end(), [](const std::string& a) { return a == "-h" || a == "--help"; });
}

}  // namespace ptlab::launchers
