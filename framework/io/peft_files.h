// The files of a PEFT adapter directory, shared by the prompt-tuning (peft_adapter.h) and prefix-tuning
// (peft_prefix_adapter.h) readers and writers: adapter_config.json, adapter_model.safetensors, README.md.
#pragma once

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ptlab::io::peft_files {

inline constexpr const char* kConfigFile = "adapter_config.json";
inline constexpr const char* kWeightsFile = "adapter_model.safetensors";

/// Typed reads of adapter_config.json; every error names the file and the key. unread() gives the keys
/// not read, so that they are written back as they were.
class ConfigReader {
 public:
  ConfigReader(const nlohmann::json& json, std::string path) : json_(json), path_(std::move(path)) {}

  bool has(const std::string& key) const { return json_.contains(key) && !json_.at(key).is_null(); }
  const nlohmann::json& raw(const std::string& key);
  std::string string(const std::string& key);
  std::optional<std::string> optional_string(const std::string& key);
  int64_t integer(const std::string& key, std::optional<int64_t> fallback = std::nullopt);
  bool boolean(const std::string& key, bool fallback);
  nlohmann::json object_or_null(const std::string& key);
  /// Every key not read through this reader, with its value.
  std::map<std::string, nlohmann::json> unread() const;

 private:
  const nlohmann::json& json_;
  std::string path_;
  std::vector<std::string> used_;
};

/// DIR/adapter_config.json, parsed. Errors (one line): DIR missing or not a directory, the file missing or
/// unreadable, invalid JSON.
nlohmann::json read_config(const std::string& dir);

/// DIR/adapter_model.safetensors, checked to exist (a pickled adapter_model.bin is named in the error).
std::string weights_path(const std::string& dir);

/// Creates DIR and writes, each atomically: adapter_model.safetensors (metadata {"format":"pt"}; tensors in
/// the order safetensors' own writer uses: dtype rank descending, then name), adapter_config.json
/// (python_json_dumps of `config`, computed before anything is written) and README.md. `what` names the
/// adapter in errors ("PEFT adapter", "PEFT prefix adapter").
void write_files(const std::string& dir, std::vector<std::pair<std::string, at::Tensor>> tensors,
                 const nlohmann::json& config, const std::string& readme, const std::string& what);

}  // namespace ptlab::io::peft_files
