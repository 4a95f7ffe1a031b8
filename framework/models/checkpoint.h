// The weights of a Hugging Face model directory: model.safetensors, or the shards listed by
// model.safetensors.index.json. Families take() each tensor they expect; finish() then reports tensors
// nobody took. Missing tensors, shape mismatches against the config and unexpected tensors are Errors
// that list the names (a tied weight is not "missing": the family simply does not ask for it).
#pragma once

#include "framework/io/safetensors.h"

#include <ATen/ATen.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

namespace ptlab::models {

struct LoadOptions {
  at::ScalarType dtype = at::kFloat;  ///< parameters are converted to this on load (fp32, bf16, fp16)
  at::Device device = at::kCPU;
};

class Checkpoint {
 public:
  /// Opens DIR's weight files and validates their headers. An empty or weightless DIR is an Error.
  explicit Checkpoint(const std::string& dir);

  const std::string& dir() const { return dir_; }
  bool contains(const std::string& name) const;
  std::vector<std::string> names() const;

  /// The tensor `name`, checked against `shape`, converted to options' dtype and device. A missing name
  /// or a different shape is an Error naming the tensor, the file and both shapes.
  at::Tensor take(const std::string& name, at::IntArrayRef shape, const LoadOptions& options);
  /// Marks a tensor as known but unused (e.g. a "masked_bias" buffer, rotary inv_freq).
  void ignore(const std::string& name);

  /// Error listing every tensor never taken nor ignored (and how many there are).
  void finish() const;

 private:
  std::string dir_;
  std::vector<std::unique_ptr<io::SafetensorsFile>> files_;
  std::map<std::string, std::size_t> where_;  // tensor name -> index in files_
  std::set<std::string> used_;
};

}  // namespace ptlab::models
