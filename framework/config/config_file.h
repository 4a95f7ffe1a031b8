// One config file of a config directory: its `# @package` header, its defaults list and its content.
//
// Layout (Hydra's): <config_dir>/<name>.yaml for plain configs and the primary config, and
// <config_dir>/<group>/<option>.yaml for the options of a config group (groups may nest:
// "server/db/mysql"). A config path names a file without ".yaml", relative to the config directory.
//
// Defaults-list entries (Hydra 1.3 grammar):
//   - _self_                       where this file's own content goes (default: last)
//   - other_config / - db/mysql    a plain config, relative to this file's group ("/x" is absolute)
//   - group: option                a group default; `null` leaves the group empty, `???` demands a choice
//   - group@pkg: option            ... placed at package `pkg` (relative to this file's package)
//   - optional group: option       no error when the option's file does not exist
//   - override group: option       changes an earlier choice of `group` (must come last in the list)
#pragma once

#include <yaml-cpp/yaml.h>

#include <optional>
#include <string>
#include <vector>

namespace ptlab::config {

/// One entry of a defaults list, as written (paths not yet made absolute).
struct DefaultsEntry {
  enum class Kind { kSelf, kConfig, kGroup };
  Kind kind = Kind::kSelf;
  /// kConfig: the config path as written ("other", "db/mysql", "/db/mysql"); kGroup: the group as
  /// written ("model", "/model", "server/db").
  std::string name;
  /// The explicit "@package", when given.
  std::optional<std::string> package;
  /// kGroup: the chosen option; nullopt for `null`; "???" when the user must choose.
  std::optional<std::string> option;
  bool optional = false;
  bool is_override = false;
  /// Where the entry was written, for messages ("configs/config.yaml:4" or "override '+experiment=x'").
  std::string source;
};

struct ConfigFile {
  /// The file as shown to users: "<config_dir>/<config path>.yaml".
  std::string path;
  /// The package from a "# @package <pkg>" line in the leading comment block, if any.
  std::optional<std::string> package_header;
  std::vector<DefaultsEntry> defaults;
  /// The file's mapping without its `defaults` key (an empty mapping for an empty file).
  YAML::Node content;
};

// A `config_dir` is a search path (Hydra's): one directory, or several separated by ':' searched in order,
// e.g. "./configs:/opt/ptlab/share/ptlab/configs" — a user's folder overlays the built-in configs file by
// file (their task/mrpc.yaml joins the task group; their config.yaml, if any, replaces the primary).

/// The directories of a search path, in order (one "" for an empty path).
std::vector<std::string> search_path(const std::string& config_dir);

/// "<dir>/<config_path>.yaml" of the first directory that has the file (of the first directory when none has).
std::string config_file_path(const std::string& config_dir, const std::string& config_path);

/// Whether some directory of the search path has "<config_path>.yaml".
bool config_exists(const std::string& config_dir, const std::string& config_path);

/// Whether some directory of the search path has "<group>/" (a config group).
bool group_exists(const std::string& config_dir, const std::string& group);

/// The options of a config group over the whole search path: .yaml files without the extension, sorted,
/// each name once. Empty when the group does not exist.
std::vector<std::string> group_options(const std::string& config_dir, const std::string& group);

/// Reads and parses one config file. Errors name the file and, for bad YAML, the line:column; duplicate
/// keys, a non-mapping top level and malformed defaults entries are errors too.
ConfigFile load_config_file(const std::string& config_dir, const std::string& config_path);

}  // namespace ptlab::config
