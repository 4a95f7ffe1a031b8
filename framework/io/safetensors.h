// Reading and writing the safetensors format (Hugging Face): an 8-byte little-endian header length N,
// N bytes of JSON {"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}},
// then the raw little-endian tensor bytes.
//
// We write our own reader because no Debian package provides one. The header is validated before any
// byte is used: known dtype, shape product * element size == end - begin, offsets inside the data area,
// no two tensors overlapping, the JSON well formed and the file long enough. Every violation is a
// ptlab::Error naming the file and the tensor — never a crash.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace ptlab::io {

struct TensorRecord {
  std::string name;
  std::string dtype;  ///< safetensors dtype name: F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;  ///< byte offsets in the data area
};

/// An opened, validated safetensors file. Tensors are read on demand.
class SafetensorsFile {
 public:
  explicit SafetensorsFile(std::string path);

  const std::string& path() const { return path_; }
  const std::vector<TensorRecord>& records() const { return records_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  bool contains(const std::string& name) const;
  const TensorRecord& record(const std::string& name) const;  ///< unknown name: Error listing close names

  /// The tensor as stored (its own dtype), on CPU, owning its memory.
  at::Tensor load(const std::string& name) const;

 private:
  std::string path_;
  uint64_t data_start_ = 0;
  std::vector<TensorRecord> records_;
  std::map<std::string, std::size_t> index_;
  std::map<std::string, std::string> metadata_;
};

/// Every tensor of a file, by name.
std::map<std::string, at::Tensor> load_safetensors(const std::string& path);

/// Writes tensors (made contiguous, moved to CPU) in the given order, atomically (temp file + rename).
void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

/// The at::ScalarType of a safetensors dtype name, and back. Unknown names are errors.
at::ScalarType scalar_type_of(const std::string& dtype);
std::string dtype_name_of(at::ScalarType type);

}  // namespace ptlab::io
