// Reader: typed decoding of one mapping of a composed config into a component's Config struct, once,
// at the boundary.
//
//   Reader r(composed.root["trainer"], "trainer", composed.origins);
//   cfg.lr = r.get<double>("lr", 1e-3);             // absent -> the default
//   cfg.steps = r.require<std::int64_t>("steps");    // absent -> Error
//   Reader optim = r.child("optim");                 // a sub-mapping (absent -> empty)
//   r.finish();                                      // any key nobody asked for -> Error
//
// Types: bool (true/false in any case), int and std::int64_t ("1_000"), double (ints, 1e-3, inf, nan),
// std::string (any scalar's text), std::vector<T>, std::map<std::string, T> and std::optional<T>
// (null -> nullopt) of those. A wrong type is an Error naming the key path, what was expected, the value
// and its origin: "trainer.lr: expected a float, got 'abc' (from override 'trainer.lr=abc')".
// finish() reports unread keys of this mapping and of every child() taken from it:
// "unknown key 'trainer.lrr' (configs/trainer/default.yaml); did you mean trainer.lr?".
// The Origins passed in must outlive the Reader.
#pragma once

#include "framework/config/origins.h"

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace ptlab::config {

namespace reader_detail {

/// Throws "<path>: expected <expected>, got <value> (from <origin>)".
[[noreturn]] void type_error(const YAML::Node& node, const std::string& path, const Origins& origins,
                             const std::string& expected);

void decode(const YAML::Node& node, const std::string& path, const Origins& origins, bool& out);
void decode(const YAML::Node& node, const std::string& path, const Origins& origins, int& out);
void decode(const YAML::Node& node, const std::string& path, const Origins& origins, std::int64_t& out);
void decode(const YAML::Node& node, const std::string& path, const Origins& origins, double& out);
void decode(const YAML::Node& node, const std::string& path, const Origins& origins, std::string& out);
template <class T>
void decode(const YAML::Node& node, const std::string& path, const Origins& origins, std::vector<T>& out);
template <class T>
void decode(const YAML::Node& node, const std::string& path, const Origins& origins, std::map<std::string, T>& out);
template <class T>
void decode(const YAML::Node& node, const std::string& path, const Origins& origins, std::optional<T>& out);

template <class T>
void decode(const YAML::Node& node, const std::string& path, const Origins& origins, std::vector<T>& out) {
  if (!node.IsSequence()) type_error(node, path, origins, "a list");
  out.clear();
  out.resize(node.size());
  for (std::size_t i = 0; i < node.size(); ++i) decode(node[i], item_key_path(path, i), origins, out[i]);
}

template <class T>
void decode(const YAML::Node& node, const std::string& path, const Origins& origins, std::map<std::string, T>& out) {
  if (!node.IsMap()) type_error(node, path, origins, "a mapping");
  out.clear();
  for (auto it = node.begin(); it != node.end(); ++it) {
    const std::string key = it->first.Scalar();
    decode(it->second, child_key_path(path, key), origins, out[key]);
  }
}

template <class T>
void decode(const YAML::Node& node, const std::string& path, const Origins& origins, std::optional<T>& out) {
  if (!node.IsDefined() || node.IsNull()) {
    out.reset();
    return;
  }
  T value{};
  decode(node, path, origins, value);
  out = std::move(value);
}

}  // namespace reader_detail

class Reader {
 public:
  /// `node` must be a mapping, null or undefined (both read as empty); `path` is its key path ("trainer",
  /// "" for the root).
  Reader(const YAML::Node& node, std::string path, const Origins& origins);

  /// The value of `key` as T, or `fallback` when the key is absent.
  template <class T>
  T get(const std::string& key, T fallback) {
    YAML::Node value = lookup(key);
    if (!value.IsDefined()) return fallback;
    T out{};
    reader_detail::decode(value, key_path(key), *state_->origins, out);
    return out;
  }

  /// The value of `key` as T; an absent key is an Error.
  template <class T>
  T require(const std::string& key) {
    YAML::Node value = lookup(key);
    if (!value.IsDefined()) missing(key);
    T out{};
    reader_detail::decode(value, key_path(key), *state_->origins, out);
    return out;
  }

  /// Whether `key` is present; the key counts as known (finish() accepts it) but not decoded.
  bool has(const std::string& key);

  /// A Reader over the sub-mapping `key` (empty when absent). finish() on this Reader checks it too.
  Reader child(const std::string& key);

  /// The keys present in this mapping, in order.
  std::vector<std::string> keys() const;

  /// Errors for every key of this mapping (and of its children) that no get/require/has/child asked for.
  void finish() const;

  const std::string& path() const { return state_->path; }
  /// "trainer" + "lr" -> "trainer.lr".
  std::string key_path(const std::string& key) const { return child_key_path(state_->path, key); }

 private:
  struct State {
    YAML::Node node;
    std::string path;
    const Origins* origins = nullptr;
    std::set<std::string> known;
    std::vector<std::shared_ptr<State>> children;
  };
  explicit Reader(std::shared_ptr<State> state) : state_(std::move(state)) {}

  /// The value at `key` (undefined when absent); marks the key known; "???" is an Error.
  YAML::Node lookup(const std::string& key);
  [[noreturn]] void missing(const std::string& key) const;
  static void collect_unknown(const State& state, std::vector<std::pair<std::string, const State*>>& out);

  std::shared_ptr<State> state_;
};

}  // namespace ptlab::config
