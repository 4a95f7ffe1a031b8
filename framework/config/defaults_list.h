// The defaults list: which config files make up the composed config, where each one lands, and in what
// order they merge (Hydra 1.3's algorithm, without Hydra's own `hydra/` configs).
//
// Starting from the primary config, every defaults list is expanded depth first. Entries are visited
// from last to first, so an `override` in a later entry's subtree (the experiment pattern:
// `+experiment=x` whose file says `override /model: big`) is known before the entry it overrides is
// expanded; command-line choices (`model=big`) beat every `override` entry, and among `override` entries
// the last in depth-first order wins. `_self_` is added last to a list that lacks it. `+group=opt`
// appends to the primary's list (after its `_self_`); `~group` removes an entry.
//
// Packages: a group option lands at its group path ("server/db" -> "server.db") relative to the package
// of the config that lists it; `group@pkg` overrides that; a `# @package x` header is absolute and
// `_global_` is the root.
#pragma once

#include "framework/config/override.h"

#include <yaml-cpp/yaml.h>

#include <map>
#include <string>
#include <vector>

namespace ptlab::config {

/// One config to merge: its content (without `defaults`), the package it lands at ("" = root) and the
/// file it came from.
struct MergeItem {
  YAML::Node content;
  std::string package;
  std::string origin;
};

struct DefaultsList {
  std::vector<MergeItem> items;  // in merge order: later items win
  /// Group (or "group@package" when placed away from its default package) -> chosen option.
  std::map<std::string, std::string> choices;
};

/// Expands the defaults list of `<config_dir>/<primary>.yaml`. `group_overrides` are the command-line
/// overrides whose key is a config group (`group=opt`, `+group=opt`, `~group`, `~group=opt`), with
/// plain (non-sweep) values. Every problem is an Error naming the file or override and, for an unknown
/// option, the closest options and all of them.
DefaultsList build_defaults_list(const std::string& config_dir, const std::string& primary,
                                 const std::vector<Override>& group_overrides);

}  // namespace ptlab::config
