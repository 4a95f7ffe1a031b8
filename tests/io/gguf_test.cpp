// The GGUF reader and dequantizer (framework/io/gguf.h) against the `gguf` Python package's reader and numpy
// dequantization (fixtures from tests/fixtures/references/make_gguf_fixtures.py), and against a corpus of
// malformed files made here by byte surgery on copies of the fixtures: each must be one ptlab::Error that
// names the file and what is wrong, never a crash or an absurd allocation.
#include "framework/io/gguf.h"

#include "framework/core/error.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <map>
#include <string>
#include <variant>
#include <vector>

namespace ptlab::io {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Bytes = std::vector<uint8_t>;

std::string fixture(const std::string& name) {
  return std::string(PTLAB_SOURCE_DIR) + "/tests/fixtures/gguf/" + name;
}

Bytes read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << path;
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

json read_json(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  return json::parse(in);
}

uint32_t get_u32(const Bytes& b, std::size_t at) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | b.at(at + i);
  return v;
}
uint64_t get_u64(const Bytes& b, std::size_t at) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | b.at(at + i);
  return v;
}
void put_u32(Bytes& b, std::size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) b.at(at + i) = static_cast<uint8_t>(v >> (8 * i));
}
void put_u64(Bytes& b, std::size_t at, uint64_t v) {
  for (int i = 0; i < 8; ++i) b.at(at + i) = static_cast<uint8_t>(v >> (8 * i));
}

// Where things are in a well-formed GGUF file, found by walking it (an independent, trusting walker: it only
// runs on the committed fixtures, which the Python reader has read).
struct KvLoc {
  std::string key;
  std::size_t at = 0;         // the key's uint64 length
  std::size_t type_at = 0;    // the uint32 value type
  std::size_t value_at = 0;   // the value (for arrays: the uint32 element type)
  std::size_t count_at = 0;   // arrays: the uint64 count
  std::size_t elements_at = 0;  // arrays: the first element
  std::size_t end = 0;
  uint32_t type = 0;
};
struct TensorLoc {
  std::string name;
  std::size_t at = 0;          // the name's uint64 length
  std::size_t n_dims_at = 0;   // uint32
  std::size_t extents_at = 0;  // n_dims uint64
  std::size_t type_at = 0;     // uint32 ggml type
  std::size_t offset_at = 0;   // uint64 offset into the data area
  std::size_t end = 0;
};
struct Layout {
  std::vector<KvLoc> kvs;
  std::vector<TensorLoc> tensors;
  std::size_t infos_end = 0;

  const KvLoc& kv(const std::string& key) const {
    for (const auto& k : kvs)
      if (k.key == key) return k;
    throw std::runtime_error("no key " + key);
  }
  const TensorLoc& tensor(const std::string& name) const {
    for (const auto& t : tensors)
      if (t.name == name) return t;
    throw std::runtime_error("no tensor " + name);
  }
};

std::size_t skip_value(const Bytes& b, uint32_t type, std::size_t at) {
  static const int kScalar[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
  if (type == 8) return at + 8 + get_u64(b, at);
  if (type == 9) {
    uint32_t element = get_u32(b, at);
    uint64_t count = get_u64(b, at + 4);
    at += 12;
    for (uint64_t i = 0; i < count; ++i) at = skip_value(b, element, at);
    return at;
  }
  return at + kScalar[type];
}

Layout walk(const Bytes& b) {
  Layout layout;
  uint64_t n_tensors = get_u64(b, 8), n_kv = get_u64(b, 16);
  std::size_t at = 24;
  for (uint64_t i = 0; i < n_kv; ++i) {
    KvLoc kv;
    kv.at = at;
    uint64_t len = get_u64(b, at);
    kv.key.assign(b.begin() + at + 8, b.begin() + at + 8 + len);
    kv.type_at = at + 8 + len;
    kv.type = get_u32(b, kv.type_at);
    kv.value_at = kv.type_at + 4;
    if (kv.type == 9) {
      kv.count_at = kv.value_at + 4;
      kv.elements_at = kv.value_at + 12;
    }
    kv.end = at = skip_value(b, kv.type, kv.value_at);
    layout.kvs.push_back(kv);
  }
  for (uint64_t i = 0; i < n_tensors; ++i) {
    TensorLoc t;
    t.at = at;
    uint64_t len = get_u64(b, at);
    t.name.assign(b.begin() + at + 8, b.begin() + at + 8 + len);
    t.n_dims_at = at + 8 + len;
    t.extents_at = t.n_dims_at + 4;
    t.type_at = t.extents_at + 8 * get_u32(b, t.n_dims_at);
    t.offset_at = t.type_at + 4;
    t.end = at = t.offset_at + 8;
    layout.tensors.push_back(t);
  }
  layout.infos_end = at;
  return layout;
}

// The message of the ptlab::Error that `f` throws; a test failure when it throws nothing or something else.
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected a ptlab::Error, got another exception: " << e.what();
    return "";
  }
  ADD_FAILURE() << "expected a ptlab::Error, nothing was thrown";
  return "";
}

// A fresh directory for the malformed copies, removed with its contents at the end of the test.
class GgufTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ptlab_gguf_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string write(const std::string& name, const Bytes& bytes) const {
    std::string p = (dir_ / name).string();
    std::ofstream out(p, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    return p;
  }
  fs::path dir_;
};

// ------------------------------------------------------------------------------------------- metadata

// Deep equality of a value the reader produced (as JSON) and the one the Python reader produced. Integers
// compare by value and sign (nlohmann would equate uint64 max with int64 -1); floats must be floats.
bool same_json(const json& actual, const json& expected, std::string& why) {
  if (expected.is_array()) {
    if (!actual.is_array() || actual.size() != expected.size()) {
      why = "array of " + std::to_string(expected.size()) + " expected, got " + actual.dump();
      return false;
    }
    for (std::size_t i = 0; i < expected.size(); ++i)
      if (!same_json(actual[i], expected[i], why)) {
        why = "element " + std::to_string(i) + ": " + why;
        return false;
      }
    return true;
  }
  bool ok = false;
  if (expected.is_number_unsigned() || expected.is_number_integer()) {
    bool expected_negative = expected.is_number_integer() && !expected.is_number_unsigned() &&
                             expected.get<int64_t>() < 0;
    bool actual_negative = actual.is_number_integer() && !actual.is_number_unsigned() && actual.get<int64_t>() < 0;
    if (actual.is_number_integer() && expected_negative == actual_negative)
      ok = expected_negative ? actual.get<int64_t>() == expected.get<int64_t>()
                             : actual.get<uint64_t>() == expected.get<uint64_t>();
  } else if (expected.is_number_float()) {
    ok = actual.is_number_float() && actual.get<double>() == expected.get<double>();
  } else {
    ok = actual == expected;  // bool, string
  }
  if (!ok) why = "expected " + expected.dump() + ", got " + actual.dump();
  return ok;
}

json value_as_json(const GgufValue& v) {
  return std::visit([](const auto& x) { return json(x); }, v.value);
}

TEST(Gguf, HeaderOfFields) {
  json expected = read_json(fixture("fields.json"));
  GgufFile f(fixture("fields.gguf"));
  EXPECT_EQ(f.path(), fixture("fields.gguf"));
  EXPECT_EQ(f.version(), expected["version"].get<uint32_t>());
  EXPECT_EQ(f.alignment(), 64u);
  EXPECT_EQ(f.alignment(), expected["alignment"].get<uint64_t>());
  EXPECT_EQ(f.data_offset(), expected["data_offset"].get<uint64_t>());
  EXPECT_EQ(f.data_offset() % 64, 0u);
}

TEST(Gguf, EveryFieldMatchesThePythonReader) {
  json expected = read_json(fixture("fields.json"));
  GgufFile f(fixture("fields.gguf"));
  const auto& fields = expected["fields"];
  ASSERT_EQ(f.metadata().size(), fields.size());
  for (std::size_t i = 0; i < fields.size(); ++i) {
    const json& e = fields[i];
    const std::string key = e["key"];
    SCOPED_TRACE(key);
    EXPECT_EQ(f.metadata()[i].first, key) << "metadata not in file order";
    ASSERT_TRUE(f.has(key));
    const GgufValue& v = f.get(key);
    EXPECT_EQ(&v, &f.metadata()[i].second);
    EXPECT_EQ(gguf_value_type_name(v.type), e["type"].get<std::string>());
    EXPECT_EQ(v.is_array(), e["type"] == "array");
    if (v.is_array()) {
      EXPECT_EQ(gguf_value_type_name(v.element_type), e["element_type"].get<std::string>());
      EXPECT_EQ(v.array_size, e["array_size"].get<uint64_t>());
    }
    if (e["value"].is_null()) continue;  // the nested array: only its count is kept
    std::string why;
    EXPECT_TRUE(same_json(value_as_json(v), e["value"], why)) << why;
  }
  EXPECT_FALSE(f.has("test.absent"));
  EXPECT_FALSE(f.has("test.uint"));  // a prefix of a key is not the key
}

TEST(Gguf, TypedGetters) {
  GgufFile f(fixture("fields.gguf"));
  EXPECT_EQ(f.get_int("test.uint8"), 200);
  EXPECT_EQ(f.get_int("test.int8"), -100);
  EXPECT_EQ(f.get_int("test.uint16"), 60000);
  EXPECT_EQ(f.get_int("test.int16"), -30000);
  EXPECT_EQ(f.get_int("test.uint32"), 4000000000LL);
  EXPECT_EQ(f.get_int("test.int32"), -2000000000LL);
  EXPECT_EQ(f.get_int("test.int64"), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(f.get_int("test.int64_small"), 42);
  EXPECT_EQ(f.get_int("general.alignment"), 64);
  EXPECT_EQ(f.get_int("test.absent", -7), -7);
  EXPECT_EQ(f.get_int("test.uint8", -7), 200);
  // uint64 max does not fit int64: an Error, not a wrapped -1
  std::string msg = error_of([&] { f.get_int("test.uint64"); });
  EXPECT_NE(msg.find("test.uint64"), std::string::npos) << msg;

  EXPECT_EQ(f.get_float("test.float32"), static_cast<double>(3.14159f));
  EXPECT_EQ(f.get_float("test.float64"), 2.718281828459045);
  EXPECT_EQ(f.get_float("test.int8"), -100.0);  // integers are floats too
  EXPECT_EQ(f.get_float("test.absent", 0.5), 0.5);
  EXPECT_TRUE(f.get_bool("test.bool_true", false));
  EXPECT_FALSE(f.get_bool("test.bool_false", true));
  EXPECT_TRUE(f.get_bool("test.absent", true));

  EXPECT_EQ(f.get_string("general.architecture"), "ptlab-test");
  EXPECT_EQ(f.get_string("test.string"), "h\xc3\xa9llo, w\xc3\xb6rld \xe2\x9c\x93");
  EXPECT_EQ(f.get_string("test.string_empty"), "");
  EXPECT_EQ(f.get_string("test.string_nul"), std::string("a\0b", 3));
  EXPECT_EQ(f.get_string("test.absent", "fallback"), "fallback");
  EXPECT_EQ(f.get_strings("test.array.string"),
            (std::vector<std::string>{"a", "", "\xc3\xbc\xc3\x9f", "tokens with spaces"}));
  EXPECT_EQ(f.get_ints("test.array.int8"), (std::vector<int64_t>{-128, 0, 127}));
  EXPECT_EQ(f.get_ints("test.array.uint16"), (std::vector<int64_t>{0, 65535}));
  EXPECT_EQ(f.get_ints("test.array.int32"), (std::vector<int64_t>{-2147483648LL, 2147483647LL, -1, 0}));
  EXPECT_EQ(f.get_ints("test.array.int64"),
            (std::vector<int64_t>{std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(), -5}));
  EXPECT_EQ(f.get_floats("test.array.float32"),
            (std::vector<double>{1.5, -2.25, static_cast<double>(1e-30f), static_cast<double>(0.1f)}));
  EXPECT_EQ(f.get_floats("test.array.float64"), (std::vector<double>{0.1, -1e300, 5e-324}));
  EXPECT_EQ(f.get_floats("test.array.uint8"), (std::vector<double>{0, 1, 255}));

  // wrong kinds and missing keys name the key (and for kinds, what was found)
  struct Bad {
    std::function<void()> call;
    std::vector<std::string> needles;
  };
  std::vector<Bad> bad = {
      {[&] { f.get_string("test.uint8"); }, {"test.uint8", "uint8", "string"}},
      {[&] { f.get_int("test.string"); }, {"test.string", "string"}},
      {[&] { f.get_int("test.float32"); }, {"test.float32", "float32"}},
      {[&] { f.get_float("test.string"); }, {"test.string", "string"}},
      {[&] { f.get_strings("test.array.int32"); }, {"test.array.int32"}},
      {[&] { f.get_ints("test.array.string"); }, {"test.array.string"}},
      {[&] { f.get_ints("test.array.float32"); }, {"test.array.float32"}},
      {[&] { f.get_floats("test.array.string"); }, {"test.array.string"}},
      {[&] { f.get_strings("test.string"); }, {"test.string"}},
      {[&] { f.get_bool("test.uint8", false); }, {"test.uint8", "bool"}},
      {[&] { f.get("test.absent"); }, {"test.absent", "fields.gguf"}},
      {[&] { f.get_int("test.absent"); }, {"test.absent"}},
      {[&] { f.get_string("test.absent"); }, {"test.absent"}},
  };
  for (std::size_t i = 0; i < bad.size(); ++i) {
    SCOPED_TRACE("bad call " + std::to_string(i));
    std::string m = error_of(bad[i].call);
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
    for (const auto& needle : bad[i].needles) EXPECT_NE(m.find(needle), std::string::npos) << needle << " in: " << m;
  }
}

// ------------------------------------------------------------------------------------------- tensors

Bytes from_hex(const std::string& hex) {
  Bytes out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(static_cast<uint8_t>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

// Bit-exact comparison of float vectors; the failure names the first differing element.
::testing::AssertionResult bit_equal(const std::vector<float>& actual, const std::vector<float>& expected) {
  if (actual.size() != expected.size())
    return ::testing::AssertionFailure() << "size " << actual.size() << " != expected " << expected.size();
  if (std::memcmp(actual.data(), expected.data(), actual.size() * sizeof(float)) == 0)
    return ::testing::AssertionSuccess();
  for (std::size_t i = 0; i < actual.size(); ++i) {
    uint32_t a, e;
    std::memcpy(&a, &actual[i], 4);
    std::memcpy(&e, &expected[i], 4);
    if (a != e) {
      std::size_t n = 0;
      for (std::size_t j = i; j < actual.size(); ++j) n += std::memcmp(&actual[j], &expected[j], 4) != 0;
      char buf[160];
      std::snprintf(buf, sizeof buf, "first mismatch at %zu: %.9g (0x%08x) != expected %.9g (0x%08x); %zu of %zu differ",
                    i, actual[i], a, expected[i], e, n, actual.size());
      return ::testing::AssertionFailure() << buf;
    }
  }
  return ::testing::AssertionSuccess();
}

TEST(Gguf, TensorInfosMatchThePythonReader) {
  json expected = read_json(fixture("fields.json"));
  GgufFile f(fixture("fields.gguf"));
  const auto& tensors = expected["tensors"];
  ASSERT_EQ(f.tensors().size(), tensors.size());
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const json& e = tensors[i];
    const std::string name = e["name"];
    SCOPED_TRACE(name);
    const GgufTensorInfo& info = f.tensors()[i];
    EXPECT_EQ(info.name, name) << "tensors not in file order";
    ASSERT_TRUE(f.contains(name));
    EXPECT_EQ(&f.tensor(name), &info);
    auto extents = e["extents"].get<std::vector<int64_t>>();
    EXPECT_EQ(info.extents, extents);
    EXPECT_EQ(info.shape(), std::vector<int64_t>(extents.rbegin(), extents.rend()));
    EXPECT_EQ(info.type, e["type"].get<uint32_t>());
    EXPECT_EQ(ggml_type_name(info.type), e["type_name"].get<std::string>());
    EXPECT_EQ(info.offset, e["offset"].get<uint64_t>());
    EXPECT_EQ(info.offset % 64, 0u);
    EXPECT_EQ(info.bytes, e["bytes"].get<uint64_t>());
    EXPECT_EQ(info.elements, e["elements"].get<int64_t>());
    Bytes raw = f.read_raw(info);
    EXPECT_EQ(raw.size(), info.bytes);
    EXPECT_EQ(raw, from_hex(e["raw_hex"].get<std::string>()));
    if (e.contains("values")) {
      EXPECT_TRUE(bit_equal(f.read_f32(info), e["values"].get<std::vector<float>>()));
    } else {
      std::string msg = error_of([&] { f.read_f32(info); });
      EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
      EXPECT_NE(msg.find(name), std::string::npos) << msg;
      EXPECT_NE(msg.find(e["type_name"].get<std::string>()), std::string::npos) << msg;
    }
  }
  EXPECT_FALSE(f.contains("t.f32"));
  std::string msg = error_of([&] { f.tensor("t.f32.2d"); });
  EXPECT_NE(msg.find("t.f32.2d"), std::string::npos) << msg;
  EXPECT_NE(msg.find("t.f32.1d"), std::string::npos) << "close names: " << msg;
}

// quants_expected.safetensors: the float32 tensors gguf.quants.dequantize made, by name.
std::map<std::string, std::vector<float>> read_expected_floats(const std::string& path) {
  Bytes file = read_bytes(path);
  uint64_t n = get_u64(file, 0);
  json header = json::parse(file.begin() + 8, file.begin() + 8 + static_cast<std::ptrdiff_t>(n));
  std::map<std::string, std::vector<float>> out;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") continue;
    EXPECT_EQ(entry["dtype"], "F32") << name;
    auto range = entry["data_offsets"].get<std::vector<uint64_t>>();
    std::vector<float> values((range[1] - range[0]) / 4);
    std::memcpy(values.data(), file.data() + 8 + n + range[0], values.size() * 4);
    out[name] = std::move(values);
  }
  return out;
}

TEST(Gguf, DequantizationIsBitExact) {
  auto expected = read_expected_floats(fixture("quants_expected.safetensors"));
  ASSERT_EQ(expected.size(), 16u);  // F32, F16, BF16, 5 quantized, 8 random-bit
  GgufFile f(fixture("quants.gguf"));
  EXPECT_EQ(f.alignment(), 32u);  // the default
  ASSERT_EQ(f.tensors().size(), expected.size());
  std::map<uint32_t, int> tensors_per_type;
  for (const auto& info : f.tensors()) {
    SCOPED_TRACE(info.name + " (" + ggml_type_name(info.type) + ")");
    ASSERT_TRUE(expected.count(info.name));
    EXPECT_EQ(info.name.substr(0, info.name.find('.')), ggml_type_name(info.type));
    ++tensors_per_type[info.type];
    EXPECT_EQ(info.extents, (std::vector<int64_t>{512, 2}));
    EXPECT_EQ(info.shape(), (std::vector<int64_t>{2, 512}));
    EXPECT_EQ(info.elements, 1024);
    EXPECT_TRUE(ggml_can_dequantize(info.type));
    int64_t block_elements = 0, block_bytes = 0;
    ASSERT_TRUE(ggml_block_layout(info.type, block_elements, block_bytes));
    EXPECT_EQ(info.bytes, static_cast<uint64_t>(1024 / block_elements * block_bytes));
    EXPECT_EQ(info.offset % 32, 0u);
    Bytes raw = f.read_raw(info);
    ASSERT_EQ(raw.size(), info.bytes);
    EXPECT_TRUE(bit_equal(f.read_f32(info), expected[info.name]));
    // the free function, on the raw bytes, row by row
    std::vector<float> out(1024, -1.0f);
    dequantize(info.type, raw.data(), 512, out.data());
    dequantize(info.type, raw.data() + raw.size() / 2, 512, out.data() + 512);
    EXPECT_TRUE(bit_equal(out, expected[info.name]));
  }
  // every dequantized type is covered
  for (uint32_t code : {0u, 1u, 30u, 8u, 2u, 3u, 6u, 7u, 12u, 13u, 14u})
    EXPECT_GE(tensors_per_type[code], 1) << ggml_type_name(code);
}

TEST(Gguf, BlockLayoutsAndNames) {
  struct Row {
    uint32_t code;
    const char* name;
    int64_t elements, bytes;
    bool dequantizes;
  };
  // ggml.c's type_traits (blck_size, type_size) = gguf.constants.GGML_QUANT_SIZES, except Q8_1: gguf-py 0.19 still
  // lists 40 bytes (float d, s), ggml-common.h has block_q8_1 { ggml_half d, s; int8_t qs[32]; } = 36 bytes.
  const Row rows[] = {
      {0, "F32", 1, 4, true},      {1, "F16", 1, 2, true},      {2, "Q4_0", 32, 18, true},
      {3, "Q4_1", 32, 20, true},   {6, "Q5_0", 32, 22, true},   {7, "Q5_1", 32, 24, true},
      {8, "Q8_0", 32, 34, true},   {9, "Q8_1", 32, 36, false},  {10, "Q2_K", 256, 84, false},
      {11, "Q3_K", 256, 110, false}, {12, "Q4_K", 256, 144, true}, {13, "Q5_K", 256, 176, true},
      {14, "Q6_K", 256, 210, true}, {15, "Q8_K", 256, 292, false}, {24, "I8", 1, 1, false},
      {25, "I16", 1, 2, false},    {26, "I32", 1, 4, false},    {27, "I64", 1, 8, false},
      {28, "F64", 1, 8, false},    {30, "BF16", 1, 2, true},
  };
  for (const Row& r : rows) {
    SCOPED_TRACE(r.name);
    int64_t elements = -1, bytes = -1;
    ASSERT_TRUE(ggml_block_layout(r.code, elements, bytes));
    EXPECT_EQ(elements, r.elements);
    EXPECT_EQ(bytes, r.bytes);
    EXPECT_EQ(ggml_type_name(r.code), r.name);
    EXPECT_EQ(ggml_can_dequantize(r.code), r.dequantizes);
  }
  // codes ggml retired (4, 5: Q4_2, Q4_3) or never had
  for (uint32_t code : {4u, 5u, 1000u, 0xFFFFFFFFu}) {
    int64_t elements = -1, bytes = -1;
    EXPECT_FALSE(ggml_block_layout(code, elements, bytes)) << code;
    EXPECT_FALSE(ggml_can_dequantize(code)) << code;
    EXPECT_EQ(ggml_type_name(code), "type " + std::to_string(code));
  }
  // value type names
  const char* value_names[] = {"uint8",  "int8",  "uint16", "int16",  "uint32", "int32", "float32",
                               "bool",   "string", "array", "uint64", "int64",  "float64"};
  for (uint32_t i = 0; i < 13; ++i) EXPECT_EQ(gguf_value_type_name(static_cast<GgufValueType>(i)), value_names[i]);
}

// IEEE binary16 by the definition (sign, 5-bit exponent biased by 15, 10-bit fraction), in double.
double half_by_definition(uint16_t h) {
  int sign = h >> 15, exponent = (h >> 10) & 0x1F, fraction = h & 0x3FF;
  double magnitude;
  if (exponent == 0)
    magnitude = std::ldexp(fraction, -24);
  else if (exponent == 31)
    magnitude = fraction == 0 ? std::numeric_limits<double>::infinity() : std::numeric_limits<double>::quiet_NaN();
  else
    magnitude = std::ldexp(fraction + 1024, exponent - 25);
  return sign ? -magnitude : magnitude;
}

TEST(Gguf, HalfAndBf16ConversionsAreExactForEveryBitPattern) {
  for (uint32_t bits = 0; bits < 65536; ++bits) {
    const auto h = static_cast<uint16_t>(bits);
    float f = half_to_float(h);
    double d = half_by_definition(h);
    if (std::isnan(d)) {
      EXPECT_TRUE(std::isnan(f)) << std::hex << bits;
      EXPECT_EQ(std::signbit(f), (bits & 0x8000) != 0) << std::hex << bits;
    } else {
      ASSERT_EQ(static_cast<double>(f), d) << std::hex << bits;
      ASSERT_EQ(std::signbit(f), std::signbit(d)) << std::hex << bits;
    }
    float b = bf16_to_float(h);
    uint32_t b_bits;
    std::memcpy(&b_bits, &b, 4);
    ASSERT_EQ(b_bits, bits << 16) << std::hex << bits;
  }
}

TEST_F(GgufTest, Version2IsRead) {
  Bytes b = read_bytes(fixture("fields.gguf"));
  put_u32(b, 4, 2);
  GgufFile f(write("v2.gguf", b));
  EXPECT_EQ(f.version(), 2u);
  EXPECT_EQ(f.get_int("test.int8"), -100);
  EXPECT_EQ(f.tensors().size(), 4u);
}

// A GGUF v3 file made from scratch: the header (no tensors, n_kv metadata entries) and the metadata bytes.
Bytes handmade(uint64_t n_kv, const Bytes& metadata) {
  Bytes b = {'G', 'G', 'U', 'F', 3, 0, 0, 0};
  b.resize(24, 0);
  put_u64(b, 16, n_kv);
  b.insert(b.end(), metadata.begin(), metadata.end());
  return b;
}
void append_u32(Bytes& b, uint32_t v) {
  b.resize(b.size() + 4);
  put_u32(b, b.size() - 4, v);
}
void append_u64(Bytes& b, uint64_t v) {
  b.resize(b.size() + 8);
  put_u64(b, b.size() - 8, v);
}
void append_key(Bytes& b, const std::string& key) {
  append_u64(b, key.size());
  b.insert(b.end(), key.begin(), key.end());
}
// An array nested `depth` deep (each level one element) around one uint32.
Bytes nested_kv(const std::string& key, int depth) {
  Bytes b;
  append_key(b, key);
  append_u32(b, 9);  // array
  for (int i = 1; i < depth; ++i) {
    append_u32(b, 9);  // of arrays
    append_u64(b, 1);
  }
  append_u32(b, 4);  // of uint32
  append_u64(b, 1);
  append_u32(b, 7);
  return b;
}

TEST_F(GgufTest, HeaderOnlyFileIsValid) {
  GgufFile f(write("header_only.gguf", handmade(0, {})));
  EXPECT_EQ(f.version(), 3u);
  EXPECT_TRUE(f.metadata().empty());
  EXPECT_TRUE(f.tensors().empty());
  EXPECT_EQ(f.alignment(), 32u);
}

TEST_F(GgufTest, NestedArraysAreReadToABoundedDepth) {
  GgufFile f(write("nested3.gguf", handmade(1, nested_kv("three", 3))));
  EXPECT_TRUE(f.get("three").is_array());
  EXPECT_EQ(f.get("three").element_type, GgufValueType::kArray);
  EXPECT_EQ(f.get("three").array_size, 1u);
  // 100 000 levels: bounded recursion, an Error rather than a stack overflow
  const std::string path = write("nested_deep.gguf", handmade(1, nested_kv("deep", 100000)));
  std::string msg = error_of([&] { GgufFile g(path); });
  EXPECT_NE(msg.find("deep"), std::string::npos) << msg;
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
}

// ------------------------------------------------------------------------------------------- malformed

struct Malformed {
  std::string name;
  const char* base;  // "fields" or "quants"
  std::function<void(Bytes&, const Layout&)> patch;
  std::string needle;  // a key substring of the message (case-insensitive)
};

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::vector<Malformed> malformed_corpus() {
  auto truncate_at = [](std::function<std::size_t(const Bytes&, const Layout&)> where) {
    return [where](Bytes& b, const Layout& l) { b.resize(where(b, l)); };
  };
  const uint64_t kHuge = uint64_t{1} << 60;
  return {
      {"empty", "fields", [](Bytes& b, const Layout&) { b.clear(); }, "0 bytes is too short"},
      {"truncated_in_magic", "fields", truncate_at([](const Bytes&, const Layout&) { return 3; }), "too short"},
      {"truncated_in_header", "fields", truncate_at([](const Bytes&, const Layout&) { return 13; }), "truncated"},
      {"truncated_in_kv_count", "fields", truncate_at([](const Bytes&, const Layout&) { return 20; }), "truncated"},
      {"truncated_in_key_length", "fields",
       truncate_at([](const Bytes&, const Layout& l) { return l.kv("test.uint8").at + 5; }), "metadata entries"},
      {"truncated_in_key", "fields",
       truncate_at([](const Bytes&, const Layout& l) { return l.kv("test.uint8").at + 8 + 4; }), "metadata entries"},
      {"truncated_in_value_type", "fields",
       truncate_at([](const Bytes&, const Layout& l) { return l.kv("test.uint64").type_at + 2; }), "truncated"},
      {"truncated_in_scalar", "fields",
       truncate_at([](const Bytes&, const Layout& l) { return l.kv("test.uint64").value_at + 7; }), "truncated"},
      {"truncated_in_string_value", "fields",
       truncate_at([](const Bytes&, const Layout& l) { return l.kv("test.string").value_at + 8 + 3; }), "metadata entries"},
      {"truncated_in_array_header", "fields",
       truncate_at([](const Bytes&, const Layout& l) { return l.kv("test.array.int32").count_at + 3; }), "truncated"},
      {"truncated_in_array", "fields",
       truncate_at([](const Bytes&, const Layout& l) { return l.kv("test.array.int32").elements_at + 6; }),
       "test.array.int32"},
      {"truncated_in_string_array", "fields",
       truncate_at([](const Bytes&, const Layout& l) { return l.kv("test.array.string").elements_at + 10; }),
       "test.array.string"},
      {"truncated_in_nested_array", "fields",
       truncate_at([](const Bytes&, const Layout& l) { return l.kv("test.array.nested").end - 3; }), "test.array.nested"},
      {"truncated_in_tensor_name", "fields",
       truncate_at([](const Bytes&, const Layout& l) { return l.tensor("t.f16.3d").at + 10; }), "tensor #1"},
      {"truncated_in_tensor_extents", "fields",
       truncate_at([](const Bytes&, const Layout& l) { return l.tensor("t.q8_0.4d").extents_at + 12; }),
       "truncated"},
      {"truncated_in_tensor_offset", "fields",
       truncate_at([](const Bytes&, const Layout& l) { return l.tensor("t.i32.2d").offset_at + 4; }), "truncated"},
      {"truncated_before_data", "fields",
       truncate_at([](const Bytes&, const Layout& l) { return l.infos_end + 1; }), "data area"},
      {"truncated_in_data", "fields",
       truncate_at([](const Bytes& b, const Layout& l) {
         return static_cast<std::size_t>(get_u64(b, l.tensor("t.q8_0.4d").offset_at)) + 1600 + 100;
       }),
       "t.q8_0.4d"},
      {"truncated_in_quant_data", "quants",
       truncate_at([](const Bytes& b, const Layout&) { return b.size() - 200; }), "Q6_K.random"},
      {"wrong_magic", "fields", [](Bytes& b, const Layout&) { b[3] = 'G'; }, "not a GGUF file"},
      {"version_1", "fields", [](Bytes& b, const Layout&) { put_u32(b, 4, 1); }, "version 1"},
      {"version_4", "fields", [](Bytes& b, const Layout&) { put_u32(b, 4, 4); }, "version 4"},
      {"version_big_endian", "fields", [](Bytes& b, const Layout&) { put_u32(b, 4, 0x03000000); }, "version"},
      {"key_length_past_end", "fields",
       [](Bytes& b, const Layout& l) { put_u64(b, l.kv("test.int8").at, 1000000); }, "claims 1000000 bytes"},
      {"key_length_huge", "fields",
       [](Bytes& b, const Layout& l) { put_u64(b, l.kv("test.int8").at, ~uint64_t{0} - 3); }, "metadata key #3"},
      {"string_value_past_end", "fields",
       [](Bytes& b, const Layout& l) { put_u64(b, l.kv("test.string").value_at, 5000); }, "test.string"},
      {"string_in_array_past_end", "fields",
       [kHuge](Bytes& b, const Layout& l) { put_u64(b, l.kv("test.array.string").elements_at, kHuge); },
       "test.array.string"},
      {"tensor_name_past_end", "fields",
       [](Bytes& b, const Layout& l) { put_u64(b, l.tensor("t.f16.3d").at, 1u << 20); }, "tensor #1"},
      {"array_count_absurd", "fields",
       [kHuge](Bytes& b, const Layout& l) { put_u64(b, l.kv("test.array.int32").count_at, kHuge); },
       "test.array.int32"},
      {"array_count_past_end", "fields",
       [](Bytes& b, const Layout& l) { put_u64(b, l.kv("test.array.int64").count_at, 300); }, "test.array.int64"},
      {"string_array_count_absurd", "fields",
       [kHuge](Bytes& b, const Layout& l) { put_u64(b, l.kv("test.array.string").count_at, kHuge); },
       "test.array.string"},
      {"nested_array_count_absurd", "fields",
       [kHuge](Bytes& b, const Layout& l) { put_u64(b, l.kv("test.array.nested").count_at, kHuge); },
       "test.array.nested"},
      {"inner_array_count_absurd", "fields",
       [kHuge](Bytes& b, const Layout& l) { put_u64(b, l.kv("test.array.nested").elements_at + 4, kHuge); },
       "test.array.nested"},
      {"tensor_count_absurd", "fields", [kHuge](Bytes& b, const Layout&) { put_u64(b, 8, kHuge); }, "tensor"},
      {"tensor_count_max", "fields", [](Bytes& b, const Layout&) { put_u64(b, 8, ~uint64_t{0}); }, "tensor"},
      {"kv_count_absurd", "fields", [kHuge](Bytes& b, const Layout&) { put_u64(b, 16, kHuge); }, "metadata"},
      {"kv_count_max", "fields", [](Bytes& b, const Layout&) { put_u64(b, 16, ~uint64_t{0}); }, "metadata"},
      {"unknown_value_type", "fields",
       [](Bytes& b, const Layout& l) { put_u32(b, l.kv("test.uint8").type_at, 13); }, "unknown value type 13"},
      {"unknown_value_type_huge", "fields",
       [](Bytes& b, const Layout& l) { put_u32(b, l.kv("test.uint8").type_at, 0xFFFFFFFF); }, "test.uint8"},
      {"unknown_array_element_type", "fields",
       [](Bytes& b, const Layout& l) { put_u32(b, l.kv("test.array.uint8").value_at, 99); }, "unknown value type 99"},
      {"unknown_ggml_type", "fields",
       [](Bytes& b, const Layout& l) { put_u32(b, l.tensor("t.i32.2d").type_at, 99); }, "t.i32.2d"},
      {"retired_ggml_type", "fields",
       [](Bytes& b, const Layout& l) { put_u32(b, l.tensor("t.f32.1d").type_at, 4); }, "t.f32.1d"},
      {"n_dims_0", "fields", [](Bytes& b, const Layout& l) { put_u32(b, l.tensor("t.f16.3d").n_dims_at, 0); },
       "t.f16.3d"},
      {"n_dims_5", "fields", [](Bytes& b, const Layout& l) { put_u32(b, l.tensor("t.f16.3d").n_dims_at, 5); },
       "t.f16.3d"},
      {"n_dims_huge", "fields",
       [](Bytes& b, const Layout& l) { put_u32(b, l.tensor("t.f16.3d").n_dims_at, 0xFFFFFFFF); }, "t.f16.3d"},
      {"extent_0", "fields", [](Bytes& b, const Layout& l) { put_u64(b, l.tensor("t.f32.1d").extents_at, 0); },
       "t.f32.1d"},
      {"extent_negative", "fields",
       [](Bytes& b, const Layout& l) { put_u64(b, l.tensor("t.f16.3d").extents_at + 8, ~uint64_t{0}); },
       "t.f16.3d"},
      {"extent_not_whole_blocks", "fields",
       [](Bytes& b, const Layout& l) { put_u64(b, l.tensor("t.q8_0.4d").extents_at, 31); }, "t.q8_0.4d"},
      {"extent_not_whole_k_blocks", "quants",
       [](Bytes& b, const Layout& l) { put_u64(b, l.tensor("Q4_K.random").extents_at, 384); }, "Q4_K.random"},
      {"elements_overflow", "fields",
       [](Bytes& b, const Layout& l) {
         const auto& t = l.tensor("t.q8_0.4d");
         for (int i = 0; i < 4; ++i) put_u64(b, t.extents_at + 8 * i, uint64_t{1} << 32);
       },
       "t.q8_0.4d"},
      // F32 with 2^62 elements: 2^64 bytes, which wraps to 0 in uint64 arithmetic (and 2^62 + 1: to 4 bytes)
      {"bytes_overflow_to_0", "fields",
       [](Bytes& b, const Layout& l) { put_u64(b, l.tensor("t.f32.1d").extents_at, uint64_t{1} << 62); },
       "t.f32.1d"},
      {"bytes_overflow_to_4", "fields",
       [](Bytes& b, const Layout& l) { put_u64(b, l.tensor("t.f32.1d").extents_at, (uint64_t{1} << 62) + 1); },
       "t.f32.1d"},
      {"bytes_overflow_i32", "fields",
       [](Bytes& b, const Layout& l) {
         put_u64(b, l.tensor("t.i32.2d").extents_at, uint64_t{1} << 31);
         put_u64(b, l.tensor("t.i32.2d").extents_at + 8, uint64_t{1} << 31);
       },
       "t.i32.2d"},
      {"extent_past_end", "fields",
       [](Bytes& b, const Layout& l) { put_u64(b, l.tensor("t.f32.1d").extents_at, 1000); }, "t.f32.1d"},
      {"offset_past_end", "fields",
       [](Bytes& b, const Layout& l) { put_u64(b, l.tensor("t.i32.2d").offset_at, uint64_t{1} << 40); },
       "t.i32.2d"},
      {"offset_near_end", "fields",
       [](Bytes& b, const Layout& l) { put_u64(b, l.tensor("t.i32.2d").offset_at, 448); }, "t.i32.2d"},
      {"offset_wraps", "fields",
       [](Bytes& b, const Layout& l) { put_u64(b, l.tensor("t.i32.2d").offset_at, ~uint64_t{0} - 63); },
       "t.i32.2d"},
      {"offset_misaligned", "fields",
       [](Bytes& b, const Layout& l) { put_u64(b, l.tensor("t.i32.2d").offset_at, 385); }, "t.i32.2d"},
      {"offset_aligned_to_32_not_64", "fields",
       [](Bytes& b, const Layout& l) { put_u64(b, l.tensor("t.i32.2d").offset_at, 352); }, "t.i32.2d"},
      {"tensors_overlap", "fields",
       [](Bytes& b, const Layout& l) { put_u64(b, l.tensor("t.i32.2d").offset_at, 192); }, "overlap"},
      {"tensors_same_offset", "fields",
       [](Bytes& b, const Layout& l) { put_u64(b, l.tensor("t.i32.2d").offset_at, 0); }, "overlap"},
      {"alignment_0", "fields",
       [](Bytes& b, const Layout& l) { put_u32(b, l.kv("general.alignment").value_at, 0); }, "alignment"},
      {"alignment_48", "fields",
       [](Bytes& b, const Layout& l) { put_u32(b, l.kv("general.alignment").value_at, 48); }, "alignment"},
      {"alignment_huge", "fields",
       [](Bytes& b, const Layout& l) { put_u32(b, l.kv("general.alignment").value_at, 0x80000000u); }, "alignment"},
      {"alignment_not_uint32", "fields",
       [](Bytes& b, const Layout& l) { put_u32(b, l.kv("general.alignment").type_at, 5); }, "alignment"},
      // names and keys come from the file: a newline in one must not break the one-line message
      {"key_with_newline", "fields",
       [](Bytes& b, const Layout& l) {
         b[l.kv("test.uint8").at + 8 + 4] = '\n';
         put_u32(b, l.kv("test.uint8").type_at, 13);
       },
       "unknown value type 13"},
      {"tensor_name_with_newline", "fields",
       [](Bytes& b, const Layout& l) {
         b[l.tensor("t.i32.2d").at + 8 + 1] = '\n';
         put_u32(b, l.tensor("t.i32.2d").type_at, 99);
       },
       "unknown ggml type 99"},
      {"duplicate_key", "fields",
       [](Bytes& b, const Layout& l) {
         std::memcpy(b.data() + l.kv("test.int16").at + 8, "test.int32", 10);
       },
       "test.int32"},
      {"duplicate_tensor", "fields",
       [](Bytes& b, const Layout& l) { std::memcpy(b.data() + l.tensor("t.f16.3d").at + 8, "t.f32.1d", 8); },
       "t.f32.1d"},
  };
}

TEST_F(GgufTest, MalformedFilesAreOneLineErrors) {
  const Bytes fields = read_bytes(fixture("fields.gguf"));
  const Bytes quants = read_bytes(fixture("quants.gguf"));
  const Layout fields_layout = walk(fields), quants_layout = walk(quants);
  ASSERT_EQ(fields.size(), 2048u);  // the offsets above assume the committed fixture
  ASSERT_EQ((fields_layout.infos_end + 63) / 64 * 64, 1600u);  // the data area starts at 1600
  for (const Malformed& m : malformed_corpus()) {
    SCOPED_TRACE(m.name);
    const bool is_fields = std::string(m.base) == "fields";
    Bytes b = is_fields ? fields : quants;
    m.patch(b, is_fields ? fields_layout : quants_layout);
    const std::string path = write(m.name + ".gguf", b);
    std::string msg = error_of([&] { GgufFile f(path); });
    if (msg.empty()) continue;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    EXPECT_NE(msg.find(path), std::string::npos) << "the file is not named: " << msg;
    std::string rest = msg;  // the needle must be found outside the path (which holds digits and names)
    if (auto at = rest.find(path); at != std::string::npos) rest.erase(at, path.size());
    EXPECT_NE(lower(rest).find(lower(m.needle)), std::string::npos) << "'" << m.needle << "' not in: " << msg;
  }
}

// read_raw / read_f32 take a GgufTensorInfo by reference: one that is not this file's (another file's, or a
// copy with a changed offset or size) must be refused with an exception, not read out of bounds. Each call runs
// in a child process (a death test), so that a crash fails this test only. A copy of the file's own info is fine.
#define EXPECT_THROWS_NOT_CRASHES(call)                                \
  EXPECT_EXIT(                                                         \
      {                                                                \
        try {                                                          \
          call;                                                        \
        } catch (const std::exception&) {                              \
          std::exit(0);                                                \
        }                                                              \
        std::exit(3);                                                  \
      },                                                               \
      ::testing::ExitedWithCode(0), "")                                \
      << #call << ": exit 3 = returned without an exception, a signal = crashed"

TEST(GgufDeathTest, ForeignTensorInfoIsRefused) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  GgufFile fields(fixture("fields.gguf"));
  GgufFile quants(fixture("quants.gguf"));
  GgufTensorInfo copy = fields.tensor("t.f32.1d");
  EXPECT_EQ(fields.read_raw(copy).size(), 20u);
  EXPECT_EQ(fields.read_f32(copy).size(), 5u);

  GgufTensorInfo moved = copy;
  moved.offset = uint64_t{1} << 40;
  EXPECT_THROWS_NOT_CRASHES(fields.read_raw(moved));
  EXPECT_THROWS_NOT_CRASHES(fields.read_f32(moved));
  GgufTensorInfo grown = copy;
  grown.bytes = 4096;
  grown.elements = 1024;
  grown.extents = {1024};
  EXPECT_THROWS_NOT_CRASHES(fields.read_raw(grown));
  EXPECT_THROWS_NOT_CRASHES(fields.read_f32(grown));
  // quants.gguf's last tensor lies beyond the end of the (smaller) fields.gguf
  const GgufTensorInfo& other = quants.tensors().back();
  EXPECT_THROWS_NOT_CRASHES(fields.read_raw(other));
  EXPECT_THROWS_NOT_CRASHES(fields.read_f32(other));
}

TEST_F(GgufTest, MissingFileIsAnError) {
  const std::string path = (dir_ / "absent.gguf").string();
  std::string msg = error_of([&] { GgufFile f(path); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
}

// Every prefix of a valid file is rejected (or, for cuts inside the last tensor's trailing padding, read
// with the same tensors); none crashes.
TEST_F(GgufTest, EveryTruncationOfFieldsIsHandled) {
  const Bytes fields = read_bytes(fixture("fields.gguf"));
  json expected = read_json(fixture("fields.json"));
  const auto& last = expected["tensors"].back();
  const std::size_t data_end = expected["data_offset"].get<std::size_t>() + last["offset"].get<std::size_t>() +
                               last["bytes"].get<std::size_t>();
  const std::string path = write("prefix.gguf", fields);
  for (std::size_t n = fields.size(); n-- > 0;) {  // cut from the end, one byte at a time
    fs::resize_file(path, n);
    if (n >= data_end) {  // only the last tensor's trailing padding is missing: either reading is right
      try {
        GgufFile f(path);
        EXPECT_EQ(f.read_raw(f.tensor("t.i32.2d")), from_hex(last["raw_hex"].get<std::string>()));
      } catch (const Error& e) {
        EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << n << ": " << e.what();
      }
      continue;
    }
    std::string msg = error_of([&] { GgufFile f(path); });
    if (msg.empty()) {
      ADD_FAILURE() << "a prefix of " << n << " bytes was accepted";
      break;
    }
    ASSERT_EQ(msg.find('\n'), std::string::npos) << n << ": " << msg;
    ASSERT_NE(msg.find(path), std::string::npos) << n << ": " << msg;
  }
}

}  // namespace
}  // namespace ptlab::io
