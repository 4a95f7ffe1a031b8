#include "framework/config/origins.h"

namespace ptlab::config {

std::string parent_key_path(const std::string& key_path) {
  if (!key_path.empty() && key_path.back() == ']') {
    auto open = key_path.rfind('[');
    if (open != std::string::npos) return key_path.substr(0, open);
  }
  auto dot = key_path.rfind('.');
  return dot == std::string::npos ? std::string() : key_path.substr(0, dot);
}

std::string child_key_path(const std::string& parent, const std::string& key) {
  return parent.empty() ? key : parent + "." + key;
}

std::string item_key_path(const std::string& parent, std::size_t index) {
  return parent + "[" + std::to_string(index) + "]";
}

void Origins::set(const std::string& key_path, std::string origin) { origins_[key_path] = std::move(origin); }

void Origins::set_subtree(const std::string& key_path, const YAML::Node& node, const std::string& origin) {
  set(key_path, origin);
  if (node.IsMap()) {
    for (auto it = node.begin(); it != node.end(); ++it) {
      if (it->first.IsScalar()) set_subtree(child_key_path(key_path, it->first.Scalar()), it->second, origin);
    }
  } else if (node.IsSequence()) {
    for (std::size_t i = 0; i < node.size(); ++i) set_subtree(item_key_path(key_path, i), node[i], origin);
  }
}

void Origins::erase_subtree(const std::string& key_path) {
  if (key_path.empty()) {
    origins_.clear();
    return;
  }
  origins_.erase(key_path);
  // Children sort right after "key_path." and "key_path[".
  for (const char* sep : {".", "["}) {
    std::string prefix = key_path + sep;
    for (auto it = origins_.lower_bound(prefix);
         it != origins_.end() && it->first.compare(0, prefix.size(), prefix) == 0;)
      it = origins_.erase(it);
  }
}

std::string Origins::of(const std::string& key_path) const {
  std::string path = key_path;
  while (true) {
    auto it = origins_.find(path);
    if (it != origins_.end()) return it->second;
    if (path.empty()) return "";
    path = parent_key_path(path);
  }
}

std::string Origins::from(const std::string& key_path) const {
  std::string origin = of(key_path);
  return origin.empty() ? std::string() : " (from " + origin + ")";
}

}  // namespace ptlab::config
