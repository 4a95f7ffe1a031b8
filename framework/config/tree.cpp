#include "framework/config/tree.h"

#include "framework/config/yaml_value.h"
#include "framework/core/error.h"
#include "framework/core/suggest.h"

namespace ptlab::config {
namespace {

// The list index a key part names, or -1.
long list_index(const YAML::Node& seq, const std::string& part) {
  auto index = parse_int(part);
  if (!index || *index < 0 || std::size_t(*index) >= seq.size() || part.find('_') != std::string::npos) return -1;
  return long(*index);
}

}  // namespace

std::vector<std::string> split_key_path(std::string_view path) {
  std::vector<std::string> parts;
  std::string cur;
  bool have = false;
  for (char c : path) {
    if (c == '.' || c == '[' || c == ']') {
      if (have) parts.push_back(cur);
      cur.clear();
      have = false;
    } else {
      cur += c;
      have = true;
    }
  }
  if (have) parts.push_back(cur);
  return parts;
}

YAML::Node find_node(const YAML::Node& root, const std::vector<std::string>& parts) {
  YAML::Node cur;
  cur.reset(root);
  for (const auto& part : parts) {
    // A missing key yields an invalid "zombie" handle that reset() rejects: copy it, test, then re-point.
    const YAML::Node& container = cur;
    long index = cur.IsSequence() ? list_index(cur, part) : -1;
    if (!cur.IsMap() && index < 0) return YAML::Node(YAML::NodeType::Undefined);
    YAML::Node next = cur.IsMap() ? container[part] : container[std::size_t(index)];
    if (!next.IsDefined()) return YAML::Node(YAML::NodeType::Undefined);
    cur.reset(next);
  }
  return cur;
}

std::string set_node(YAML::Node& root, const std::vector<std::string>& parts, const YAML::Node& value) {
  PTLAB_ASSERT(!parts.empty(), "set_node with an empty key path");
  YAML::Node cur;
  cur.reset(root);
  std::string path;
  for (std::size_t k = 0; k < parts.size(); ++k) {
    const std::string& part = parts[k];
    bool last = k + 1 == parts.size();
    if (cur.IsSequence()) {
      long i = list_index(cur, part);
      PTLAB_CHECK(i >= 0, "cannot set '{}': '{}' is a list of {} items and '{}' is no index in it",
                  child_key_path(path, part), path, cur.size(), part);
      path = item_key_path(path, std::size_t(i));
      if (last) {
        cur[std::size_t(i)] = YAML::Clone(value);
        return path;
      }
      YAML::Node next = cur[std::size_t(i)];
      if (!next.IsMap() && !next.IsSequence()) cur[std::size_t(i)] = YAML::Node(YAML::NodeType::Map);
      next.reset(cur[std::size_t(i)]);
      cur.reset(next);
      continue;
    }
    if (!cur.IsMap()) {
      // A null or a scalar in the way becomes an empty mapping (only reachable for + and ++ overrides).
      cur = YAML::Node(YAML::NodeType::Map);
    }
    path = child_key_path(path, part);
    if (last) {
      cur[part] = YAML::Clone(value);
      return path;
    }
    const YAML::Node& map = cur;
    YAML::Node existing = map[part];
    if (!existing.IsDefined() || (!existing.IsMap() && !existing.IsSequence()))
      cur[part] = YAML::Node(YAML::NodeType::Map);
    YAML::Node next;
    next.reset(cur[part]);
    cur.reset(next);
  }
  return path;
}

bool remove_node(YAML::Node& root, const std::vector<std::string>& parts) {
  if (parts.empty()) return false;
  std::vector<std::string> parent_parts(parts.begin(), parts.end() - 1);
  YAML::Node parent = find_node(root, parent_parts);
  if (parent.IsMap()) {
    const YAML::Node& map = parent;
    if (!map[parts.back()].IsDefined()) return false;
    return parent.remove(parts.back());
  }
  if (parent.IsSequence()) {
    long i = list_index(parent, parts.back());
    if (i < 0) return false;
    // Rebuild the list without item i (yaml-cpp's index removal is not reliable across versions).
    YAML::Node rebuilt(YAML::NodeType::Sequence);
    for (std::size_t j = 0; j < parent.size(); ++j)
      if (long(j) != i) rebuilt.push_back(YAML::Clone(parent[j]));
    parent = rebuilt;  // writes through: parent refers to the list inside the tree
    return true;
  }
  return false;
}

void merge_node(YAML::Node& dst, const YAML::Node& src, const std::string& path, Origins& origins,
                const std::string& origin) {
  PTLAB_ASSERT(dst.IsMap(), "merge into a non-mapping at '{}'", path);
  if (!src.IsMap()) return;
  for (auto it = src.begin(); it != src.end(); ++it) {
    PTLAB_CHECK(it->first.IsScalar(), "{}: a key under '{}' is not a plain name ({})", origin, path,
                describe(it->first));
    const std::string key = it->first.Scalar();
    const YAML::Node value = it->second;
    std::string key_path = child_key_path(path, key);
    YAML::Node existing = find_node(dst, {key});  // never a "zombie" handle: safe to ask its type
    if (value.IsMap() && existing.IsMap()) {
      YAML::Node sub = dst[key];
      origins.set(key_path, origin);
      merge_node(sub, value, key_path, origins, origin);
    } else if (is_missing_value(value) && existing.IsDefined() && !existing.IsNull() && !is_missing_value(existing)) {
      continue;  // "???" only marks a value as mandatory; it never erases one set earlier.
    } else {
      dst[key] = YAML::Clone(value);
      origins.erase_subtree(key_path);
      origins.set_subtree(key_path, value, origin);
    }
  }
}

std::vector<std::string> key_paths(const YAML::Node& node, const std::string& prefix) {
  std::vector<std::string> out;
  if (node.IsMap()) {
    for (auto it = node.begin(); it != node.end(); ++it) {
      if (!it->first.IsScalar()) continue;
      std::string p = child_key_path(prefix, it->first.Scalar());
      out.push_back(p);
      auto sub = key_paths(it->second, p);
      out.insert(out.end(), sub.begin(), sub.end());
    }
  } else if (node.IsSequence()) {
    for (std::size_t i = 0; i < node.size(); ++i) {
      std::string p = item_key_path(prefix, i);
      out.push_back(p);
      auto sub = key_paths(node[i], p);
      out.insert(out.end(), sub.begin(), sub.end());
    }
  }
  return out;
}

std::vector<std::string> similar_key_paths(const YAML::Node& root, const std::string& key_path, std::size_t max_count) {
  std::size_t depth = split_key_path(key_path).size();
  std::vector<std::string> candidates;
  for (auto& p : key_paths(root))
    if (split_key_path(p).size() == depth) candidates.push_back(std::move(p));
  return closest_names(key_path, candidates, max_count);
}

}  // namespace ptlab::config
