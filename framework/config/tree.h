// Key paths into a YAML tree: lookup, set, delete and the deep merge of composition.
//
// yaml-cpp nodes are handles with reference semantics: `YAML::Node a = b["x"]` aliases b's entry, and
// assigning to a handle writes through to whatever it refers to. Every function here copies values in
// with YAML::Clone and re-points walking handles with reset(), so a tree never shares a node with its
// inputs: mutating a composed config can never change a config file's content or a later composition.
#pragma once

#include "framework/config/origins.h"

#include <yaml-cpp/yaml.h>

#include <string>
#include <string_view>
#include <vector>

namespace ptlab::config {

/// "a.b.0" and "a.b[0]" -> {"a", "b", "0"}; "" -> {}.
std::vector<std::string> split_key_path(std::string_view path);

/// The node at `parts` below `root` (list items by index), or an undefined node when any step is missing.
/// Never inserts anything.
YAML::Node find_node(const YAML::Node& root, const std::vector<std::string>& parts);

/// Writes a clone of `value` at `parts`, creating mappings on the way (a null or scalar in the way
/// becomes a mapping). A list step must name an existing index. Returns the key path written, in
/// OmegaConf spelling ("a.b[0]"). `parts` must not be empty.
std::string set_node(YAML::Node& root, const std::vector<std::string>& parts, const YAML::Node& value);

/// Removes the entry at `parts`; false when it does not exist.
bool remove_node(YAML::Node& root, const std::vector<std::string>& parts);

/// Merges `src` into the mapping `dst` the way Hydra composes configs: mappings merge key by key
/// (recursively), anything else replaces (lists are replaced, not appended), and a "???" in `src`
/// does not replace a value `dst` already has. Each key path written is recorded in `origins` with
/// `origin`; `path` is dst's own key path.
void merge_node(YAML::Node& dst, const YAML::Node& src, const std::string& path, Origins& origins,
                const std::string& origin);

/// Every key path of the tree (mappings and leaves, list items as "[i]"), in document order.
std::vector<std::string> key_paths(const YAML::Node& node, const std::string& prefix = "");

/// The existing key paths closest to `key_path` (a typo'd key), best first: only paths of the same depth
/// compete, so "trainr.lr" finds "trainer.lr" and "trainer.lrr" does not suggest "trainer".
std::vector<std::string> similar_key_paths(const YAML::Node& root, const std::string& key_path,
                                           std::size_t max_count = 2);

}  // namespace ptlab::config
