#include "framework/io/peft_files.h"

#include "framework/core/error.h"
#include "framework/io/peft_adapter.h"
#include "framework/io/safetensors.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>

namespace ptlab::io::peft_files {
namespace {

namespace fs = std::filesystem;

std::string describe(const nlohmann::json& v) {
  return v.is_null() ? std::string("null / nothing") : fmt::format("{} {}", v.type_name(), v.dump());
}

// The order of safetensors' Rust Dtype enum; its writer sorts tensors by this rank, descending, then by name.
int safetensors_dtype_rank(const std::string& dtype) {
  static const std::vector<std::string> kOrder = {"BOOL", "U8",  "I8",  "F8_E5M2", "F8_E4M3", "I16", "U16", "F16",
                                                  "BF16", "I32", "U32", "F32",     "F64",     "I64", "U64"};
  auto it = std::find(kOrder.begin(), kOrder.end(), dtype);
  PTLAB_ASSERT(it != kOrder.end(), "dtype {} missing from the safetensors order", dtype);
  return static_cast<int>(it - kOrder.begin());
}

void write_text_atomically(const std::string& path, const std::string& text) {
  const std::string tmp = fmt::format("{}.tmp.{}", path, ::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    PTLAB_CHECK(out.good(), "cannot write {}: cannot create the file", tmp);
    out << text;
    out.flush();
    if (!out.good()) {
      std::remove(tmp.c_str());
      PTLAB_FAIL("cannot write {}: write failed (disk full?)", tmp);
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    PTLAB_FAIL("cannot write {}: renaming the temporary file {} failed", path, tmp);
  }
}

}  // namespace

const nlohmann::json& ConfigReader::raw(const std::string& key) {
  used_.push_back(key);
  static const nlohmann::json kNull;
  return json_.contains(key) ? json_.at(key) : kNull;
}

std::string ConfigReader::string(const std::string& key) {
  const auto& v = raw(key);
  PTLAB_CHECK(v.is_string(), "{}: '{}' must be a string, got {}", path_, key, describe(v));
  return v.get<std::string>();
}

std::optional<std::string> ConfigReader::optional_string(const std::string& key) {
  if (raw(key).is_null()) return std::nullopt;
  return string(key);
}

int64_t ConfigReader::integer(const std::string& key, std::optional<int64_t> fallback) {
  const auto& v = raw(key);
  if (v.is_null() && fallback) return *fallback;
  PTLAB_CHECK(v.is_number_integer(), "{}: '{}' must be an integer, got {}", path_, key, describe(v));
  return v.get<int64_t>();
}

bool ConfigReader::boolean(const std::string& key, bool fallback) {
  const auto& v = raw(key);
  if (v.is_null()) return fallback;
  PTLAB_CHECK(v.is_boolean(), "{}: '{}' must be true or false, got {}", path_, key, describe(v));
  return v.get<bool>();
}

nlohmann::json ConfigReader::object_or_null(const std::string& key) {
  const auto& v = raw(key);
  PTLAB_CHECK(v.is_null() || v.is_object(), "{}: '{}' must be null or an object, got {}", path_, key, describe(v));
  return v;
}

std::map<std::string, nlohmann::json> ConfigReader::unread() const {
  std::map<std::string, nlohmann::json> out;
  for (const auto& [key, value] : json_.items())
    if (std::find(used_.begin(), used_.end(), key) == used_.end()) out[key] = value;
  return out;
}

nlohmann::json read_config(const std::string& dir) {
  std::error_code ec;
  PTLAB_CHECK(fs::exists(dir, ec), "PEFT adapter directory {} does not exist", dir);
  PTLAB_CHECK(fs::is_directory(dir, ec),
              "PEFT adapter path {} is not a directory; give the directory holding {} and {}", dir, kConfigFile,
              kWeightsFile);
  const std::string config_path = (fs::path(dir) / kConfigFile).string();
  PTLAB_CHECK(fs::exists(config_path, ec), "{} not found: a PEFT adapter directory holds {} and {}", config_path,
              kConfigFile, kWeightsFile);
  std::ifstream in(config_path, std::ios::binary);
  PTLAB_CHECK(in.good(), "cannot read {}", config_path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    PTLAB_FAIL("{} is not valid JSON: {}", config_path, e.what());
  }
}

std::string weights_path(const std::string& dir) {
  std::error_code ec;
  const fs::path root(dir);
  const std::string path = (root / kWeightsFile).string();
  PTLAB_CHECK(fs::exists(path, ec), "{} not found{}", path,
              fs::exists(root / "adapter_model.bin", ec)
                  ? ": the adapter is saved as a pickled adapter_model.bin, which ptlab does not read; re-save it "
                    "with save_pretrained(..., safe_serialization=True)"
                  : fmt::format(": a PEFT adapter directory holds {} and {}", kConfigFile, kWeightsFile));
  return path;
}

void write_files(const std::string& dir, std::vector<std::pair<std::string, at::Tensor>> tensors,
                 const nlohmann::json& config, const std::string& readme, const std::string& what) {
  const std::string config_text = python_json_dumps(config);  // may fail (invalid UTF-8): before any write
  std::stable_sort(tensors.begin(), tensors.end(), [](const auto& a, const auto& b) {
    const int ra = safetensors_dtype_rank(dtype_name_of(a.second.scalar_type()));
    const int rb = safetensors_dtype_rank(dtype_name_of(b.second.scalar_type()));
    return ra != rb ? ra > rb : a.first < b.first;
  });
  std::error_code ec;
  fs::create_directories(dir, ec);
  PTLAB_CHECK(!ec && fs::is_directory(dir), "cannot export {}: cannot create directory {}: {}", what, dir,
              ec ? ec.message() : std::string("a file of that name exists"));
  const fs::path root(dir);
  save_safetensors((root / kWeightsFile).string(), tensors, {{"format", "pt"}});
  write_text_atomically((root / kConfigFile).string(), config_text);
  write_text_atomically((root / "README.md").string(), readme);
}

}  // namespace ptlab::io::peft_files
