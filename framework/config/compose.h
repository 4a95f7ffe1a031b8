// compose(): one config from a config directory and a list of command-line overrides (Hydra 1.3).
//
//   1. The primary config's defaults list picks one option per config group (see defaults_list.h);
//      group overrides on the command line (`model=gpt2`, `+experiment=x`, `~task`) change it.
//   2. The listed files merge in order into one tree (mappings merge, the last value wins).
//   3. Value overrides apply in the order given (`a.b=v`, `+a.b=v`, `++a.b=v`, `~a.b`), each recorded
//      as the origin of what it sets.
//   4. With resolve=true, every `${...}` is resolved and a remaining `???` is an Error.
// An override whose key is a config group directory is a group override; any other key is a value.
// Sweep values (`a=1,2`, `range(...)`) are an Error here: expand them first with expand_multirun().
#pragma once

#include "framework/config/origins.h"

#include <yaml-cpp/yaml.h>

#include <map>
#include <string>
#include <vector>

namespace ptlab::config {

struct ComposeOptions {
  std::string config_dir;          // e.g. "configs"
  std::string primary = "config";  // <config_dir>/config.yaml
};

struct Composed {
  YAML::Node root;                             // composed (and, if asked, resolved) config
  Origins origins;                             // where every key path came from
  std::map<std::string, std::string> choices;  // group -> chosen option ("method" -> "prompt_tuning")
  std::vector<std::string> overrides;          // the override strings as given
};

/// Composes the config. The result owns its tree: nothing in it aliases another composition.
Composed compose(const ComposeOptions& options, const std::vector<std::string>& overrides, bool resolve = true);

/// ptlab's own configs: <prefix>/share/ptlab/configs next to an installed <prefix>/bin/ptlab, else the
/// source tree's configs/ of a build tree; "" when neither exists.
std::string builtin_config_dir();

/// The config search path the CLI uses by default: $PTLAB_CONFIG_DIR when set; else ./configs (when the
/// working directory has one) followed by the built-in configs, so a user's folder overlays them.
std::string default_config_dir();

}  // namespace ptlab::config
