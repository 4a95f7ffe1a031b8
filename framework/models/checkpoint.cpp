#include "framework/models/checkpoint.h"

#include "framework/core/error.h"
#include "framework/core/suggest.h"

#include <ATen/CPUGeneratorImpl.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace ptlab::models {
namespace {

namespace fs = std::filesystem;

std::string shape_string(at::IntArrayRef shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

// "a, b, c" of at most `limit` names, then "... and N more".
std::string some_names(const std::vector<std::string>& names, std::size_t limit = 12) {
  std::vector<std::string> head(names.begin(), names.begin() + std::min(limit, names.size()));
  std::string s = join_names(head);
  if (names.size() > limit) s += fmt::format(", ... and {} more", names.size() - limit);
  return s;
}

// Whether a random checkpoint should make `name` a norm scale (ones): 1-D ".weight" of a *norm* / ln_*.
bool is_norm_weight(const std::string& name, at::IntArrayRef shape) {
  if (shape.size() != 1 || name.size() < 7 || name.compare(name.size() - 7, 7, ".weight") != 0) return false;
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  return lower.find("norm") != std::string::npos || lower.find(".ln_") != std::string::npos ||
         lower.rfind("ln_", 0) == 0;
}

}  // namespace

Checkpoint::Checkpoint(const std::string& dir) : dir_(dir) {
  PTLAB_CHECK(fs::is_directory(dir), "model directory {} does not exist", dir);
  const fs::path index_path = fs::path(dir) / "model.safetensors.index.json";
  const fs::path single_path = fs::path(dir) / "model.safetensors";

  if (fs::exists(index_path)) {
    std::ifstream in(index_path);
    std::stringstream text;
    text << in.rdbuf();
    nlohmann::json index;
    try {
      index = nlohmann::json::parse(text.str());
    } catch (const nlohmann::json::parse_error& e) {
      PTLAB_FAIL("{} is not valid JSON: {}", index_path.string(), e.what());
    }
    PTLAB_CHECK(index.is_object() && index.contains("weight_map") && index["weight_map"].is_object(),
                "{}: expected an object with a 'weight_map' of tensor name -> shard file", index_path.string());
    std::map<std::string, std::size_t> file_index;
    for (const auto& [name, file] : index["weight_map"].items()) {
      PTLAB_CHECK(file.is_string(), "{}: weight_map['{}'] must be a file name, got {}", index_path.string(), name,
                  file.dump());
      const std::string shard = file.get<std::string>();
      PTLAB_CHECK(shard.find('/') == std::string::npos && shard != ".." && !shard.empty(),
                  "{}: weight_map['{}'] = '{}' must be a file name inside {}", index_path.string(), name, shard, dir);
      auto it = file_index.find(shard);
      if (it == file_index.end()) {
        const fs::path shard_path = fs::path(dir) / shard;
        PTLAB_CHECK(fs::exists(shard_path), "{} lists shard {} (for tensor '{}'), but {} does not exist",
                    index_path.string(), shard, name, shard_path.string());
        files_.push_back(std::make_unique<io::SafetensorsFile>(shard_path.string()));
        it = file_index.emplace(shard, files_.size() - 1).first;
      }
      PTLAB_CHECK(files_[it->second]->contains(name), "{} says tensor '{}' is in {}, but that file does not hold it",
                  index_path.string(), name, files_[it->second]->path());
      where_[name] = it->second;
    }
    // Tensors a shard holds beyond the weight map still count (and must not collide with another shard's).
    for (std::size_t i = 0; i < files_.size(); ++i) {
      for (const auto& r : files_[i]->records()) {
        auto [it, inserted] = where_.emplace(r.name, i);
        PTLAB_CHECK(inserted || it->second == i, "tensor '{}' is in two shards: {} and {}", r.name,
                    files_[it->second]->path(), files_[i]->path());
      }
    }
  } else if (fs::exists(single_path)) {
    files_.push_back(std::make_unique<io::SafetensorsFile>(single_path.string()));
    for (const auto& r : files_[0]->records()) where_[r.name] = 0;
  } else {
    std::vector<std::string> present;
    for (const auto& entry : fs::directory_iterator(dir)) present.push_back(entry.path().filename().string());
    std::sort(present.begin(), present.end());
    bool has_bin = std::any_of(present.begin(), present.end(), [](const std::string& f) {
      return f.size() > 4 && f.compare(f.size() - 4, 4, ".bin") == 0;
    });
    PTLAB_FAIL("{} has no weights: expected model.safetensors or model.safetensors.index.json{}{}", dir,
               present.empty() ? std::string(" (the directory is empty)")
                               : fmt::format(" (found: {})", some_names(present)),
               has_bin ? "; PyTorch .bin checkpoints are not read, save the model with safe_serialization=True" : "");
  }
}

Checkpoint Checkpoint::random(uint64_t seed) {
  Checkpoint c;
  c.dir_ = "(random weights)";
  c.random_ = true;
  c.seed_ = seed;
  return c;
}

bool Checkpoint::contains(const std::string& name) const { return random_ || where_.count(name) > 0; }

std::vector<std::string> Checkpoint::names() const {
  std::vector<std::string> out;
  for (const auto& [name, i] : where_) out.push_back(name);
  return out;
}

std::string Checkpoint::file_of(const std::string& name) const {
  auto it = where_.find(name);
  return it == where_.end() ? "" : files_[it->second]->path();
}

at::Tensor Checkpoint::take(const std::string& name, at::IntArrayRef shape, const LoadOptions& options) {
  at::Tensor tensor;
  if (random_) {
    // Each tensor draws from its own stream so that adding a tensor does not change the others.
    auto gen = at::make_generator<at::CPUGeneratorImpl>(seed_ * 1000003 + taken_++);
    const bool bias = name.size() >= 5 && name.compare(name.size() - 5, 5, ".bias") == 0;
    if (is_norm_weight(name, shape)) {
      tensor = at::ones(shape, at::kFloat);
    } else if (bias) {
      tensor = at::zeros(shape, at::kFloat);
    } else {
      tensor = at::empty(shape, at::kFloat);
      tensor.normal_(0.0, 0.02, gen);
    }
  } else {
    auto it = where_.find(name);
    if (it == where_.end()) {
      missing_.push_back(name);
      used_.insert(name);
      return at::zeros(shape, at::TensorOptions().dtype(options.dtype).device(options.device));
    }
    const auto& file = *files_[it->second];
    const auto& record = file.record(name);
    PTLAB_CHECK(at::IntArrayRef(record.shape) == shape,
                "tensor '{}' in {} has shape {}, but the config ({}/config.json) implies {}; the weights do not "
                "belong to this config",
                name, file.path(), shape_string(record.shape), dir_, shape_string(shape));
    tensor = file.load(name);
  }
  used_.insert(name);
  if (at::isFloatingType(tensor.scalar_type())) tensor = tensor.to(options.dtype);
  return tensor.to(options.device).set_requires_grad(false);
}

void Checkpoint::ignore(const std::string& name) {
  if (where_.count(name)) used_.insert(name);
}

void Checkpoint::ignore_suffix(const std::string& suffix) {
  for (const auto& [name, i] : where_)
    if (name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
      used_.insert(name);
}

void Checkpoint::finish() const {
  std::vector<std::string> unexpected;
  for (const auto& [name, i] : where_)
    if (!used_.count(name)) unexpected.push_back(name);
  if (missing_.empty() && unexpected.empty()) return;
  std::string message = fmt::format("checkpoint {} does not match its config:", dir_);
  if (!missing_.empty()) {
    message += fmt::format(" {} missing tensor{}: {}", missing_.size(), missing_.size() == 1 ? "" : "s",
                           some_names(missing_));
    // A missing name next to an unexpected one usually means a renamed tensor or another prefix.
    auto close = closest_names(missing_[0], unexpected, 1);
    if (!close.empty()) message += fmt::format(" ('{}' is present instead of '{}'?)", close[0], missing_[0]);
    message += unexpected.empty() ? "" : ";";
  }
  if (!unexpected.empty())
    message += fmt::format(" {} unexpected tensor{}: {}", unexpected.size(), unexpected.size() == 1 ? "" : "s",
                           some_names(unexpected));
  PTLAB_FAIL("{}", message);
}

}  // namespace ptlab::models
