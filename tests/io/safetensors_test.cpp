#include "framework/io/safetensors.h"

#include "framework/core/error.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

namespace ptlab::io {
namespace {

namespace fs = std::filesystem;

class SafetensorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ptlab_safetensors_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  // A file made by hand: 8-byte little-endian header length, the header text, then `data`.
  std::string write_raw(const std::string& name, const std::string& header, const std::string& data,
                        int64_t claimed_len = -1) {
    std::string p = path(name);
    std::ofstream out(p, std::ios::binary);
    uint64_t n = claimed_len >= 0 ? static_cast<uint64_t>(claimed_len) : header.size();
    for (int i = 0; i < 8; ++i) out.put(static_cast<char>((n >> (8 * i)) & 0xff));
    out << header << data;
    return p;
  }

  fs::path dir_;
};

// The message of the Error `f` throws (fails the test when it throws nothing).
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a ptlab::Error";
  return "";
}

TEST_F(SafetensorsTest, RoundTripsEveryDtype) {
  std::vector<std::pair<std::string, at::Tensor>> tensors = {
      {"f64", at::randn({2, 3}, at::kDouble)},
      {"f32", at::randn({4}, at::kFloat)},
      {"f16", at::randn({3, 2}).to(at::kHalf)},
      {"bf16", at::randn({2, 2, 2}).to(at::kBFloat16)},
      {"i64", at::arange(-5, 5, at::kLong).reshape({2, 5})},
      {"i32", at::arange(0, 6, at::kInt)},
      {"i16", at::arange(-3, 3, at::kShort)},
      {"i8", at::arange(-3, 3, at::kChar)},
      {"u8", at::arange(250, 256, at::kInt).to(at::kByte)},
      {"bool", at::tensor({1, 0, 1}, at::kLong).to(at::kBool)},
      {"scalar", at::scalar_tensor(3.5, at::kFloat)},
      {"empty", at::empty({0, 4}, at::kFloat)},
      {"strided", at::arange(12, at::kFloat).reshape({3, 4}).t()},  // non-contiguous input
  };
  save_safetensors(path("all.safetensors"), tensors, {{"format", "pt"}, {"note", "x"}});

  SafetensorsFile file(path("all.safetensors"));
  EXPECT_EQ(file.records().size(), tensors.size());
  EXPECT_EQ(file.metadata().at("format"), "pt");
  EXPECT_EQ(file.metadata().at("note"), "x");
  EXPECT_EQ(file.record("bf16").dtype, "BF16");
  EXPECT_EQ(file.record("bf16").shape, (std::vector<int64_t>{2, 2, 2}));
  for (const auto& [name, expected] : tensors) {
    at::Tensor got = file.load(name);
    EXPECT_EQ(got.scalar_type(), expected.scalar_type()) << name;
    EXPECT_EQ(got.sizes(), expected.sizes()) << name;
    EXPECT_TRUE(at::equal(got, expected)) << name;
  }
  auto all = load_safetensors(path("all.safetensors"));
  EXPECT_EQ(all.size(), tensors.size());
  EXPECT_TRUE(at::equal(all.at("i64"), tensors[4].second));
}

TEST_F(SafetensorsTest, DtypeNamesMapBothWays) {
  EXPECT_EQ(scalar_type_of("BF16"), at::kBFloat16);
  EXPECT_EQ(dtype_name_of(at::kHalf), "F16");
  EXPECT_NE(error_of([] { scalar_type_of("F8_E4M3"); }).find("unknown safetensors dtype 'F8_E4M3'"),
            std::string::npos);
  EXPECT_NE(error_of([] { dtype_name_of(at::kComplexFloat); }).find("cannot be stored"), std::string::npos);
}

TEST_F(SafetensorsTest, TruncatedFileIsAnError) {
  std::string p = path("short.safetensors");
  std::ofstream(p, std::ios::binary) << "abc";
  std::string m = error_of([&] { SafetensorsFile f(p); });
  EXPECT_NE(m.find("is truncated"), std::string::npos) << m;
  EXPECT_NE(m.find(p), std::string::npos) << m;

  // A valid file cut in its data area: the last tensor's offsets now exceed the file.
  save_safetensors(path("full.safetensors"), {{"a", at::ones({16})}, {"b", at::ones({16})}});
  fs::resize_file(path("full.safetensors"), fs::file_size(path("full.safetensors")) - 10);
  m = error_of([&] { SafetensorsFile f(path("full.safetensors")); });
  EXPECT_NE(m.find("tensor 'b'"), std::string::npos) << m;
  EXPECT_NE(m.find("beyond the end of the data area"), std::string::npos) << m;
}

TEST_F(SafetensorsTest, HeaderLengthBeyondTheFileIsAnError) {
  std::string p = write_raw("len.safetensors", "{}", "", 1'000'000);
  std::string m = error_of([&] { SafetensorsFile f(p); });
  EXPECT_NE(m.find("header length is 1000000 bytes, beyond the end of the file"), std::string::npos) << m;
}

TEST_F(SafetensorsTest, InvalidHeaderJsonIsAnError) {
  std::string p = write_raw("json.safetensors", "{\"a\": {\"dtype\": \"F32\",", "");
  std::string m = error_of([&] { SafetensorsFile f(p); });
  EXPECT_NE(m.find("not valid JSON"), std::string::npos) << m;
  p = write_raw("array.safetensors", "[1, 2]", "");
  m = error_of([&] { SafetensorsFile f(p); });
  EXPECT_NE(m.find("must be a JSON object"), std::string::npos) << m;
}

TEST_F(SafetensorsTest, OverlappingOffsetsAreAnError) {
  std::string header =
      R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
          "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})";
  std::string p = write_raw("overlap.safetensors", header, std::string(12, '\0'));
  std::string m = error_of([&] { SafetensorsFile f(p); });
  EXPECT_NE(m.find("overlapping data_offsets"), std::string::npos) << m;
  EXPECT_NE(m.find("'a'"), std::string::npos) << m;
  EXPECT_NE(m.find("'b'"), std::string::npos) << m;
}

TEST_F(SafetensorsTest, OffsetsBeyondTheFileAreAnError) {
  std::string header = R"({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}})";
  std::string p = write_raw("beyond.safetensors", header, std::string(8, '\0'));
  std::string m = error_of([&] { SafetensorsFile f(p); });
  EXPECT_NE(m.find("tensor 'w'"), std::string::npos) << m;
  EXPECT_NE(m.find("go beyond the end of the data area (8 bytes)"), std::string::npos) << m;
}

TEST_F(SafetensorsTest, ShapeDisagreeingWithOffsetsIsAnError) {
  std::string header = R"({"w": {"dtype": "F32", "shape": [3, 2], "data_offsets": [0, 16]}})";
  std::string p = write_raw("shape.safetensors", header, std::string(16, '\0'));
  std::string m = error_of([&] { SafetensorsFile f(p); });
  EXPECT_NE(m.find("shape [3, 2] of dtype F32 needs 24 bytes but data_offsets [0, 16] hold 16 bytes"),
            std::string::npos)
      << m;
}

TEST_F(SafetensorsTest, UnknownDtypeIsAnError) {
  std::string header = R"({"w": {"dtype": "Q4", "shape": [4], "data_offsets": [0, 4]}})";
  std::string p = write_raw("dtype.safetensors", header, std::string(4, '\0'));
  std::string m = error_of([&] { SafetensorsFile f(p); });
  EXPECT_NE(m.find("tensor 'w': unknown dtype 'Q4'"), std::string::npos) << m;
  EXPECT_NE(m.find("BF16"), std::string::npos) << m;  // lists the supported ones
}

TEST_F(SafetensorsTest, MalformedEntriesAreErrors) {
  std::string p = write_raw("neg.safetensors", R"({"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})",
                            std::string(4, '\0'));
  EXPECT_NE(error_of([&] { SafetensorsFile f(p); }).find("non-negative"), std::string::npos);
  p = write_raw("nooff.safetensors", R"({"w": {"dtype": "F32", "shape": [1]}})", std::string(4, '\0'));
  EXPECT_NE(error_of([&] { SafetensorsFile f(p); }).find("'data_offsets' must be [begin, end]"), std::string::npos);
  p = write_raw("rev.safetensors", R"({"w": {"dtype": "F32", "shape": [0], "data_offsets": [4, 0]}})",
                std::string(4, '\0'));
  EXPECT_NE(error_of([&] { SafetensorsFile f(p); }).find("end before they begin"), std::string::npos);
  p = write_raw("meta.safetensors", R"({"__metadata__": {"a": 1}})", "");
  EXPECT_NE(error_of([&] { SafetensorsFile f(p); }).find("__metadata__ value of 'a'"), std::string::npos);
}

TEST_F(SafetensorsTest, MissingFileAndUnknownTensorAreErrors) {
  std::string m = error_of([&] { SafetensorsFile f(path("nope.safetensors")); });
  EXPECT_NE(m.find("cannot open safetensors file"), std::string::npos) << m;
  save_safetensors(path("one.safetensors"), {{"weight", at::ones({2})}});
  SafetensorsFile f(path("one.safetensors"));
  m = error_of([&] { f.load("weigth"); });
  EXPECT_NE(m.find("has no tensor 'weigth' (did you mean weight?)"), std::string::npos) << m;
}

TEST_F(SafetensorsTest, SavingRejectsDuplicatesAndMissingDirectories) {
  std::string m = error_of([&] { save_safetensors(path("d.safetensors"), {{"a", at::ones({1})}, {"a", at::ones({1})}}); });
  EXPECT_NE(m.find("'a' appears twice"), std::string::npos) << m;
  m = error_of([&] { save_safetensors(path("no/such/dir/x.safetensors"), {{"a", at::ones({1})}}); });
  EXPECT_NE(m.find("cannot create the file"), std::string::npos) << m;
  EXPECT_FALSE(fs::exists(path("d.safetensors")));
}

TEST_F(SafetensorsTest, ReadsARealHuggingFaceFile) {
  std::string p = std::string(PTLAB_SHARED_DIR) + "/models/stories260K/model.safetensors";
  if (!fs::exists(p)) GTEST_SKIP() << "../shared not found: " << p;
  SafetensorsFile file(p);
  EXPECT_EQ(file.metadata().at("format"), "pt");
  EXPECT_EQ(file.records().size(), 1u + 5u * 9u + 1u);  // embeddings, 5 layers of 9 tensors, final norm
  at::Tensor emb = file.load("model.embed_tokens.weight");
  EXPECT_EQ(emb.sizes(), (at::IntArrayRef{512, 64}));
  EXPECT_EQ(emb.scalar_type(), at::kFloat);
  EXPECT_TRUE(emb.isfinite().all().item<bool>());
  EXPECT_GT(emb.abs().sum().item<double>(), 0.0);
  // Writing it back and reading again gives the same bytes.
  save_safetensors(path("copy.safetensors"), {{"model.embed_tokens.weight", emb}});
  EXPECT_TRUE(at::equal(SafetensorsFile(path("copy.safetensors")).load("model.embed_tokens.weight"), emb));
}

}  // namespace
}  // namespace ptlab::io
