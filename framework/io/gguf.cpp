#include "framework/io/gguf.h"

#include "framework/core/error.h"
#include "framework/core/suggest.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <memory>

namespace ptlab::io {
namespace {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "GGUF I/O assumes a little-endian host");

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian uint32
constexpr int kMaxDims = 4;               // GGML_MAX_DIMS
constexpr int kMaxArrayNesting = 8;

// A read-only mapping of the whole file; unmapped when the last user goes.
class Mapping {
 public:
  explicit Mapping(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    PTLAB_CHECK(fd >= 0, "GGUF file {}: cannot open it: {}", path, std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      PTLAB_FAIL("GGUF file {}: not a regular file", path);
    }
    size_ = static_cast<uint64_t>(st.st_size);
    if (size_ > 0) {
      void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (p == MAP_FAILED) {
        int e = errno;
        ::close(fd);
        PTLAB_FAIL("GGUF file {}: cannot map it into memory: {}", path, std::strerror(e));
      }
      data_ = static_cast<const uint8_t*>(p);
    }
    ::close(fd);
  }
  ~Mapping() {
    if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
  }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  const uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }

 private:
  const uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
};

// Tensors are read through a fresh mapping; the header was validated against the size the file had when it was
// opened, so a file that changed since is an Error rather than a read out of bounds.
void check_unchanged(const std::string& path, const Mapping& map, uint64_t size) {
  PTLAB_CHECK(map.size() == size, "GGUF file {}: changed since it was opened ({} bytes, now {})", path, size,
              map.size());
}

// Bounds-checked reading of the header; every failure names the file, the byte offset and what was read.
class Cursor {
 public:
  Cursor(const std::string& path, const uint8_t* data, uint64_t size) : path_(path), data_(data), size_(size) {}
  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return size_ - pos_; }

  void need(uint64_t n, const std::string& what) const {
    PTLAB_CHECK(n <= remaining(),
                "GGUF file {}: truncated: {} needs {} bytes at offset {}, but the file ends after {} more "
                "(file size {} bytes)",
                path_, what, n, pos_, remaining(), size_);
  }
  template <typename T>
  T scalar(const std::string& what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string string(const std::string& what) {
    const uint64_t at = pos_;
    auto n = scalar<uint64_t>(what + " (length)");
    PTLAB_CHECK(n <= remaining(),
                "GGUF file {}: {} at offset {} claims {} bytes, but only {} remain in the file", path_, what, at, n,
                remaining());
    std::string s(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n;
    return s;
  }

 private:
  const std::string& path_;
  const uint8_t* data_;
  uint64_t size_;
  uint64_t pos_ = 0;
};

struct TypeLayout {
  uint32_t code;
  const char* name;
  int64_t block_elements;
  int64_t block_bytes;
  bool dequantize;
};
// Block layouts from ggml.c's type_traits (QK_K = 256).
constexpr TypeLayout kTypes[] = {
    {0, "F32", 1, 4, true},       {1, "F16", 1, 2, true},        {2, "Q4_0", 32, 18, true},
    {3, "Q4_1", 32, 20, true},    {6, "Q5_0", 32, 22, true},     {7, "Q5_1", 32, 24, true},
    {8, "Q8_0", 32, 34, true},    {9, "Q8_1", 32, 36, false},    {10, "Q2_K", 256, 84, false},
    {11, "Q3_K", 256, 110, false}, {12, "Q4_K", 256, 144, true}, {13, "Q5_K", 256, 176, true},
    {14, "Q6_K", 256, 210, true}, {15, "Q8_K", 256, 292, false}, {16, "IQ2_XXS", 256, 66, false},
    {17, "IQ2_XS", 256, 74, false}, {18, "IQ3_XXS", 256, 98, false}, {19, "IQ1_S", 256, 50, false},
    {20, "IQ4_NL", 32, 18, false}, {21, "IQ3_S", 256, 110, false}, {22, "IQ2_S", 256, 82, false},
    {23, "IQ4_XS", 256, 136, false}, {24, "I8", 1, 1, false},     {25, "I16", 1, 2, false},
    {26, "I32", 1, 4, false},     {27, "I64", 1, 8, false},      {28, "F64", 1, 8, false},
    {29, "IQ1_M", 256, 56, false}, {30, "BF16", 1, 2, true},     {34, "TQ1_0", 256, 54, false},
    {35, "TQ2_0", 256, 66, false}, {39, "MXFP4", 32, 17, false},
};

const TypeLayout* find_type(uint32_t code) {
  for (const auto& t : kTypes)
    if (t.code == code) return &t;
  return nullptr;
}

std::string dequantizable_names() {
  std::vector<std::string> names;
  for (const auto& t : kTypes)
    if (t.dequantize) names.emplace_back(t.name);
  return join_names(names);
}

bool known_value_type(uint32_t t) { return t <= 12; }

// The smallest number of bytes one element of a value type takes (arrays: element type + count).
uint64_t min_value_bytes(GgufValueType t) {
  switch (t) {
    case GgufValueType::kUint8: case GgufValueType::kInt8: case GgufValueType::kBool: return 1;
    case GgufValueType::kUint16: case GgufValueType::kInt16: return 2;
    case GgufValueType::kUint32: case GgufValueType::kInt32: case GgufValueType::kFloat32: return 4;
    case GgufValueType::kUint64: case GgufValueType::kInt64: case GgufValueType::kFloat64: return 8;
    case GgufValueType::kString: return 8;
    case GgufValueType::kArray: return 12;
  }
  return 1;
}

bool is_unsigned(GgufValueType t) {
  return t == GgufValueType::kUint8 || t == GgufValueType::kUint16 || t == GgufValueType::kUint32 ||
         t == GgufValueType::kUint64;
}
bool is_signed(GgufValueType t) {
  return t == GgufValueType::kInt8 || t == GgufValueType::kInt16 || t == GgufValueType::kInt32 ||
         t == GgufValueType::kInt64;
}
bool is_float(GgufValueType t) { return t == GgufValueType::kFloat32 || t == GgufValueType::kFloat64; }

// Reads one scalar of type t (not string, not array) into the variant's kind for it.
template <typename Sink>
void read_scalar(Cursor& c, GgufValueType t, const std::string& what, Sink&& sink) {
  switch (t) {
    case GgufValueType::kUint8: sink(uint64_t{c.scalar<uint8_t>(what)}); return;
    case GgufValueType::kUint16: sink(uint64_t{c.scalar<uint16_t>(what)}); return;
    case GgufValueType::kUint32: sink(uint64_t{c.scalar<uint32_t>(what)}); return;
    case GgufValueType::kUint64: sink(uint64_t{c.scalar<uint64_t>(what)}); return;
    case GgufValueType::kInt8: sink(int64_t{c.scalar<int8_t>(what)}); return;
    case GgufValueType::kInt16: sink(int64_t{c.scalar<int16_t>(what)}); return;
    case GgufValueType::kInt32: sink(int64_t{c.scalar<int32_t>(what)}); return;
    case GgufValueType::kInt64: sink(int64_t{c.scalar<int64_t>(what)}); return;
    case GgufValueType::kFloat32: sink(double{c.scalar<float>(what)}); return;
    case GgufValueType::kFloat64: sink(double{c.scalar<double>(what)}); return;
    case GgufValueType::kBool: {
      const uint64_t at = c.pos();
      auto b = c.scalar<uint8_t>(what);
      (void)at;
      sink(b != 0);
      return;
    }
    default: break;
  }
  PTLAB_ASSERT(false, "read_scalar called with type {}", static_cast<uint32_t>(t));
}

class MetadataParser {
 public:
  MetadataParser(const std::string& path, Cursor& c) : path_(path), c_(c) {}

  GgufValueType value_type(const std::string& what) {
    const uint64_t at = c_.pos();
    auto t = c_.scalar<uint32_t>(what + " (value type)");
    PTLAB_CHECK(known_value_type(t),
                "GGUF file {}: {} has unknown value type {} at offset {}; known types are 0..12 (uint8 .. float64)",
                path_, what, t, at);
    return static_cast<GgufValueType>(t);
  }

  GgufValue value(GgufValueType t, const std::string& what) {
    GgufValue v;
    v.type = t;
    if (t == GgufValueType::kString) {
      v.value = c_.string(what);
    } else if (t == GgufValueType::kArray) {
      array(v, what, 0);
    } else {
      read_scalar(c_, t, what, [&](auto x) { v.value = x; });
    }
    return v;
  }

 private:
  uint64_t checked_count(GgufValueType element, const std::string& what) {
    const uint64_t at = c_.pos();
    auto n = c_.scalar<uint64_t>(what + " (array length)");
    const uint64_t per = min_value_bytes(element);
    PTLAB_CHECK(n <= c_.remaining() / per,
                "GGUF file {}: {} at offset {} claims {} elements of {}, more than the {} bytes left in the file "
                "can hold",
                path_, what, at, n, gguf_value_type_name(element), c_.remaining());
    return n;
  }

  void skip_array(const std::string& what, int depth) {
    PTLAB_CHECK(depth < kMaxArrayNesting, "GGUF file {}: {} nests arrays more than {} deep at offset {}", path_, what,
                kMaxArrayNesting, c_.pos());
    GgufValueType element = value_type(what + " (array element type)");
    uint64_t n = checked_count(element, what);
    for (uint64_t i = 0; i < n; ++i) {
      if (element == GgufValueType::kString)
        c_.string(what);
      else if (element == GgufValueType::kArray)
        skip_array(what, depth + 1);
      else
        read_scalar(c_, element, what, [](auto) {});
    }
  }

  void array(GgufValue& v, const std::string& what, int depth) {
    v.element_type = value_type(what + " (array element type)");
    const GgufValueType e = v.element_type;
    const uint64_t n = checked_count(e, what);
    v.array_size = n;
    const std::string item = what + " (array element)";
    if (e == GgufValueType::kString) {
      std::vector<std::string> out;
      out.reserve(n);
      for (uint64_t i = 0; i < n; ++i) out.push_back(c_.string(item));
      v.value = std::move(out);
    } else if (e == GgufValueType::kArray) {
      for (uint64_t i = 0; i < n; ++i) skip_array(item, depth + 1);
      v.value = std::vector<uint64_t>{};
    } else if (e == GgufValueType::kBool) {
      std::vector<bool> out;
      out.reserve(n);
      for (uint64_t i = 0; i < n; ++i) read_scalar(c_, e, item, [&](auto x) { out.push_back(static_cast<bool>(x)); });
      v.value = std::move(out);
    } else if (is_unsigned(e)) {
      std::vector<uint64_t> out;
      out.reserve(n);
      for (uint64_t i = 0; i < n; ++i)
        read_scalar(c_, e, item, [&](auto x) { out.push_back(static_cast<uint64_t>(x)); });
      v.value = std::move(out);
    } else if (is_signed(e)) {
      std::vector<int64_t> out;
      out.reserve(n);
      for (uint64_t i = 0; i < n; ++i) read_scalar(c_, e, item, [&](auto x) { out.push_back(static_cast<int64_t>(x)); });
      v.value = std::move(out);
    } else {
      std::vector<double> out;
      out.reserve(n);
      for (uint64_t i = 0; i < n; ++i) read_scalar(c_, e, item, [&](auto x) { out.push_back(static_cast<double>(x)); });
      v.value = std::move(out);
    }
  }

  const std::string& path_;
  Cursor& c_;
};

std::string extents_string(const std::vector<int64_t>& e) { return fmt::format("[{}]", fmt::join(e, ", ")); }

// A key or tensor name from the file, fit for a one-line message: control bytes escaped, at most 120 bytes.
std::string shown(std::string_view s) {
  std::string out;
  for (char ch : s.substr(0, 120)) {
    const auto u = static_cast<unsigned char>(ch);
    out += u < 0x20 || u == 0x7F ? fmt::format("\\x{:02x}", u) : std::string(1, ch);
  }
  if (s.size() > 120) out += fmt::format("... ({} bytes)", s.size());
  return out;
}

// The file's own info for `info`: the same name, type, offset and size, else an Error (an info from another file,
// or a changed copy, would be read out of bounds).
const GgufTensorInfo& own_info(const std::string& path, const std::vector<GgufTensorInfo>& tensors,
                               const std::map<std::string, std::size_t, std::less<>>& index,
                               const GgufTensorInfo& info) {
  auto it = index.find(info.name);
  const GgufTensorInfo* t = it == index.end() ? nullptr : &tensors[it->second];
  PTLAB_CHECK(t && t->type == info.type && t->offset == info.offset && t->bytes == info.bytes &&
                  t->elements == info.elements && t->extents == info.extents,
              "GGUF file {}: tensor '{}' ({} bytes at data offset {}) is not one of this file's tensors", path,
              shown(info.name), info.bytes, info.offset);
  return *t;
}

// The same operations, in the same order, as ggml's dequantize_row_* and gguf-py's numpy port. This
// file is compiled with -ffp-contract=off (framework/io/CMakeLists.txt) so that a*b + c never becomes one
// fused multiply-add: the results must equal the reference bit for bit.
inline float f16(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return half_to_float(h);
}

void dequant_q4_0(const uint8_t* b, float* y) {
  const float d = f16(b);
  const uint8_t* qs = b + 2;
  for (int j = 0; j < 16; ++j) {
    y[j] = d * static_cast<float>(static_cast<int>(qs[j] & 0x0F) - 8);
    y[j + 16] = d * static_cast<float>(static_cast<int>(qs[j] >> 4) - 8);
  }
}
void dequant_q4_1(const uint8_t* b, float* y) {
  const float d = f16(b), m = f16(b + 2);
  const uint8_t* qs = b + 4;
  for (int j = 0; j < 16; ++j) {
    y[j] = d * static_cast<float>(qs[j] & 0x0F) + m;
    y[j + 16] = d * static_cast<float>(qs[j] >> 4) + m;
  }
}
void dequant_q5_0(const uint8_t* b, float* y) {
  const float d = f16(b);
  uint32_t qh;
  std::memcpy(&qh, b + 2, 4);
  const uint8_t* qs = b + 6;
  for (int j = 0; j < 16; ++j) {
    const int lo = (qs[j] & 0x0F) | static_cast<int>(((qh >> j) & 1u) << 4);
    const int hi = (qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
    y[j] = d * static_cast<float>(lo - 16);
    y[j + 16] = d * static_cast<float>(hi - 16);
  }
}
void dequant_q5_1(const uint8_t* b, float* y) {
  const float d = f16(b), m = f16(b + 2);
  uint32_t qh;
  std::memcpy(&qh, b + 4, 4);
  const uint8_t* qs = b + 8;
  for (int j = 0; j < 16; ++j) {
    const int lo = (qs[j] & 0x0F) | static_cast<int>(((qh >> j) & 1u) << 4);
    const int hi = (qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
    y[j] = d * static_cast<float>(lo) + m;
    y[j + 16] = d * static_cast<float>(hi) + m;
  }
}
void dequant_q8_0(const uint8_t* b, float* y) {
  const float d = f16(b);
  const auto* qs = reinterpret_cast<const int8_t*>(b + 2);
  for (int j = 0; j < 32; ++j) y[j] = static_cast<float>(qs[j]) * d;
}

// The 6-bit scales and mins of the eight 32-element sub-blocks of a Q4_K / Q5_K block.
void k_scales(const uint8_t* s, uint8_t* sc, uint8_t* mn) {
  for (int k = 0; k < 4; ++k) {
    sc[k] = s[k] & 0x3F;
    mn[k] = s[k + 4] & 0x3F;
    sc[k + 4] = static_cast<uint8_t>((s[k + 8] & 0x0F) | ((s[k] >> 2) & 0x30));
    mn[k + 4] = static_cast<uint8_t>((s[k + 8] >> 4) | ((s[k + 4] >> 2) & 0x30));
  }
}
void dequant_q4_k(const uint8_t* b, float* y) {
  const float d = f16(b), dmin = f16(b + 2);
  uint8_t sc[8], mn[8];
  k_scales(b + 4, sc, mn);
  const uint8_t* qs = b + 16;
  for (int k = 0; k < 8; ++k) {
    const float dk = d * static_cast<float>(sc[k]);
    const float mk = dmin * static_cast<float>(mn[k]);
    const uint8_t* q = qs + 32 * (k / 2);
    const int shift = 4 * (k % 2);
    for (int l = 0; l < 32; ++l) y[32 * k + l] = dk * static_cast<float>((q[l] >> shift) & 0x0F) - mk;
  }
}
void dequant_q5_k(const uint8_t* b, float* y) {
  const float d = f16(b), dmin = f16(b + 2);
  uint8_t sc[8], mn[8];
  k_scales(b + 4, sc, mn);
  const uint8_t* qh = b + 16;
  const uint8_t* qs = b + 48;
  for (int k = 0; k < 8; ++k) {
    const float dk = d * static_cast<float>(sc[k]);
    const float mk = dmin * static_cast<float>(mn[k]);
    const uint8_t* q = qs + 32 * (k / 2);
    const int shift = 4 * (k % 2);
    for (int l = 0; l < 32; ++l) {
      const int v = ((q[l] >> shift) & 0x0F) | (((qh[l] >> k) & 1) << 4);
      y[32 * k + l] = dk * static_cast<float>(v) - mk;
    }
  }
}
void dequant_q6_k(const uint8_t* b, float* y) {
  const uint8_t* ql = b;
  const uint8_t* qh = b + 128;
  const auto* scales = reinterpret_cast<const int8_t*>(b + 192);
  const float d = f16(b + 208);
  for (int c = 0; c < 8; ++c) {  // eight chunks of 32: two halves of 128, four chunks each
    const int h = c / 4, r = c % 4;
    const uint8_t* lo = ql + 64 * h + 32 * (r % 2);
    const int lo_shift = 4 * (r / 2);
    const uint8_t* hi = qh + 32 * h;
    const int hi_shift = 2 * r;
    for (int l = 0; l < 32; ++l) {
      const int e = 32 * c + l;
      const int q = (((lo[l] >> lo_shift) & 0x0F) | (((hi[l] >> hi_shift) & 0x03) << 4)) - 32;
      const float ds = d * static_cast<float>(scales[e / 16]);
      y[e] = ds * static_cast<float>(q);
    }
  }
}

}  // namespace

std::string gguf_value_type_name(GgufValueType type) {
  static const char* names[] = {"uint8", "int8",   "uint16", "int16",  "uint32", "int32", "float32",
                                "bool",  "string", "array",  "uint64", "int64",  "float64"};
  auto i = static_cast<uint32_t>(type);
  return i < 13 ? names[i] : fmt::format("type {}", i);
}

std::string ggml_type_name(uint32_t code) {
  const TypeLayout* t = find_type(code);
  return t ? t->name : fmt::format("type {}", code);
}

bool ggml_block_layout(uint32_t code, int64_t& block_elements, int64_t& block_bytes) {
  const TypeLayout* t = find_type(code);
  if (!t) return false;
  block_elements = t->block_elements;
  block_bytes = t->block_bytes;
  return true;
}

bool ggml_can_dequantize(uint32_t code) {
  const TypeLayout* t = find_type(code);
  return t && t->dequantize;
}

float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1F;
  uint32_t mant = h & 0x3FF;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while ((mant & 0x400) == 0);
      mant &= 0x3FF;
      bits = sign | static_cast<uint32_t>(127 - 15 - e) << 23 | mant << 13;
    }
  } else if (exp == 0x1F) {
    bits = sign | 0x7F800000u | mant << 13;
  } else {
    bits = sign | (exp + 127 - 15) << 23 | mant << 13;
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

float bf16_to_float(uint16_t h) {
  const uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

void dequantize(uint32_t code, const uint8_t* data, int64_t count, float* out) {
  const TypeLayout* t = find_type(code);
  PTLAB_CHECK(t && t->dequantize, "cannot dequantize ggml type {}; supported: {}", ggml_type_name(code),
              dequantizable_names());
  PTLAB_ASSERT(count % t->block_elements == 0, "{} elements of {} are not whole blocks of {}", count, t->name,
               t->block_elements);
  const int64_t blocks = count / t->block_elements;
  switch (static_cast<GgmlType>(code)) {
    case GgmlType::kF32: std::memcpy(out, data, static_cast<std::size_t>(count) * 4); return;
    case GgmlType::kF16:
      for (int64_t i = 0; i < count; ++i) out[i] = f16(data + 2 * i);
      return;
    case GgmlType::kBF16:
      for (int64_t i = 0; i < count; ++i) {
        uint16_t h;
        std::memcpy(&h, data + 2 * i, 2);
        out[i] = bf16_to_float(h);
      }
      return;
    default: break;
  }
  void (*fn)(const uint8_t*, float*) = nullptr;
  switch (static_cast<GgmlType>(code)) {
    case GgmlType::kQ4_0: fn = dequant_q4_0; break;
    case GgmlType::kQ4_1: fn = dequant_q4_1; break;
    case GgmlType::kQ5_0: fn = dequant_q5_0; break;
    case GgmlType::kQ5_1: fn = dequant_q5_1; break;
    case GgmlType::kQ8_0: fn = dequant_q8_0; break;
    case GgmlType::kQ4_K: fn = dequant_q4_k; break;
    case GgmlType::kQ5_K: fn = dequant_q5_k; break;
    case GgmlType::kQ6_K: fn = dequant_q6_k; break;
    default: PTLAB_ASSERT(false, "no dequantizer for {}", t->name);
  }
  for (int64_t i = 0; i < blocks; ++i) fn(data + i * t->block_bytes, out + i * t->block_elements);
}

// ---- GgufFile ------------------------------------------------------------------------------------------

GgufFile::GgufFile(std::string path) : path_(std::move(path)) {
  Mapping map(path_);
  file_size_ = map.size();
  Cursor c(path_, map.data(), map.size());
  PTLAB_CHECK(file_size_ >= 4, "GGUF file {}: {} bytes is too short to be a GGUF file (it starts with \"GGUF\")",
              path_, file_size_);
  const auto magic = c.scalar<uint32_t>("the magic");
  if (magic != kMagic) {
    std::string seen;
    for (int i = 0; i < 4; ++i) {
      const char ch = static_cast<char>((magic >> (8 * i)) & 0xFF);
      seen += (ch >= 0x20 && ch < 0x7F) ? std::string(1, ch) : fmt::format("\\x{:02x}", static_cast<uint8_t>(ch));
    }
    PTLAB_FAIL("GGUF file {}: not a GGUF file: it starts with \"{}\", expected \"GGUF\"", path_, seen);
  }
  version_ = c.scalar<uint32_t>("the version");
  PTLAB_CHECK(version_ != 1,
              "GGUF file {}: GGUF version 1 (32-bit counts, before August 2023) is not supported; convert it again "
              "with a current llama.cpp (versions 2 and 3 are read)",
              path_);
  PTLAB_CHECK(version_ == 2 || version_ == 3,
              "GGUF file {}: unsupported GGUF version {}{}; versions 2 and 3 are read", path_, version_,
              (version_ & 0xFFFF) == 0 ? " (a big-endian file?)" : "");
  const auto tensor_count = c.scalar<uint64_t>("the tensor count");
  const auto kv_count = c.scalar<uint64_t>("the metadata count");
  // A tensor info is at least 8 (name length) + 4 (n_dims) + 8 (one extent) + 4 (type) + 8 (offset) bytes;
  // a metadata entry at least 8 (key length) + 4 (type) + 1 (value) bytes.
  PTLAB_CHECK(kv_count <= c.remaining() / 13,
              "GGUF file {}: the header claims {} metadata entries, more than a {}-byte file can hold", path_, kv_count,
              file_size_);
  PTLAB_CHECK(tensor_count <= c.remaining() / 32,
              "GGUF file {}: the header claims {} tensors, more than a {}-byte file can hold", path_, tensor_count,
              file_size_);

  MetadataParser parser(path_, c);
  metadata_.reserve(kv_count);
  for (uint64_t i = 0; i < kv_count; ++i) {
    const uint64_t at = c.pos();
    std::string key = c.string(fmt::format("metadata key #{}", i));
    const std::string what = fmt::format("metadata '{}'", shown(key));
    GgufValueType t = parser.value_type(what);
    GgufValue v = parser.value(t, what);
    PTLAB_CHECK(!metadata_index_.count(key), "GGUF file {}: metadata key '{}' appears twice (the second at offset {})",
                path_, shown(key), at);
    metadata_index_.emplace(key, metadata_.size());
    metadata_.emplace_back(std::move(key), std::move(v));
  }

  if (has("general.alignment")) {
    const GgufValue& a = get("general.alignment");
    PTLAB_CHECK(a.type == GgufValueType::kUint32, "GGUF file {}: general.alignment must be a uint32, got {}", path_,
                gguf_value_type_name(a.type));
    const uint64_t align = std::get<uint64_t>(a.value);
    PTLAB_CHECK(align != 0 && (align & (align - 1)) == 0,
                "GGUF file {}: general.alignment is {}; it must be a power of two (default 32)", path_, align);
    alignment_ = align;
  }

  tensors_.reserve(tensor_count);
  for (uint64_t i = 0; i < tensor_count; ++i) {
    GgufTensorInfo info;
    info.name = c.string(fmt::format("the name of tensor #{}", i));
    const std::string name = shown(info.name);
    const std::string where = fmt::format("GGUF file {}: tensor '{}'", path_, name);
    const uint64_t dims_at = c.pos();
    const auto n_dims = c.scalar<uint32_t>(fmt::format("tensor '{}' dimension count", name));
    PTLAB_CHECK(n_dims >= 1 && n_dims <= kMaxDims, "{}: {} dimensions at offset {}; a tensor has 1 to {}", where,
                n_dims, dims_at, kMaxDims);
    uint64_t elements = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const auto e = c.scalar<uint64_t>(fmt::format("tensor '{}' extents", name));
      PTLAB_CHECK(e >= 1 && e <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()),
                  "{}: extent {} of {} at offset {} is not a positive size", where, d, e, dims_at);
      PTLAB_CHECK(elements <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / e,
                  "{}: {} elements overflow", where, extents_string(info.extents));
      elements *= e;
      info.extents.push_back(static_cast<int64_t>(e));
    }
    const uint64_t type_at = c.pos();
    info.type = c.scalar<uint32_t>(fmt::format("tensor '{}' type", name));
    const TypeLayout* layout = find_type(info.type);
    PTLAB_CHECK(layout, "{}: unknown ggml type {} at offset {} (known: F32, F16, BF16, Q4_0 .. Q8_K, IQ*, I8 .. F64)",
                where, info.type, type_at);
    PTLAB_CHECK(info.extents[0] % layout->block_elements == 0,
                "{}: rows of {} elements are not whole {} blocks of {}; shape {} (GGUF order)", where, info.extents[0],
                layout->name, layout->block_elements, extents_string(info.extents));
    info.elements = static_cast<int64_t>(elements);
    // blocks * block_bytes can exceed 2^64 (F32 with 2^62 elements wraps to 0 bytes): compare against the file first
    const uint64_t blocks = elements / static_cast<uint64_t>(layout->block_elements);
    PTLAB_CHECK(blocks <= file_size_ / static_cast<uint64_t>(layout->block_bytes),
                "{}: {} {} ({} elements) needs more bytes than the {}-byte file holds", where, layout->name,
                extents_string(info.extents), elements, file_size_);
    info.bytes = blocks * static_cast<uint64_t>(layout->block_bytes);
    info.offset = c.scalar<uint64_t>(fmt::format("tensor '{}' offset", name));
    PTLAB_CHECK(info.offset % alignment_ == 0, "{}: data offset {} is not a multiple of the alignment {}", where,
                info.offset, alignment_);
    PTLAB_CHECK(!tensor_index_.count(info.name), "GGUF file {}: tensor '{}' appears twice", path_, name);
    tensor_index_.emplace(info.name, tensors_.size());
    tensors_.push_back(std::move(info));
  }

  data_offset_ = (c.pos() + alignment_ - 1) / alignment_ * alignment_;
  const uint64_t data_size = file_size_ >= data_offset_ ? file_size_ - data_offset_ : 0;
  PTLAB_CHECK(tensors_.empty() || data_offset_ <= file_size_,
              "GGUF file {}: truncated: the data area should start at offset {}, but the file has {} bytes", path_,
              data_offset_, file_size_);
  std::vector<const GgufTensorInfo*> by_offset;
  for (const auto& t : tensors_) {
    PTLAB_CHECK(t.offset <= data_size && t.bytes <= data_size - t.offset,
                "GGUF file {}: tensor '{}' ({} {}, {} bytes at data offset {}) runs past the end of the file (the data "
                "area holds {} bytes; truncated?)",
                path_, shown(t.name), ggml_type_name(t.type), extents_string(t.extents), t.bytes, t.offset, data_size);
    by_offset.push_back(&t);
  }
  std::sort(by_offset.begin(), by_offset.end(),
            [](const GgufTensorInfo* a, const GgufTensorInfo* b) { return a->offset < b->offset; });
  for (std::size_t i = 1; i < by_offset.size(); ++i)
    PTLAB_CHECK(by_offset[i - 1]->offset + by_offset[i - 1]->bytes <= by_offset[i]->offset,
                "GGUF file {}: tensors '{}' (bytes {}..{}) and '{}' (from {}) overlap in the data area", path_,
                shown(by_offset[i - 1]->name), by_offset[i - 1]->offset,
                by_offset[i - 1]->offset + by_offset[i - 1]->bytes, shown(by_offset[i]->name), by_offset[i]->offset);
}

bool GgufFile::has(std::string_view key) const { return metadata_index_.find(key) != metadata_index_.end(); }

const GgufValue& GgufFile::get(std::string_view key) const {
  auto it = metadata_index_.find(key);
  if (it == metadata_index_.end()) {
    std::vector<std::string> keys;
    for (const auto& kv : metadata_) keys.push_back(kv.first);
    PTLAB_FAIL("GGUF file {}: no metadata '{}'{}", path_, key, did_you_mean(key, keys));
  }
  return metadata_[it->second].second;
}

namespace {
std::string kind_of(const GgufValue& v) {
  return v.is_array() ? fmt::format("array of {}", gguf_value_type_name(v.element_type))
                      : gguf_value_type_name(v.type);
}
}  // namespace

int64_t GgufFile::get_int(std::string_view key) const {
  const GgufValue& v = get(key);
  if (is_unsigned(v.type)) {
    const uint64_t u = std::get<uint64_t>(v.value);
    PTLAB_CHECK(u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()),
                "GGUF file {}: metadata '{}' = {} is too large", path_, key, u);
    return static_cast<int64_t>(u);
  }
  if (is_signed(v.type)) return std::get<int64_t>(v.value);
  PTLAB_FAIL("GGUF file {}: metadata '{}' is a {}, expected an integer", path_, key, kind_of(v));
}
int64_t GgufFile::get_int(std::string_view key, int64_t fallback) const { return has(key) ? get_int(key) : fallback; }

double GgufFile::get_float(std::string_view key) const {
  const GgufValue& v = get(key);
  if (is_float(v.type)) return std::get<double>(v.value);
  if (is_unsigned(v.type) || is_signed(v.type)) return static_cast<double>(get_int(key));
  PTLAB_FAIL("GGUF file {}: metadata '{}' is a {}, expected a number", path_, key, kind_of(v));
}
double GgufFile::get_float(std::string_view key, double fallback) const {
  return has(key) ? get_float(key) : fallback;
}

bool GgufFile::get_bool(std::string_view key, bool fallback) const {
  if (!has(key)) return fallback;
  const GgufValue& v = get(key);
  PTLAB_CHECK(v.type == GgufValueType::kBool, "GGUF file {}: metadata '{}' is a {}, expected a bool", path_, key,
              kind_of(v));
  return std::get<bool>(v.value);
}

std::string GgufFile::get_string(std::string_view key) const {
  const GgufValue& v = get(key);
  PTLAB_CHECK(v.type == GgufValueType::kString, "GGUF file {}: metadata '{}' is a {}, expected a string", path_, key,
              kind_of(v));
  return std::get<std::string>(v.value);
}
std::string GgufFile::get_string(std::string_view key, const std::string& fallback) const {
  return has(key) ? get_string(key) : fallback;
}

const std::vector<std::string>& GgufFile::get_strings(std::string_view key) const {
  const GgufValue& v = get(key);
  PTLAB_CHECK(v.is_array() && v.element_type == GgufValueType::kString,
              "GGUF file {}: metadata '{}' is a {}, expected an array of strings", path_, key, kind_of(v));
  return std::get<std::vector<std::string>>(v.value);
}

std::vector<double> GgufFile::get_floats(std::string_view key) const {
  const GgufValue& v = get(key);
  PTLAB_CHECK(v.is_array() && (is_float(v.element_type) || is_signed(v.element_type) || is_unsigned(v.element_type)),
              "GGUF file {}: metadata '{}' is a {}, expected an array of numbers", path_, key, kind_of(v));
  if (is_float(v.element_type)) return std::get<std::vector<double>>(v.value);
  std::vector<double> out;
  for (int64_t x : get_ints(key)) out.push_back(static_cast<double>(x));
  return out;
}

std::vector<int64_t> GgufFile::get_ints(std::string_view key) const {
  const GgufValue& v = get(key);
  PTLAB_CHECK(v.is_array() && (is_signed(v.element_type) || is_unsigned(v.element_type)),
              "GGUF file {}: metadata '{}' is a {}, expected an array of integers", path_, key, kind_of(v));
  if (is_signed(v.element_type)) return std::get<std::vector<int64_t>>(v.value);
  std::vector<int64_t> out;
  for (uint64_t u : std::get<std::vector<uint64_t>>(v.value)) {
    PTLAB_CHECK(u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()),
                "GGUF file {}: metadata '{}' holds {}, too large", path_, key, u);
    out.push_back(static_cast<int64_t>(u));
  }
  return out;
}

bool GgufFile::contains(std::string_view name) const { return tensor_index_.find(name) != tensor_index_.end(); }

const GgufTensorInfo& GgufFile::tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  if (it == tensor_index_.end()) {
    std::vector<std::string> names;
    for (const auto& t : tensors_) names.push_back(t.name);
    PTLAB_FAIL("GGUF file {}: no tensor '{}'{}", path_, name, did_you_mean(name, names));
  }
  return tensors_[it->second];
}

std::vector<uint8_t> GgufFile::read_raw(const GgufTensorInfo& given) const {
  const GgufTensorInfo& info = own_info(path_, tensors_, tensor_index_, given);
  Mapping map(path_);
  check_unchanged(path_, map, file_size_);
  const uint8_t* p = map.data() + data_offset_ + info.offset;
  return std::vector<uint8_t>(p, p + info.bytes);
}

std::vector<float> GgufFile::read_f32(const GgufTensorInfo& given) const {
  std::vector<float> out(static_cast<std::size_t>(own_info(path_, tensors_, tensor_index_, given).elements));
  read_f32(given, out.data());
  return out;
}

void GgufFile::read_f32(const GgufTensorInfo& given, float* out) const {
  const GgufTensorInfo& info = own_info(path_, tensors_, tensor_index_, given);
  PTLAB_CHECK(ggml_can_dequantize(info.type),
              "GGUF file {}: tensor '{}' is {}, which ptlab cannot dequantize; supported: {}", path_, shown(info.name),
              ggml_type_name(info.type), dequantizable_names());
  Mapping map(path_);
  check_unchanged(path_, map, file_size_);
  dequantize(info.type, map.data() + data_offset_ + info.offset, info.elements, out);
}

}  // namespace ptlab::io
