#include "framework/models/rope.h"

#include "tests/models/golden_fixture.h"

#include <gtest/gtest.h>

#include <cmath>

namespace ptlab::models {
namespace {

using testing::error_of;
using testing::max_abs_diff;

HFConfig config(const std::string& text) { return HFConfig(nlohmann::json::parse(text), "(test)/config.json"); }

TEST(Rope, InverseFrequenciesAndIdentityAtPositionZero) {
  RotaryEmbedding rope(RopeConfig::from_hf(config(R"({"rope_theta": 10000.0})"), 8));
  EXPECT_LE(max_abs_diff(rope.inv_freq(), at::tensor({1.0, 0.1, 0.01, 0.001}, at::kFloat)), 1e-7);
  at::Tensor x = at::randn({1, 2, 3, 8});
  auto [cos, sin] = rope.cos_sin(at::zeros({1, 3}, at::kLong), at::kFloat);
  EXPECT_EQ(cos.sizes(), (at::IntArrayRef{1, 1, 3, 8}));
  EXPECT_TRUE(at::allclose(apply_rotary(x, cos, sin), x));
}

TEST(Rope, RotationKeepsNormsAndDotProductsDependOnDistanceOnly) {
  RotaryEmbedding rope(RopeConfig::from_hf(config("{}"), 8));
  at::Tensor q = at::randn({1, 1, 1, 8}), k = at::randn({1, 1, 1, 8});
  auto rotate = [&](const at::Tensor& x, int64_t pos) {
    auto [cos, sin] = rope.cos_sin(at::full({1, 1}, pos, at::kLong), at::kFloat);
    return apply_rotary(x, cos, sin);
  };
  EXPECT_NEAR(rotate(q, 7).norm().item<double>(), q.norm().item<double>(), 1e-5);
  double a = (rotate(q, 9) * rotate(k, 4)).sum().item<double>();
  double b = (rotate(q, 15) * rotate(k, 10)).sum().item<double>();
  EXPECT_NEAR(a, b, 1e-4);
}

TEST(Rope, PartialRotaryLeavesTheTailUntouched) {
  RotaryEmbedding rope(RopeConfig::from_hf(config("{}"), 4));
  at::Tensor x = at::randn({1, 2, 3, 16});
  auto [cos, sin] = rope.cos_sin(at::arange(3, at::kLong).unsqueeze(0), at::kFloat);
  at::Tensor y = apply_rotary(x, cos, sin);
  EXPECT_TRUE(at::equal(y.narrow(-1, 4, 12), x.narrow(-1, 4, 12)));
  EXPECT_FALSE(at::allclose(y.narrow(-1, 0, 4), x.narrow(-1, 0, 4)));
}

TEST(Rope, LinearScalingDividesPositions) {
  RotaryEmbedding plain(RopeConfig::from_hf(config("{}"), 8));
  RotaryEmbedding linear(RopeConfig::from_hf(config(R"({"rope_scaling": {"type": "linear", "factor": 2.0}})"), 8));
  auto [c1, s1] = linear.cos_sin(at::tensor({0, 4, 10}, at::kLong).unsqueeze(0), at::kFloat);
  auto [c2, s2] = plain.cos_sin(at::tensor({0, 2, 5}, at::kLong).unsqueeze(0), at::kFloat);
  EXPECT_LE(max_abs_diff(c1, c2), 1e-6);
  EXPECT_LE(max_abs_diff(s1, s2), 1e-6);
}

TEST(Rope, DynamicScalingChangesThetaOnlyBeyondTheTrainedLength) {
  RotaryEmbedding plain(RopeConfig::from_hf(config(R"({"max_position_embeddings": 16})"), 8));
  RotaryEmbedding dynamic(RopeConfig::from_hf(
      config(R"({"max_position_embeddings": 16, "rope_scaling": {"rope_type": "dynamic", "factor": 4.0}})"), 8));
  at::Tensor short_pos = at::arange(16, at::kLong).unsqueeze(0);
  EXPECT_TRUE(at::equal(dynamic.cos_sin(short_pos, at::kFloat).first, plain.cos_sin(short_pos, at::kFloat).first));
  at::Tensor long_pos = at::arange(32, at::kLong).unsqueeze(0);
  auto [cos, sin] = dynamic.cos_sin(long_pos, at::kFloat);
  // theta' = theta * (factor * len / max - (factor - 1))^(dim / (dim - 2)) = 1e4 * 5^(4/3)
  const double theta = 1e4 * std::pow(4.0 * 32 / 16 - 3.0, 8.0 / 6.0);
  const double expected = std::cos(31.0 / std::pow(theta, 2.0 / 8.0));  // feature 1 at position 31
  EXPECT_NEAR(cos[0][0][31][1].item<double>(), expected, 1e-5);
}

TEST(Rope, Llama3ScalingRescalesLongWavelengths) {
  auto cfg = config(R"({"rope_theta": 500000.0, "rope_scaling": {"rope_type": "llama3", "factor": 8.0,
      "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}})");
  RotaryEmbedding scaled(RopeConfig::from_hf(cfg, 128));
  RotaryEmbedding plain(RopeConfig::from_hf(config(R"({"rope_theta": 500000.0})"), 128));
  at::Tensor a = scaled.inv_freq(), b = plain.inv_freq();
  const double pi = 3.14159265358979323846;
  for (int64_t i = 0; i < 64; ++i) {
    const double f = b[i].item<double>(), wavelen = 2 * pi / f;
    if (wavelen < 8192.0 / 4) {
      EXPECT_FLOAT_EQ(a[i].item<float>(), b[i].item<float>()) << i;  // high frequency: kept
    } else if (wavelen > 8192.0) {
      EXPECT_FLOAT_EQ(a[i].item<float>(), b[i].item<float>() / 8) << i;  // low frequency: divided by factor
    } else {
      const double smooth = (8192.0 / wavelen - 1.0) / 3.0;
      EXPECT_NEAR(a[i].item<double>(), (1 - smooth) * f / 8 + smooth * f, 1e-6 * f) << i;
    }
  }
}

// transformers >= 5 saves rope_parameters in place of rope_theta / rope_scaling (e.g. SmolLM2 loaded from its GGUF
// and saved again: {"rope_parameters": {"rope_theta": 100000.0, "rope_type": "default"}}); before this was read, such
// a config.json silently got theta 10000.
TEST(Rope, TransformersFiveRopeParameters) {
  auto theta_of = [](const char* text) { return RopeConfig::from_hf(config(text), 8).theta; };
  EXPECT_EQ(theta_of(R"({"rope_parameters": {"rope_theta": 100000.0, "rope_type": "default"}})"), 100000.0);
  EXPECT_EQ(theta_of(R"({"rope_parameters": {"rope_theta": 5.0e5}})"), 5.0e5);
  EXPECT_EQ(theta_of(R"({"rope_theta": 7.0, "rope_parameters": {"rope_theta": 5.0e5}})"), 7.0);  // the top-level key wins
  RopeConfig linear = RopeConfig::from_hf(
      config(R"({"rope_parameters": {"rope_theta": 1.0e4, "rope_type": "linear", "factor": 2.0}})"), 8);
  EXPECT_EQ(linear.scaling, "linear");
  EXPECT_EQ(linear.factor, 2.0);
  auto cfg = config(R"({"rope_parameters": {"rope_theta": 500000.0, "rope_type": "llama3", "factor": 8.0,
      "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}})");
  auto old = config(R"({"rope_theta": 500000.0, "rope_scaling": {"rope_type": "llama3", "factor": 8.0,
      "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}})");
  EXPECT_TRUE(at::equal(RotaryEmbedding(RopeConfig::from_hf(cfg, 128)).inv_freq(),
                        RotaryEmbedding(RopeConfig::from_hf(old, 128)).inv_freq()));
  std::string m = error_of([] { RopeConfig::from_hf(config(R"({"rope_parameters": {"rope_type": "yarn", "factor": 2}})"), 8); });
  EXPECT_NE(m.find("rope_parameters type 'yarn' is not supported"), std::string::npos) << m;
  m = error_of([] { RopeConfig::from_hf(config(R"({"rope_parameters": {"rope_theta": "big"}})"), 8); });
  EXPECT_NE(m.find("'rope_parameters.rope_theta' must be a number"), std::string::npos) << m;
}

TEST(Rope, BadScalingConfigsAreErrors) {
  std::string m = error_of([] { RopeConfig::from_hf(config(R"({"rope_scaling": {"type": "yarn", "factor": 2}})"), 8); });
  EXPECT_NE(m.find("rope_scaling type 'yarn' is not supported; supported: linear, dynamic, llama3"), std::string::npos)
      << m;
  m = error_of([] { RopeConfig::from_hf(config(R"({"rope_scaling": {"type": "linear"}})"), 8); });
  EXPECT_NE(m.find("'rope_scaling.factor' must be a number"), std::string::npos) << m;
  m = error_of([] { RopeConfig::from_hf(config(R"({"rope_scaling": {"factor": 2}})"), 8); });
  EXPECT_NE(m.find("needs a string 'type'"), std::string::npos) << m;
  m = error_of([] { RopeConfig::from_hf(config("{}"), 7); });
  EXPECT_NE(m.find("rotary dimension 7 must be even"), std::string::npos) << m;
  EXPECT_EQ(RopeConfig::from_hf(config(R"({"rope_scaling": null})"), 8).scaling, "");
}

}  // namespace
}  // namespace ptlab::models
