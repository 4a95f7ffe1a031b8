// Origins: where every value of a composed config came from, for error messages.
//
// An origin is a short human string: a config file ("configs/method/prompt_tuning.yaml") or a
// command-line override ("override 'method.lr=3'"). Composition records one for every key path it
// writes (mappings and leaves), so a message about any key can say where to fix it. Key paths use
// OmegaConf's spelling: dots between mapping keys, "[i]" for list items ("trainer.betas[1]").
#pragma once

#include <yaml-cpp/yaml.h>

#include <map>
#include <string>

namespace ptlab::config {

class Origins {
 public:
  /// Records that `key_path` was last written by `origin`. The root is the empty path.
  void set(const std::string& key_path, std::string origin);

  /// Records `origin` for `key_path` and for every key path inside `node` (its subtree).
  void set_subtree(const std::string& key_path, const YAML::Node& node, const std::string& origin);

  /// Forgets `key_path` and everything below it (after a deletion).
  void erase_subtree(const std::string& key_path);

  /// The origin of `key_path`, or of its nearest recorded ancestor ("trainer.lrr" -> "trainer");
  /// empty when nothing on the way up was recorded.
  std::string of(const std::string& key_path) const;

  /// " (from <origin>)" for messages, or "" when the origin is unknown.
  std::string from(const std::string& key_path) const;

  const std::map<std::string, std::string>& all() const { return origins_; }

 private:
  std::map<std::string, std::string> origins_;
};

/// The parent of a key path: "a.b[2]" -> "a.b", "a.b" -> "a", "a" -> "".
std::string parent_key_path(const std::string& key_path);

/// "a" + "b" -> "a.b"; "" + "b" -> "b".
std::string child_key_path(const std::string& parent, const std::string& key);

/// "a" + 2 -> "a[2]".
std::string item_key_path(const std::string& parent, std::size_t index);

}  // namespace ptlab::config
