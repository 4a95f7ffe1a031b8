#include "framework/config/config_file.h"

#include "framework/config/yaml_value.h"
#include "framework/core/error.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace ptlab::config {
namespace fs = std::filesystem;
namespace {

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  auto e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

// The "# @package X" header: Hydra reads `# @key value` lines from the leading comment block.
std::optional<std::string> read_package_header(const std::string& text) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    line = trim(line);
    if (line.empty()) continue;
    if (line[0] != '#') break;
    line = trim(line.substr(1));
    if (line.rfind("@package", 0) == 0 && (line.size() == 8 || line[8] == ' ' || line[8] == '\t' || line[8] == ':')) {
      return trim(line.substr(line.size() > 8 && line[8] == ':' ? 9 : 8));  // Hydra 1.0 wrote "@package: x"
    }
  }
  return std::nullopt;
}

std::string where(const std::string& path, const YAML::Node& node) {
  auto mark = node.Mark();
  if (mark.is_null()) return path;
  return path + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
}

void check_duplicate_keys(const YAML::Node& node, const std::string& path) {
  if (node.IsMap()) {
    std::set<std::string> seen;
    for (auto it = node.begin(); it != node.end(); ++it) {
      if (it->first.IsScalar()) {
        PTLAB_CHECK(seen.insert(it->first.Scalar()).second,
                    "{}: duplicate key '{}'; each key may appear once per mapping", where(path, it->first),
                    it->first.Scalar());
      }
      check_duplicate_keys(it->second, path);
    }
  } else if (node.IsSequence()) {
    for (const auto& item : node) check_duplicate_keys(item, path);
  }
}

// "name@pkg" -> name, package.
void split_package(const std::string& text, std::string& name, std::optional<std::string>& package) {
  auto at = text.find('@');
  name = text.substr(0, at);
  if (at != std::string::npos) package = text.substr(at + 1);
}

DefaultsEntry parse_entry(const YAML::Node& item, const std::string& path) {
  DefaultsEntry entry;
  entry.source = where(path, item);
  const std::string hint =
      "entries look like '- group: option', '- optional group: option', '- override group: option', "
      "'- config_name' or '- _self_'";
  if (item.IsScalar()) {
    std::string text = trim(item.Scalar());
    PTLAB_CHECK(!text.empty(), "{}: empty defaults entry; {}", entry.source, hint);
    if (text == "_self_") return entry;
    entry.kind = DefaultsEntry::Kind::kConfig;
    split_package(text, entry.name, entry.package);
    PTLAB_CHECK(!entry.name.empty() && entry.name != "/", "{}: bad defaults entry '{}'; {}", entry.source, text, hint);
    return entry;
  }
  PTLAB_CHECK(item.IsMap() && item.size() == 1, "{}: bad defaults entry '{}'; {}", entry.source, describe(item), hint);
  auto it = item.begin();
  PTLAB_CHECK(it->first.IsScalar(), "{}: bad defaults entry '{}'; {}", entry.source, describe(item), hint);
  entry.kind = DefaultsEntry::Kind::kGroup;
  // The key: [optional] [override] group[@pkg]
  std::istringstream words(it->first.Scalar());
  std::vector<std::string> tokens;
  for (std::string w; words >> w;) tokens.push_back(w);
  PTLAB_CHECK(!tokens.empty(), "{}: empty group name in the defaults list; {}", entry.source, hint);
  for (std::size_t i = 0; i + 1 < tokens.size(); ++i) {
    if (tokens[i] == "optional") {
      entry.optional = true;
    } else if (tokens[i] == "override") {
      entry.is_override = true;
    } else {
      PTLAB_FAIL(
          "{}: bad defaults entry key '{}': '{}' is no keyword (only 'optional' and 'override' may come "
          "before the group)",
          entry.source, it->first.Scalar(), tokens[i]);
    }
  }
  split_package(tokens.back(), entry.name, entry.package);
  PTLAB_CHECK(!entry.name.empty() && entry.name != "/", "{}: bad defaults entry key '{}'; {}", entry.source,
              it->first.Scalar(), hint);
  const YAML::Node value = it->second;
  if (value.IsNull()) {
    entry.option = std::nullopt;
  } else if (value.IsScalar()) {
    entry.option = trim(value.Scalar());
    PTLAB_CHECK(!entry.option->empty(), "{}: empty option for group '{}'", entry.source, entry.name);
  } else {
    PTLAB_FAIL(
        "{}: the option of group '{}' must be one config name or null (got {}); lists of options are not "
        "supported",
        entry.source, entry.name, describe(value));
  }
  return entry;
}

}  // namespace

std::vector<std::string> search_path(const std::string& config_dir) {
  std::vector<std::string> dirs;
  std::size_t start = 0;
  while (start <= config_dir.size()) {
    std::size_t end = config_dir.find(':', start);
    if (end == std::string::npos) end = config_dir.size();
    if (end > start) dirs.push_back(config_dir.substr(start, end - start));
    start = end + 1;
  }
  if (dirs.empty()) dirs.push_back("");
  return dirs;
}

namespace {

std::string file_in(const std::string& dir, const std::string& config_path) {
  if (dir.empty()) return config_path + ".yaml";
  if (dir.back() == '/') return dir + config_path + ".yaml";
  return dir + "/" + config_path + ".yaml";
}

}  // namespace

std::string config_file_path(const std::string& config_dir, const std::string& config_path) {
  const auto dirs = search_path(config_dir);
  std::error_code ec;
  for (const auto& dir : dirs) {
    std::string path = file_in(dir, config_path);
    if (fs::is_regular_file(path, ec)) return path;
  }
  return file_in(dirs.front(), config_path);  // none has it: name it where the first directory would hold it
}

bool config_exists(const std::string& config_dir, const std::string& config_path) {
  std::error_code ec;
  return fs::is_regular_file(config_file_path(config_dir, config_path), ec);
}

bool group_exists(const std::string& config_dir, const std::string& group) {
  if (group.empty() || group.find("..") != std::string::npos) return false;
  std::error_code ec;
  for (const auto& dir : search_path(config_dir)) {
    if (fs::is_directory(fs::path(dir) / group, ec)) return true;
  }
  return false;
}

std::vector<std::string> group_options(const std::string& config_dir, const std::string& group) {
  std::vector<std::string> options;
  if (!group_exists(config_dir, group)) return options;
  std::error_code ec;
  for (const auto& dir : search_path(config_dir)) {
    if (!fs::is_directory(fs::path(dir) / group, ec)) continue;
    for (const auto& entry : fs::directory_iterator(fs::path(dir) / group, ec)) {
      if (entry.is_regular_file(ec) && entry.path().extension() == ".yaml")
        options.push_back(entry.path().stem().string());
    }
  }
  std::sort(options.begin(), options.end());
  options.erase(std::unique(options.begin(), options.end()), options.end());
  return options;
}

ConfigFile load_config_file(const std::string& config_dir, const std::string& config_path) {
  ConfigFile file;
  file.path = config_file_path(config_dir, config_path);
  std::ifstream in(file.path, std::ios::binary);
  PTLAB_CHECK(in.good(), "cannot read config file '{}'", file.path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string text = buffer.str();
  file.package_header = read_package_header(text);

  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    PTLAB_FAIL("{}:{}:{}: bad YAML: {}", file.path, e.mark.line + 1, e.mark.column + 1, e.msg);
  } catch (const YAML::Exception& e) {
    PTLAB_FAIL("{}: bad YAML: {}", file.path, e.what());
  }
  if (!root.IsDefined() || root.IsNull()) {
    file.content = YAML::Node(YAML::NodeType::Map);
    return file;
  }
  PTLAB_CHECK(root.IsMap(), "{}: a config file must hold a mapping (key: value lines) at the top level, not {}",
              file.path, kind_name(root));
  check_duplicate_keys(root, file.path);

  file.content = YAML::Node(YAML::NodeType::Map);
  for (auto it = root.begin(); it != root.end(); ++it) {
    if (it->first.IsScalar() && it->first.Scalar() == "defaults") {
      const YAML::Node list = it->second;
      if (list.IsNull()) continue;
      PTLAB_CHECK(list.IsSequence(), "{}: 'defaults' must be a list (- group: option lines), not {}",
                  where(file.path, list), kind_name(list));
      for (const auto& item : list) file.defaults.push_back(parse_entry(item, file.path));
    } else {
      file.content[it->first] = it->second;  // root is private to this function: no aliasing outside it
    }
  }
  return file;
}

}  // namespace ptlab::config
