// The weights of a Hugging Face model directory: model.safetensors, or the shards listed by
// model.safetensors.index.json. Families take() each tensor they expect; finish() then reports tensors
// nobody took. Missing tensors, shape mismatches against the config and unexpected tensors are Errors
// that list the names (a tied weight is not "missing": the family simply does not ask for it).
//
// A Checkpoint can also be a random one (Checkpoint::random): it holds no file, contains() every name and
// take() makes a fresh tensor of the asked shape (norm weights 1, biases 0, everything else N(0, 0.02)).
// It lets any family be built in its real shapes without weights (benchmarks, pretraining from scratch)
// through the same builder that loads a checkpoint.
#pragma once

#include "framework/io/safetensors.h"

#include <ATen/ATen.h>

#include <map>
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

  /// A checkpoint without files whose tensors are made on demand (see the top of this file).
  static Checkpoint random(uint64_t seed);

  const std::string& dir() const { return dir_; }
  bool is_random() const { return random_; }
  bool contains(const std::string& name) const;
  std::vector<std::string> names() const;
  /// The file holding `name` (for messages); "" when absent.
  std::string file_of(const std::string& name) const;

  /// The tensor `name`, checked against `shape`, converted to options' dtype (floating tensors only) and
  /// device, with requires_grad = false. A different shape is an Error naming the tensor, the file and both
  /// shapes. A missing name is recorded and reported by finish() together with every other missing and
  /// unexpected tensor; meanwhile take() returns zeros of `shape` so that building can go on.
  at::Tensor take(const std::string& name, at::IntArrayRef shape, const LoadOptions& options);
  /// Marks a tensor as known but unused (e.g. a "masked_bias" buffer, rotary inv_freq). Absent: no-op.
  void ignore(const std::string& name);
  /// ignore() for every tensor whose name ends with `suffix` (".attn.masked_bias", ".rotary_emb.inv_freq").
  void ignore_suffix(const std::string& suffix);

  /// Error listing every tensor asked for but missing, and every tensor never taken nor ignored (with
  /// how many there are). Families call it once, after building.
  void finish() const;

 private:
  Checkpoint() = default;

  std::string dir_;
  std::vector<std::unique_ptr<io::SafetensorsFile>> files_;
  std::map<std::string, std::size_t> where_;  // tensor name -> index in files_
  std::set<std::string> used_;
  std::vector<std::string> missing_;
  bool random_ = false;
  uint64_t seed_ = 0;
  uint64_t taken_ = 0;  // random checkpoints: tensors made so far (each gets its own generator stream)
};

}  // namespace ptlab::models
