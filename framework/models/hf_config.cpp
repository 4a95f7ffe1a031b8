#include "framework/models/hf_config.h"

#include "framework/core/error.h"
#include "framework/core/suggest.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace ptlab::models {
namespace {

std::string quoted_keys(const std::vector<std::string>& keys) {
  std::string s;
  for (std::size_t i = 0; i < keys.size(); ++i) s += (i ? ", '" : "'") + keys[i] + "'";
  return s;
}

}  // namespace

HFConfig HFConfig::load(const std::string& dir) {
  namespace fs = std::filesystem;
  PTLAB_CHECK(fs::exists(dir), "model directory {} does not exist", dir);
  PTLAB_CHECK(fs::is_directory(dir), "{} is not a directory; expected a Hugging Face model directory holding "
              "config.json and model.safetensors", dir);
  const std::string path = (fs::path(dir) / "config.json").string();
  PTLAB_CHECK(fs::exists(path), "{} has no config.json; expected a Hugging Face model directory (config.json + "
              "model.safetensors)", dir);
  std::ifstream in(path);
  PTLAB_CHECK(in.good(), "cannot read {}", path);
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::parse_error& e) {
    PTLAB_FAIL("{} is not valid JSON: {}", path, e.what());
  }
  PTLAB_CHECK(json.is_object(), "{} must hold a JSON object, got {}", path, json.type_name());
  return HFConfig(std::move(json), path);
}

HFConfig::HFConfig(nlohmann::json json, std::string path) : json_(std::move(json)), path_(std::move(path)) {
  PTLAB_CHECK(json_.is_object(), "config.json ({}): must be a JSON object, got {}", path_, json_.type_name());
}

bool HFConfig::has(const std::string& key) const { return json_.contains(key) && !json_[key].is_null(); }

namespace {

[[noreturn]] void fail_missing(const HFConfig& c, const std::string& key) {
  std::vector<std::string> keys;
  for (const auto& [k, v] : c.json().items()) keys.push_back(k);
  PTLAB_FAIL("config.json ({}): field '{}' is missing; it is required{}", c.path(), key, did_you_mean(key, keys));
}

[[noreturn]] void fail_type(const HFConfig& c, const std::string& key, const char* expected) {
  PTLAB_FAIL("config.json ({}): field '{}' must be {}, got {}", c.path(), key, expected, c.json()[key].dump());
}

int64_t as_int(const HFConfig& c, const std::string& key) {
  const auto& v = c.json()[key];
  if (v.is_number_integer()) return v.get<int64_t>();
  // Some configs write integers as floats (2048.0); accept those, reject 0.5.
  if (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>()) return static_cast<int64_t>(v.get<double>());
  fail_type(c, key, "an integer");
}

double as_double(const HFConfig& c, const std::string& key) {
  const auto& v = c.json()[key];
  if (!v.is_number()) fail_type(c, key, "a number");
  return v.get<double>();
}

bool as_bool(const HFConfig& c, const std::string& key) {
  const auto& v = c.json()[key];
  if (!v.is_boolean()) fail_type(c, key, "true or false");
  return v.get<bool>();
}

std::string as_string(const HFConfig& c, const std::string& key) {
  const auto& v = c.json()[key];
  if (!v.is_string()) fail_type(c, key, "a string");
  return v.get<std::string>();
}

}  // namespace

int64_t HFConfig::get_int(const std::string& key) const {
  if (!has(key)) fail_missing(*this, key);
  return as_int(*this, key);
}
double HFConfig::get_double(const std::string& key) const {
  if (!has(key)) fail_missing(*this, key);
  return as_double(*this, key);
}
bool HFConfig::get_bool(const std::string& key) const {
  if (!has(key)) fail_missing(*this, key);
  return as_bool(*this, key);
}
std::string HFConfig::get_string(const std::string& key) const {
  if (!has(key)) fail_missing(*this, key);
  return as_string(*this, key);
}

int64_t HFConfig::get_int(const std::string& key, int64_t fallback) const {
  return has(key) ? as_int(*this, key) : fallback;
}
double HFConfig::get_double(const std::string& key, double fallback) const {
  return has(key) ? as_double(*this, key) : fallback;
}
bool HFConfig::get_bool(const std::string& key, bool fallback) const {
  return has(key) ? as_bool(*this, key) : fallback;
}
std::string HFConfig::get_string(const std::string& key, const std::string& fallback) const {
  return has(key) ? as_string(*this, key) : fallback;
}

int64_t HFConfig::get_int_any(const std::vector<std::string>& keys) const {
  for (const auto& key : keys)
    if (has(key)) return as_int(*this, key);
  PTLAB_FAIL("config.json ({}): field {} is missing; it is required (any of {})", path_,
             keys.empty() ? std::string("''") : "'" + keys[0] + "'", quoted_keys(keys));
}

int64_t HFConfig::get_token_id(const std::string& key) const {
  if (!has(key)) return -1;
  const auto& v = json_[key];
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_array()) {
    if (v.empty()) return -1;
    if (v[0].is_number_integer()) return v[0].get<int64_t>();
  }
  fail_type(*this, key, "a token id or a list of token ids");
}

std::vector<int64_t> HFConfig::get_token_ids(const std::string& key) const {
  std::vector<int64_t> out;
  if (!has(key)) return out;
  const auto& v = json_[key];
  if (v.is_number_integer()) return {v.get<int64_t>()};
  if (!v.is_array()) fail_type(*this, key, "a token id or a list of token ids");
  for (const auto& e : v) {
    if (!e.is_number_integer()) fail_type(*this, key, "a token id or a list of token ids");
    out.push_back(e.get<int64_t>());
  }
  return out;
}

}  // namespace ptlab::models
