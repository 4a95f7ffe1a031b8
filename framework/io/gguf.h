// Reading GGUF files (llama.cpp's model format, versions 2 and 3) and dequantizing their tensors.
//
// Layout (little-endian): "GGUF", uint32 version, uint64 tensor count, uint64 metadata count; the metadata
// (key string, uint32 value type, value; strings are uint64 length + UTF-8 bytes; arrays are uint32 element
// type + uint64 count + elements); the tensor infos (name, uint32 n_dims, n_dims uint64 extents with the
// fastest-varying first, uint32 ggml type, uint64 offset into the data area); padding to
// `general.alignment` (default 32); the data area.
//
// GgufFile validates everything before a byte is used: magic, version, counts against the file size
// (no allocation is sized by an unchecked count), every string and array inside the file, known value and
// tensor types, extents a whole number of blocks, offsets aligned, inside the data area and not
// overlapping. Every violation is a ptlab::Error that names the file, the byte offset or the tensor, and
// what was expected — never a crash. Torch-free: tensors come out as float vectors (or raw bytes).
//
// Dequantization reproduces ggml's reference dequantize_row_* (and the `gguf` Python package's numpy
// port, which the tests compare against bit for bit): F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1,
// Q4_K, Q5_K, Q6_K. Other types are listed by name and are an Error when a tensor of them is read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace ptlab::io {

/// GGUF metadata value types (gguf_type), by their on-disk codes.
enum class GgufValueType : uint32_t {
  kUint8 = 0, kInt8 = 1, kUint16 = 2, kInt16 = 3, kUint32 = 4, kInt32 = 5, kFloat32 = 6, kBool = 7,
  kString = 8, kArray = 9, kUint64 = 10, kInt64 = 11, kFloat64 = 12,
};
std::string gguf_value_type_name(GgufValueType type);  ///< "uint8", ..., "array"

/// ggml tensor types, by their on-disk codes (the ones this reader knows the block layout of).
enum class GgmlType : uint32_t {
  kF32 = 0, kF16 = 1, kQ4_0 = 2, kQ4_1 = 3, kQ5_0 = 6, kQ5_1 = 7, kQ8_0 = 8, kQ8_1 = 9,
  kQ2_K = 10, kQ3_K = 11, kQ4_K = 12, kQ5_K = 13, kQ6_K = 14, kQ8_K = 15,
  kI8 = 24, kI16 = 25, kI32 = 26, kI64 = 27, kF64 = 28, kBF16 = 30,
};
/// "F32", "Q4_K", ...; unknown codes give "type <code>".
std::string ggml_type_name(uint32_t code);
/// Elements per block and bytes per block of a known type (1 and the element size for plain types);
/// false for a code this reader does not know.
bool ggml_block_layout(uint32_t code, int64_t& block_elements, int64_t& block_bytes);
/// Whether dequantize() handles the type (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K).
bool ggml_can_dequantize(uint32_t code);

/// One metadata value. Arrays hold their elements as a vector of one scalar kind (or strings); nested
/// arrays (legal in the format, unused by models) are kept as their element count only.
struct GgufValue {
  GgufValueType type = GgufValueType::kUint8;
  GgufValueType element_type = GgufValueType::kUint8;  ///< arrays only
  std::variant<uint64_t, int64_t, double, bool, std::string, std::vector<uint64_t>, std::vector<int64_t>,
               std::vector<double>, std::vector<bool>, std::vector<std::string>>
      value;
  uint64_t array_size = 0;  ///< arrays only (also for nested arrays, whose elements are not kept)

  bool is_array() const { return type == GgufValueType::kArray; }
};

struct GgufTensorInfo {
  std::string name;
  std::vector<int64_t> extents;  ///< GGUF order: extents[0] varies fastest (the row length)
  uint32_t type = 0;             ///< ggml type code
  uint64_t offset = 0;           ///< into the data area
  uint64_t bytes = 0;            ///< stored size
  int64_t elements = 0;

  /// The shape in row-major (PyTorch / Hugging Face) order: extents reversed.
  std::vector<int64_t> shape() const { return {extents.rbegin(), extents.rend()}; }
};

/// An opened, validated GGUF file. Metadata and tensor infos are read at construction; tensor data is
/// read on demand.
class GgufFile {
 public:
  explicit GgufFile(std::string path);

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }  ///< where the data area starts in the file

  /// Metadata in file order.
  const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return metadata_; }
  bool has(std::string_view key) const;
  const GgufValue& get(std::string_view key) const;  ///< missing key: Error naming the file and the key

  /// Typed getters. A missing key, or a value of another kind, is an Error naming the key, the type found
  /// and the type expected. Integer getters accept any integer type whose value fits.
  int64_t get_int(std::string_view key) const;
  int64_t get_int(std::string_view key, int64_t fallback) const;  ///< fallback when the key is absent
  double get_float(std::string_view key) const;                   ///< float32/float64 (or an integer)
  double get_float(std::string_view key, double fallback) const;
  bool get_bool(std::string_view key, bool fallback) const;
  std::string get_string(std::string_view key) const;
  std::string get_string(std::string_view key, const std::string& fallback) const;
  const std::vector<std::string>& get_strings(std::string_view key) const;
  std::vector<double> get_floats(std::string_view key) const;  ///< float or integer arrays
  std::vector<int64_t> get_ints(std::string_view key) const;   ///< integer arrays

  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  bool contains(std::string_view name) const;
  const GgufTensorInfo& tensor(std::string_view name) const;  ///< unknown name: Error with close names

  /// The stored bytes of a tensor.
  std::vector<uint8_t> read_raw(const GgufTensorInfo& info) const;
  /// The tensor dequantized to fp32, row-major in shape() order. A type dequantize() does not handle is an
  /// Error naming the tensor, its type and the supported ones.
  std::vector<float> read_f32(const GgufTensorInfo& info) const;
  /// The same into `out`, which holds info.elements floats (a tensor's storage, say: no second copy).
  void read_f32(const GgufTensorInfo& info, float* out) const;

 private:
  std::string path_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  uint64_t file_size_ = 0;
  std::vector<std::pair<std::string, GgufValue>> metadata_;
  std::map<std::string, std::size_t, std::less<>> metadata_index_;
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string, std::size_t, std::less<>> tensor_index_;
};

/// Dequantizes `count` elements of type `code` from `data` (count * block_bytes / block_elements bytes)
/// into `out`. `count` must be a whole number of blocks. The arithmetic is ggml's, in fp32, without
/// fused multiply-adds, so results equal the reference bit for bit.
void dequantize(uint32_t code, const uint8_t* data, int64_t count, float* out);

/// IEEE half / bfloat16 bits to float (exact).
float half_to_float(uint16_t bits);
float bf16_to_float(uint16_t bits);

}  // namespace ptlab::io
