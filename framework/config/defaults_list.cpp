#include "framework/config/defaults_list.h"

#include "framework/config/config_file.h"
#include "framework/core/error.h"
#include "framework/core/suggest.h"

#include <algorithm>
#include <filesystem>
#include <optional>
#include <set>

namespace ptlab::config {
namespace {

std::string dots(std::string s) {
  std::replace(s.begin(), s.end(), '/', '.');
  return s;
}

std::string strip_slash(const std::string& s) { return !s.empty() && s[0] == '/' ? s.substr(1) : s; }

std::string dir_part(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash);
}

// Hydra's package arithmetic: join with the parent's package, then anything up to the last `_global_`
// is dropped (it names the root).
std::string combine_packages(const std::string& parent, const std::string& package) {
  std::string ret = parent.empty() ? package : package.empty() ? parent : parent + "." + package;
  auto g = ret.rfind("_global_");
  if (g == std::string::npos) return ret;
  std::size_t from = g + 8 + 1;
  return from >= ret.size() ? std::string() : ret.substr(from);
}

// A `# @package` header is absolute.
std::optional<std::string> absolute_header(const std::optional<std::string>& header) {
  if (!header) return std::nullopt;
  if (header->empty() || *header == "_global_") return std::string("_global_");
  if (header->rfind("_global_.", 0) == 0) return header;
  return "_global_." + *header;
}

// One element of the defaults tree: an entry plus what its parent tells it.
struct Element {
  DefaultsEntry entry;
  std::string parent_base_dir;
  std::string parent_package;
  bool external_append = false;
  bool primary = false;
  std::optional<std::string> header;  // set once the file is loaded
  std::string option_source;          // where the option came from (entry or override)

  bool is_group() const { return entry.kind == DefaultsEntry::Kind::kGroup; }

  std::string group_path() const {
    if (is_group()) {
      bool absolute = !entry.name.empty() && entry.name[0] == '/';
      std::string group = strip_slash(entry.name);
      if (absolute || external_append || parent_base_dir.empty()) return group;
      return parent_base_dir + "/" + group;
    }
    bool absolute = !entry.name.empty() && entry.name[0] == '/';
    std::string group = dir_part(strip_slash(entry.name));
    if (absolute || parent_base_dir.empty()) return group;
    return group.empty() ? parent_base_dir : parent_base_dir + "/" + group;
  }

  std::string config_path() const {
    if (is_group()) return group_path() + "/" + entry.option.value_or("");
    bool absolute = !entry.name.empty() && entry.name[0] == '/';
    std::string path = strip_slash(entry.name);
    if (absolute || parent_base_dir.empty()) return path;
    return parent_base_dir + "/" + path;
  }

  std::string relative_group_path() const {
    return is_group() ? strip_slash(entry.name) : dir_part(strip_slash(entry.name));
  }

  std::string final_package(bool use_header = true) const {
    std::optional<std::string> package = entry.package;
    if (package && *package == "_here_") package = std::string();
    if (!package && use_header) package = header;
    std::string pkg = package ? *package : dots(relative_group_path());
    return combine_packages(external_append ? "" : parent_package, pkg);
  }

  // The key command-line choices and `override` entries use: the group path, plus "@package" when the
  // entry is not at its default package.
  std::string override_key() const {
    std::string key = group_path();
    std::string final_pkg = final_package(false);
    if (final_pkg != dots(key)) key += "@" + (final_pkg.empty() ? std::string("_global_") : final_pkg);
    return key;
  }
};

class Builder {
 public:
  Builder(std::string config_dir, const std::vector<Override>& overrides) : dir_(std::move(config_dir)) {
    for (const auto& ov : overrides) {
      std::string key = ov.key + (ov.package ? "@" + *ov.package : "");
      const YAML::Node& node = ov.value.element.node;
      bool name_value = ov.has_value && node.IsScalar();
      if (ov.type == OverrideType::kDelete) {
        PTLAB_CHECK(!ov.has_value || name_value, "{}: a config group deletion takes an option name (~{}=<option>)",
                    ov.origin(), key);
        deletions_[key] =
            Deletion{ov.has_value ? std::optional<std::string>(node.Scalar()) : std::nullopt, ov.origin()};
        continue;
      }
      PTLAB_CHECK(ov.type != OverrideType::kForceAdd,
                  "{}: ++ (force-add) is not supported for config groups; use {}={} to change the choice or +{}={} "
                  "to add the group",
                  ov.origin(), key, ov.value.text, key, ov.value.text);
      PTLAB_CHECK(name_value && !node.Scalar().empty(),
                  "{}: config group '{}' takes one option name (options: {}); use ~{} to remove the group", ov.origin(),
                  ov.key, join_names(group_options(dir_, ov.key)), key);
      if (ov.type == OverrideType::kAdd) {
        Element e;
        e.entry.kind = DefaultsEntry::Kind::kGroup;
        e.entry.name = ov.key;
        e.entry.package = ov.package;
        e.entry.option = node.Scalar();
        e.entry.source = ov.origin();
        e.external_append = true;
        appends_.push_back(e);
      } else {
        overrides_[key] = Choice{node.Scalar(), ov.origin(), true, "", ov.input};
      }
    }
  }

  DefaultsList build(const std::string& primary) {
    std::error_code ec;
    bool any = false;
    for (const auto& dir : search_path(dir_)) any = any || std::filesystem::is_directory(dir, ec);
    PTLAB_CHECK(any, "config directory '{}' does not exist (set $PTLAB_CONFIG_DIR or pass --config-dir)", dir_);
    Element root;
    root.entry.kind = DefaultsEntry::Kind::kConfig;
    root.entry.name = primary;
    root.primary = true;
    PTLAB_CHECK(config_exists(dir_, primary), "primary config '{}' not found", config_file_path(dir_, primary));
    out_.items = expand(root, true);
    ensure_overrides_used();
    ensure_deletions_used();
    return std::move(out_);
  }

 private:
  struct Choice {
    std::optional<std::string> option;
    std::string source;  // "override 'model=x'" or the file:line of the `override` entry
    bool external = false;
    std::string containing_file;
    std::string text;  // the override as written, for messages
    bool used = false;
  };
  struct Deletion {
    std::optional<std::string> option;
    std::string source;
    bool used = false;
  };

  std::vector<MergeItem> expand(Element& node, bool is_root) {
    if (node.is_group()) {
      std::string key = node.override_key();
      auto del = deletions_.find(key);
      if (del != deletions_.end() && (!del->second.option || del->second.option == node.entry.option)) {
        del->second.used = true;
        return {};
      }
      set_known_choice(node, key);
      if (!node.entry.option) return {};  // `group: null`
      if (*node.entry.option == "???") {
        std::string group = node.group_path();
        PTLAB_FAIL("no option chosen for config group '{}' ({}); pick one with {}=<option>; options: {}", group,
                   node.option_source, key, join_names(group_options(dir_, group)));
      }
    }
    std::string path = node.config_path();
    if (!config_exists(dir_, path)) {
      if (node.entry.optional) return {};
      not_found(node);
    }
    ConfigFile file = load_config_file(dir_, path);
    node.header = absolute_header(file.package_header);
    if (node.is_group()) out_.choices[node.override_key()] = *node.entry.option;

    PTLAB_CHECK(std::find(stack_.begin(), stack_.end(), path) == stack_.end(),
                "the defaults lists include each other in a cycle: {} -> {}", join_names(stack_, " -> "), path);

    std::vector<Element> defaults;
    for (const auto& entry : file.defaults) {
      Element e;
      e.entry = entry;
      e.option_source = "in " + entry.source;
      defaults.push_back(std::move(e));
    }
    if (!defaults.empty() || (is_root && !appends_.empty())) add_self(defaults, file.path);
    if (is_root) defaults.insert(defaults.end(), appends_.begin(), appends_.end());

    const std::string base_dir = node.group_path();
    const std::string package = node.final_package();
    for (auto& d : defaults) {
      d.parent_base_dir = base_dir;
      d.parent_package = package;
    }
    register_overrides(defaults, file.path);

    stack_.push_back(path);
    std::vector<std::vector<MergeItem>> children;
    for (auto it = defaults.rbegin(); it != defaults.rend(); ++it) {
      Element& d = *it;
      if (d.entry.kind == DefaultsEntry::Kind::kSelf) {
        children.push_back({MergeItem{file.content, package, file.path}});
        continue;
      }
      if (d.entry.is_override) continue;
      if (d.is_group()) {
        if (d.external_append) d.option_source = "from " + d.entry.source;
        auto ov = overrides_.find(d.override_key());
        if (ov != overrides_.end()) {
          d.entry.option = ov->second.option;
          d.option_source = (ov->second.external ? "from " : "in ") + ov->second.source;
          ov->second.used = true;
        }
      }
      children.push_back(expand(d, false));
    }
    stack_.pop_back();
    if (children.empty()) return {MergeItem{file.content, package, file.path}};  // no list: the file alone
    std::vector<MergeItem> items;
    for (auto it = children.rbegin(); it != children.rend(); ++it) items.insert(items.end(), it->begin(), it->end());
    return items;
  }

  static void add_self(std::vector<Element>& defaults, const std::string& file) {
    int selves = 0;
    bool has_non_override = false;
    for (const auto& d : defaults) {
      if (d.entry.kind == DefaultsEntry::Kind::kSelf) ++selves;
      if (!d.entry.is_override) has_non_override = true;
    }
    PTLAB_CHECK(selves <= 1, "{}: _self_ appears {} times in the defaults list; list it once", file, selves);
    if (selves == 0 && (has_non_override || defaults.empty())) {
      Element self;
      self.entry.kind = DefaultsEntry::Kind::kSelf;
      defaults.push_back(self);
    }
  }

  void register_overrides(const std::vector<Element>& defaults, const std::string& file) {
    const Element* last_override = nullptr;
    for (const auto& d : defaults) {
      if (d.entry.kind == DefaultsEntry::Kind::kSelf) continue;
      if (last_override && !d.entry.is_override && !d.external_append) {
        PTLAB_FAIL(
            "{}: 'override {}: {}' comes before '{}'; override entries must come at the end of the defaults "
            "list",
            last_override->entry.source, last_override->entry.name, last_override->entry.option.value_or("null"),
            d.entry.name);
      }
      if (!d.is_group() || !d.entry.is_override) continue;
      last_override = &d;
      std::string key = d.override_key();
      if (!overrides_.count(key)) {
        overrides_[key] = Choice{d.entry.option, d.entry.source, false, file,
                                 "override " + d.entry.name + ": " + d.entry.option.value_or("null")};
      }
    }
  }

  void set_known_choice(const Element& node, const std::string& key) {
    auto [it, inserted] = known_.emplace(key, node);
    known_per_group_[node.group_path()].insert(key);
    if (inserted) return;
    const Element& first = it->second;
    const Element& later = node;  // expanded after `first`, i.e. listed before it
    const Element& appended = first.external_append ? first : later;
    const Element& other = first.external_append ? later : first;
    if (appended.external_append && !other.external_append) {
      PTLAB_FAIL("{}: config group '{}' is already in the defaults list ({}: {}); use {}={} to change the choice",
                 appended.entry.source, key, other.entry.source, other.entry.option.value_or("null"), key,
                 appended.entry.option.value_or("null"));
    }
    PTLAB_FAIL(
        "config group '{}' is listed twice in the defaults lists ({} and {}); to change an earlier choice, "
        "write 'override {}: {}'",
        key, later.entry.source, first.entry.source, key, first.entry.option.value_or("null"));
  }

  [[noreturn]] void not_found(const Element& node) const {
    if (!node.is_group()) {
      PTLAB_FAIL("config '{}' not found: {} does not exist (listed {})", node.config_path(),
                 config_file_path(dir_, node.config_path()), "in " + node.entry.source);
    }
    std::string group = node.group_path();
    std::string option = *node.entry.option;
    if (!group_exists(dir_, group)) {
      PTLAB_FAIL("config group '{}' does not exist: no directory {}/{} ({})", group, dir_, group, node.option_source);
    }
    auto options = group_options(dir_, group);
    auto close = closest_names(option, options, 1);
    std::string hint = close.empty() ? "" : fmt::format("; did you mean {}={}?", group, close[0]);
    PTLAB_FAIL("unknown option '{}' for group '{}' ({}){} options: {}", option, group, node.option_source,
               hint.empty() ? ";" : hint, join_names(options));
  }

  void ensure_overrides_used() const {
    for (const auto& [key, choice] : overrides_) {
      if (choice.used) continue;
      std::string group = key.substr(0, key.find('@'));
      std::vector<std::string> alternatives;
      auto known = known_per_group_.find(group);
      if (known != known_per_group_.end()) alternatives.assign(known->second.begin(), known->second.end());
      std::string hint =
          alternatives.empty() ? "" : "; did you mean to override " + join_names(alternatives, " or ") + "?";
      if (choice.external) {
        PTLAB_FAIL("override '{}': config group '{}' is not in the defaults list{}; to add it use +{}={}", choice.text,
                   key, hint, key, choice.option.value_or("null"));
      }
      PTLAB_FAIL("{}: '{}' matches no entry of the defaults list{}", choice.source, choice.text, hint);
    }
  }

  void ensure_deletions_used() const {
    for (const auto& [key, del] : deletions_) {
      if (del.used) continue;
      auto known = known_.find(key);
      if (known != known_.end() && del.option) {
        PTLAB_FAIL("{}: config group '{}' has option '{}', not '{}'; use ~{} to remove it whatever its option",
                   del.source, key, known->second.entry.option.value_or("null"), *del.option, key);
      }
      PTLAB_FAIL("{}: config group '{}' is not in the defaults list, so there is nothing to delete", del.source, key);
    }
  }

  std::string dir_;
  std::map<std::string, Choice> overrides_;
  std::map<std::string, Deletion> deletions_;
  std::vector<Element> appends_;
  std::map<std::string, Element> known_;
  std::map<std::string, std::set<std::string>> known_per_group_;
  std::vector<std::string> stack_;
  DefaultsList out_;
};

}  // namespace

DefaultsList build_defaults_list(const std::string& config_dir, const std::string& primary,
                                 const std::vector<Override>& group_overrides) {
  return Builder(config_dir, group_overrides).build(primary);
}

}  // namespace ptlab::config
