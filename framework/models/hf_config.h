// A Hugging Face config.json, read with errors that name the file and the field.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ptlab::models {

class HFConfig {
 public:
  /// Reads DIR/config.json; a missing file or bad JSON is an Error naming the path (and JSON position).
  static HFConfig load(const std::string& dir);
  HFConfig(nlohmann::json json, std::string path);

  const std::string& path() const { return path_; }
  const nlohmann::json& json() const { return json_; }
  bool has(const std::string& key) const;  ///< present and not null

  /// Required fields: missing or of the wrong type is an Error "config.json (PATH): field 'x' ...".
  int64_t get_int(const std::string& key) const;
  double get_double(const std::string& key) const;
  bool get_bool(const std::string& key) const;
  std::string get_string(const std::string& key) const;
  /// Optional fields with a default (present but of the wrong type is still an Error).
  int64_t get_int(const std::string& key, int64_t fallback) const;
  double get_double(const std::string& key, double fallback) const;
  bool get_bool(const std::string& key, bool fallback) const;
  std::string get_string(const std::string& key, const std::string& fallback) const;
  /// First present key among aliases (e.g. {"num_hidden_layers", "n_layer"}); none present is an Error.
  int64_t get_int_any(const std::vector<std::string>& keys) const;
  /// An int or the first element of an int list (eos_token_id may be a list); -1 when absent or null.
  int64_t get_token_id(const std::string& key) const;
  /// Every id of an int or int-list field (Llama 3 lists several eos ids); empty when absent or null.
  std::vector<int64_t> get_token_ids(const std::string& key) const;

 private:
  nlohmann::json json_;
  std::string path_;
};

}  // namespace ptlab::models
