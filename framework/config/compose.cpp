#include "framework/config/compose.h"

#include "framework/config/config_file.h"
#include "framework/config/defaults_list.h"
#include "framework/config/interpolate.h"
#include "framework/config/override.h"
#include "framework/config/tree.h"
#include "framework/config/yaml_value.h"
#include "framework/core/error.h"
#include "framework/core/suggest.h"

#include <filesystem>
#include <cstdlib>

namespace ptlab::config {
namespace fs = std::filesystem;
namespace {

// "; did you mean trainer.lr?" with the closest existing key paths, or "".
std::string closest_keys_hint(const YAML::Node& root, const std::string& key) {
  auto close = similar_key_paths(root, key);
  return close.empty() ? "" : "; did you mean " + join_names(close, " or ") + "?";
}

// Merges `item` into root at its package, creating the package's mappings.
void merge_item(YAML::Node& root, const MergeItem& item, Origins& origins) {
  if (item.package.empty()) {
    merge_node(root, item.content, "", origins, item.origin);
    return;
  }
  auto parts = split_key_path(item.package);
  YAML::Node target = find_node(root, parts);
  if (!target.IsMap()) {
    set_node(root, parts, YAML::Node(YAML::NodeType::Map));
    target.reset(find_node(root, parts));
  }
  std::string path;
  for (const auto& p : parts) {
    path = child_key_path(path, p);
    if (origins.of(path).empty() || path == item.package) origins.set(path, item.origin);
  }
  merge_node(target, item.content, item.package, origins, item.origin);
}

void apply_value_override(YAML::Node& root, Origins& origins, const Override& ov) {
  PTLAB_CHECK(!ov.package, "{}: '{}@{}' looks like a config group override, but there is no config group '{}'",
              ov.origin(), ov.key, *ov.package, ov.key);
  auto parts = split_key_path(ov.key);
  PTLAB_CHECK(!parts.empty(), "{}: empty key", ov.origin());
  YAML::Node existing = find_node(root, parts);
  const YAML::Node& value = ov.value.element.node;
  const std::string origin = ov.origin();
  auto assign = [&] {
    if (existing.IsDefined() && existing.IsMap() && value.IsMap()) {
      merge_node(existing, value, ov.key, origins, origin);  // dicts merge, they are not assigned
      origins.set(ov.key, origin);
    } else {
      std::string path = set_node(root, parts, value);
      origins.erase_subtree(path);
      origins.set_subtree(path, value, origin);
    }
  };
  switch (ov.type) {
    case OverrideType::kChange:
      PTLAB_CHECK(existing.IsDefined(), "{}: key '{}' is not in the config{}; to add it use +{}", origin, ov.key,
                  closest_keys_hint(root, ov.key), ov.input);
      assign();
      return;
    case OverrideType::kAdd:
      PTLAB_CHECK(!existing.IsDefined() || existing.IsNull() || value.IsMap() || value.IsSequence(),
                  "{}: key '{}' already exists (= {}{}); to change it use {} (or ++{} to add or change)", origin,
                  ov.key, describe(existing), origins.from(ov.key), ov.input.substr(1), ov.input.substr(1));
      assign();
      return;
    case OverrideType::kForceAdd:
      assign();
      return;
    case OverrideType::kDelete: {
      PTLAB_CHECK(existing.IsDefined(), "{}: key '{}' is not in the config, so there is nothing to delete{}", origin,
                  ov.key, closest_keys_hint(root, ov.key));
      if (ov.has_value) {
        PTLAB_CHECK(same_value(existing, value), "{}: not deleting '{}': its value is {}{}, not {}", origin, ov.key,
                    describe(existing), origins.from(ov.key), describe(value));
      }
      remove_node(root, parts);
      origins.erase_subtree(ov.key);
      return;
    }
  }
}

}  // namespace

std::string builtin_config_dir() {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    // Installed: <prefix>/bin/ptlab next to <prefix>/share/ptlab/configs.
    const fs::path installed = exe.parent_path().parent_path() / "share" / "ptlab" / "configs";
    if (fs::is_regular_file(installed / "config.yaml", ec)) return installed.string();
  }
#ifdef PTLAB_SOURCE_CONFIG_DIR
  // A build tree: the configs of the sources it was built from.
  if (fs::is_regular_file(fs::path(PTLAB_SOURCE_CONFIG_DIR) / "config.yaml", ec)) return PTLAB_SOURCE_CONFIG_DIR;
#endif
  return "";
}

std::string default_config_dir() {
  const char* env = std::getenv("PTLAB_CONFIG_DIR");
  if (env && *env) return env;
  std::error_code ec;
  const std::string builtin = builtin_config_dir();
  const bool local = fs::is_directory("configs", ec);
  if (builtin.empty()) return "configs";
  if (!local || fs::equivalent("configs", builtin, ec)) return builtin;
  return "configs:" + builtin;  // the working directory's configs overlay the built-in ones
}

Composed compose(const ComposeOptions& options, const std::vector<std::string>& overrides, bool resolve) {
  Composed out;
  out.overrides = overrides;
  std::vector<Override> group_overrides, value_overrides;
  for (const auto& text : overrides) {
    Override ov = parse_override(text);
    PTLAB_CHECK(!ov.is_sweep(), "{} is a sweep; sweeps need -m/--multirun (each trial then gets one value)",
                ov.origin());
    bool dict_value = ov.has_value && ov.value.element.node.IsMap();
    if (!dict_value && group_exists(options.config_dir, ov.key)) {
      group_overrides.push_back(std::move(ov));
    } else {
      value_overrides.push_back(std::move(ov));
    }
  }

  DefaultsList defaults = build_defaults_list(options.config_dir, options.primary, group_overrides);
  out.choices = std::move(defaults.choices);
  out.root = YAML::Node(YAML::NodeType::Map);
  for (const auto& item : defaults.items) merge_item(out.root, item, out.origins);
  for (const auto& ov : value_overrides) apply_value_override(out.root, out.origins, ov);
  if (resolve) {
    resolve_interpolations(out.root, out.origins);
    check_no_missing(out.root, out.origins);
  }
  return out;
}

}  // namespace ptlab::config
