#include "launchers/command.h"

#include <algorithm>
#include <mutex>

namespace ptlab::launchers {

void add_tokenize_command(CommandRegistry& registry);
void add_config_command(CommandRegistry& registry);
void add_sweep_command(CommandRegistry& registry);
void add_model_command(CommandRegistry& registry);
void add_generate_command(CommandRegistry& registry);
void add_bench_command(CommandRegistry& registry);
void add_data_command(CommandRegistry& registry);
void add_list_command(CommandRegistry& registry);
void add_demo_command(CommandRegistry& registry);
void add_train_command(CommandRegistry& registry);
void add_report_command(CommandRegistry& registry);
void add_parity_command(CommandRegistry& registry);

const CommandRegistry& commands() {
  static CommandRegistry registry("command");
  static std::once_flag once;
  std::call_once(once, [] {
    add_tokenize_command(registry);
    add_config_command(registry);
    add_sweep_command(registry);
    add_model_command(registry);
    add_generate_command(registry);
    add_bench_command(registry);
    add_data_command(registry);
    add_list_command(registry);
    add_demo_command(registry);
    add_train_command(registry);
    add_report_command(registry);
    add_parity_command(registry);
  });
  return registry;
}

bool wants_help(const std::vector<std::string>& args) {
  return std::any_of(args.begin(), args.end(), [](const std::string& a) { return a == "-h" || a == "--help"; });
}

}  // namespace ptlab::launchers
