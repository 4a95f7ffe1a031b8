// `ptlab list [models|tasks|methods|sweeps|commands]`: what this build registers and what configs/ offers,
// one line each with a description (for configs: the first comment line of the file).
#include "framework/config/compose.h"
#include "framework/config/config_file.h"
#include "framework/core/error.h"
#include "framework/core/suggest.h"
#include "framework/models/loader.h"
#include "launchers/command.h"
#include "launchers/pipeline.h"
#include "methods/method.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace ptlab::launchers {
namespace {

constexpr const char* kHelp =
    "usage: ptlab list [models|tasks|methods|sweeps|commands] [--config-dir DIR]\n"
    "\n"
    "Prints what this build has registered and what the config directory offers, one line each:\n"
    "  models    model families (config.json model_type) and configs/model/*.yaml\n"
    "  tasks     configs/task/*.yaml\n"
    "  methods   soft-prompt methods and baselines registered in this build\n"
    "  sweeps    configs/sweep/*.yaml (use with: ptlab sweep -m sweep=NAME)\n"
    "  commands  the ptlab commands\n"
    "Without a topic, prints all of them.\n";

/// The first `# ...` comment line of a config file, without the '#', or "".
std::string first_comment(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    auto start = line.find_first_not_of(" \t");
    if (start == std::string::npos) continue;
    if (line[start] != '#') return "";
    if (line.compare(start, 9, "# @package") == 0) continue;
    std::string text = line.substr(start + 1);
    auto b = text.find_first_not_of(" \t");
    return b == std::string::npos ? "" : text.substr(b);
  }
  return "";
}

void print_group(const std::string& config_dir, const std::string& group, const std::string& title) {
  auto options = config::group_options(config_dir, group);
  std::printf("%s (%s/%s/):\n", title.c_str(), config_dir.c_str(), group.c_str());
  if (options.empty()) std::printf("  (none)\n");
  for (const auto& o : options)
    std::printf("  %-22s %s\n", o.c_str(), first_comment(config::config_file_path(config_dir, group + "/" + o)).c_str());
}

void list_models(const std::string& config_dir) {
  const auto& families = models::model_families();
  std::printf("model families (config.json model_type):\n");
  for (const auto& name : families.names()) std::printf("  %-22s %s\n", name.c_str(), families.description(name).c_str());
  print_group(config_dir, "model", "model configs");
}

void list_methods(const std::string& config_dir) {
  methods::register_builtin_methods();
  const auto& registry = methods::method_registry();
  std::printf("methods (method.name):\n");
  for (const auto& name : registry.names()) std::printf("  %-22s %s\n", name.c_str(), registry.description(name).c_str());
  launchers::register_builtin_pipelines();
  const auto& pipelines = launchers::pipeline_registry();
  std::printf("pipeline methods (method.name; several trials in one run directory, launchers/pipeline.h):\n");
  for (const auto& name : pipelines.names()) std::printf("  %-22s %s\n", name.c_str(), pipelines.description(name).c_str());
  print_group(config_dir, "method", "method configs");
}

void list_commands() {
  const auto& table = commands();
  std::printf("commands:\n");
  for (const auto& name : table.names()) std::printf("  %-22s %s\n", name.c_str(), table.description(name).c_str());
}

int run_list(const std::vector<std::string>& args) {
  if (wants_help(args)) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  std::string config_dir = config::default_config_dir();
  std::vector<std::string> topics;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--config-dir") {
      PTLAB_CHECK(i + 1 < args.size(), "ptlab list: --config-dir needs a directory");
      config_dir = args[++i];
    } else if (args[i].rfind("--config-dir=", 0) == 0) {
      config_dir = args[i].substr(13);
    } else {
      topics.push_back(args[i]);
    }
  }
  const std::vector<std::string> known = {"models", "tasks", "methods", "sweeps", "commands"};
  if (topics.empty()) topics = known;
  for (const auto& t : topics) {
    PTLAB_CHECK(std::find(known.begin(), known.end(), t) != known.end(), "ptlab list: unknown topic '{}'{}; topics: {}",
                t, did_you_mean(t, known), join_names(known));
  }
  PTLAB_CHECK(config::group_exists(config_dir, "model"),
              "ptlab list: '{}' is not a ptlab config directory (no model/ group); run from the repository root, "
              "set PTLAB_CONFIG_DIR or pass --config-dir",
              config_dir);
  bool first = true;
  for (const auto& t : topics) {
    if (!first) std::printf("\n");
    first = false;
    if (t == "models") list_models(config_dir);
    if (t == "tasks") print_group(config_dir, "task", "tasks");
    if (t == "methods") list_methods(config_dir);
    if (t == "sweeps") print_group(config_dir, "sweep", "sweeps");
    if (t == "commands") list_commands();
  }
  return 0;
}

}  // namespace

void add_list_command(CommandRegistry& registry) {
  registry.add("list", "list model families, tasks, methods, sweeps and commands", Command{kHelp, run_list});
}

}  // namespace ptlab::launchers
