#include "framework/config/reader.h"

#include "framework/config/tree.h"
#include "framework/config/yaml_value.h"
#include "framework/core/error.h"
#include "framework/core/suggest.h"

#include <limits>

namespace ptlab::config {
namespace reader_detail {
namespace {

const std::string& scalar_text(const YAML::Node& node, const std::string& path, const Origins& origins,
                               const std::string& expected) {
  if (!node.IsScalar()) type_error(node, path, origins, expected);
  return node.Scalar();
}

}  // namespace

void type_error(const YAML::Node& node, const std::string& path, const Origins& origins, const std::string& expected) {
  std::string got;
  if (!node.IsDefined() || node.IsNull()) {
    got = "null";
  } else if (node.IsScalar()) {
    got = "'" + describe(node) + "'";
  } else {
    got = kind_name(node) + " " + describe(node);
  }
  PTLAB_FAIL("{}: expected {}, got {}{}", path, expected, got, origins.from(path));
}

void decode(const YAML::Node& node, const std::string& path, const Origins& origins, bool& out) {
  auto v = parse_bool(scalar_text(node, path, origins, "a bool (true or false)"));
  if (!v) type_error(node, path, origins, "a bool (true or false)");
  out = *v;
}

void decode(const YAML::Node& node, const std::string& path, const Origins& origins, std::int64_t& out) {
  auto v = parse_int(scalar_text(node, path, origins, "an int"));
  if (!v) type_error(node, path, origins, "an int");
  out = *v;
}

void decode(const YAML::Node& node, const std::string& path, const Origins& origins, int& out) {
  auto v = parse_int(scalar_text(node, path, origins, "an int"));
  if (!v || *v < std::numeric_limits<int>::min() || *v > std::numeric_limits<int>::max())
    type_error(
        node, path, origins,
        fmt::format("an int between {} and {}", std::numeric_limits<int>::min(), std::numeric_limits<int>::max()));
  out = int(*v);
}

void decode(const YAML::Node& node, const std::string& path, const Origins& origins, double& out) {
  auto v = parse_float(scalar_text(node, path, origins, "a float"));
  if (!v) type_error(node, path, origins, "a float");
  out = *v;
}

void decode(const YAML::Node& node, const std::string& path, const Origins& origins, std::string& out) {
  out = scalar_text(node, path, origins, "a string");
}

}  // namespace reader_detail

Reader::Reader(const YAML::Node& node, std::string path, const Origins& origins) : state_(std::make_shared<State>()) {
  state_->path = std::move(path);
  state_->origins = &origins;
  if (node.IsDefined() && !node.IsNull() && !node.IsMap())
    reader_detail::type_error(node, state_->path, origins, "a mapping");
  if (node.IsDefined()) state_->node.reset(node);  // an absent key reads as an empty mapping
}

YAML::Node Reader::lookup(const std::string& key) {
  state_->known.insert(key);
  if (!state_->node.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
  YAML::Node value = find_node(state_->node, {key});
  if (is_missing_value(value)) {
    std::string path = key_path(key);
    PTLAB_FAIL("missing mandatory value '{}'{}; set it with {}=...", path, state_->origins->from(path), path);
  }
  return value;
}

void Reader::missing(const std::string& key) const {
  std::string path = key_path(key);
  PTLAB_FAIL("missing required key '{}'{}; set it with +{}=...", path, state_->origins->from(state_->path), path);
}

bool Reader::has(const std::string& key) { return lookup(key).IsDefined(); }

Reader Reader::child(const std::string& key) {
  YAML::Node value = lookup(key);
  Reader sub(value, key_path(key), *state_->origins);
  state_->children.push_back(sub.state_);
  return sub;
}

std::vector<std::string> Reader::keys() const {
  std::vector<std::string> out;
  if (state_->node.IsMap())
    for (auto it = state_->node.begin(); it != state_->node.end(); ++it) out.push_back(it->first.Scalar());
  return out;
}

void Reader::collect_unknown(const State& state, std::vector<std::pair<std::string, const State*>>& out) {
  if (state.node.IsMap()) {
    for (auto it = state.node.begin(); it != state.node.end(); ++it) {
      const std::string key = it->first.Scalar();
      if (!state.known.count(key)) out.emplace_back(key, &state);
    }
  }
  for (const auto& c : state.children) collect_unknown(*c, out);
}

void Reader::finish() const {
  std::vector<std::pair<std::string, const State*>> unknown;
  collect_unknown(*state_, unknown);
  if (unknown.empty()) return;
  const auto& [key, state] = unknown.front();
  std::string path = child_key_path(state->path, key);
  std::string origin = state->origins->of(path);
  std::vector<std::string> known(state->known.begin(), state->known.end());
  auto close = closest_names(key, known, 2);
  std::string hint;
  if (!close.empty()) {
    for (auto& c : close) c = child_key_path(state->path, c);
    hint = "; did you mean " + join_names(close, " or ") + "?";
  } else if (!known.empty()) {
    for (auto& k : known) k = child_key_path(state->path, k);
    hint = "; known keys: " + join_names(known);
  } else {
    hint = "; '" + (state->path.empty() ? std::string("the root") : state->path) + "' takes no keys";
  }
  std::string more;
  if (unknown.size() > 1) {
    std::vector<std::string> rest;
    for (std::size_t i = 1; i < unknown.size(); ++i)
      rest.push_back(child_key_path(unknown[i].second->path, unknown[i].first));
    more = "; also unknown: " + join_names(rest);
  }
  PTLAB_FAIL("unknown key '{}'{}{}{}", path, origin.empty() ? "" : " (" + origin + ")", hint, more);
}

}  // namespace ptlab::config
