#include "framework/models/checkpoint.h"

#include "framework/io/safetensors.h"
#include "tests/models/golden_fixture.h"
#include "tests/models/temp_dir.h"

#include <gtest/gtest.h>

namespace ptlab::models {
namespace {

using testing::error_of;

TEST(Checkpoint, TakesTensorsCheckedConvertedAndFrozen) {
  testing::TempDir dir;
  io::save_safetensors(dir.sub("model.safetensors"), {{"a.weight", at::randn({3, 2})}, {"step", at::arange(3)}});
  Checkpoint ckpt(dir.str());
  EXPECT_TRUE(ckpt.contains("a.weight"));
  EXPECT_EQ(ckpt.names(), (std::vector<std::string>{"a.weight", "step"}));
  EXPECT_EQ(ckpt.file_of("a.weight"), dir.sub("model.safetensors"));
  LoadOptions bf16;
  bf16.dtype = at::kBFloat16;
  at::Tensor w = ckpt.take("a.weight", {3, 2}, bf16);
  EXPECT_EQ(w.scalar_type(), at::kBFloat16);
  EXPECT_FALSE(w.requires_grad());
  EXPECT_EQ(ckpt.take("step", {3}, bf16).scalar_type(), at::kLong);  // integer tensors keep their type
  ckpt.finish();                                                       // everything used: no error
}

TEST(Checkpoint, ShapeMismatchNamesTensorFileAndBothShapes) {
  testing::TempDir dir;
  io::save_safetensors(dir.sub("model.safetensors"), {{"h.0.w", at::zeros({4, 8})}});
  Checkpoint ckpt(dir.str());
  std::string m = error_of([&] { ckpt.take("h.0.w", {8, 4}, {}); });
  EXPECT_NE(m.find("tensor 'h.0.w' in " + dir.sub("model.safetensors") + " has shape [4, 8]"), std::string::npos) << m;
  EXPECT_NE(m.find("implies [8, 4]"), std::string::npos) << m;
}

TEST(Checkpoint, FinishListsMissingAndUnexpectedTensors) {
  testing::TempDir dir;
  io::save_safetensors(dir.sub("model.safetensors"),
                       {{"used", at::zeros({1})}, {"extra.one", at::zeros({1})}, {"x.attn.masked_bias", at::zeros({1})},
                        {"skip", at::zeros({1})}});
  Checkpoint ckpt(dir.str());
  ckpt.take("used", {1}, {});
  at::Tensor placeholder = ckpt.take("absent.weight", {2, 2}, {});
  EXPECT_EQ(placeholder.sizes(), (at::IntArrayRef{2, 2}));  // building goes on; finish() reports it
  ckpt.ignore("skip");
  ckpt.ignore("not-there");  // no-op
  ckpt.ignore_suffix(".masked_bias");
  std::string m = error_of([&] { ckpt.finish(); });
  EXPECT_NE(m.find("1 missing tensor: absent.weight"), std::string::npos) << m;
  EXPECT_NE(m.find("1 unexpected tensor: extra.one"), std::string::npos) << m;
  EXPECT_EQ(m.find("skip"), std::string::npos) << m;
  EXPECT_EQ(m.find("masked_bias"), std::string::npos) << m;
}

TEST(Checkpoint, ReadsShardedCheckpoints) {
  testing::TempDir dir;
  io::save_safetensors(dir.sub("model-00001-of-00002.safetensors"), {{"a", at::ones({2})}});
  io::save_safetensors(dir.sub("model-00002-of-00002.safetensors"), {{"b", at::full({3}, 2.0)}});
  dir.write("model.safetensors.index.json",
            R"({"metadata": {"total_size": 20}, "weight_map": {"a": "model-00001-of-00002.safetensors",
                "b": "model-00002-of-00002.safetensors"}})");
  Checkpoint ckpt(dir.str());
  EXPECT_EQ(ckpt.names(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(ckpt.take("b", {3}, {}).sum().item<float>(), 6.0f);
  EXPECT_EQ(ckpt.file_of("b"), dir.sub("model-00002-of-00002.safetensors"));

  dir.write("model.safetensors.index.json", R"({"weight_map": {"a": "model-00003-of-00002.safetensors"}})");
  std::string m = error_of([&] { Checkpoint c(dir.str()); });
  EXPECT_NE(m.find("lists shard model-00003-of-00002.safetensors (for tensor 'a')"), std::string::npos) << m;
  dir.write("model.safetensors.index.json", R"({"weight_map": {"c": "model-00001-of-00002.safetensors"}})");
  m = error_of([&] { Checkpoint c(dir.str()); });
  EXPECT_NE(m.find("says tensor 'c' is in"), std::string::npos) << m;
  dir.write("model.safetensors.index.json", R"({"weights": {}})");
  m = error_of([&] { Checkpoint c(dir.str()); });
  EXPECT_NE(m.find("'weight_map'"), std::string::npos) << m;
}

TEST(Checkpoint, DirectoriesWithoutWeightsAreErrors) {
  testing::TempDir dir;
  std::string m = error_of([&] { Checkpoint c(dir.str()); });
  EXPECT_NE(m.find("has no weights: expected model.safetensors or model.safetensors.index.json (the directory is "
                   "empty)"),
            std::string::npos)
      << m;
  dir.write("pytorch_model.bin", "x");
  m = error_of([&] { Checkpoint c(dir.str()); });
  EXPECT_NE(m.find("found: pytorch_model.bin"), std::string::npos) << m;
  EXPECT_NE(m.find("safe_serialization=True"), std::string::npos) << m;
  m = error_of([&] { Checkpoint c(dir.sub("missing")); });
  EXPECT_NE(m.find("does not exist"), std::string::npos) << m;
}

TEST(Checkpoint, RandomCheckpointsMakeTensorsByRole) {
  Checkpoint a = Checkpoint::random(3);
  Checkpoint b = Checkpoint::random(3);
  EXPECT_TRUE(a.is_random());
  EXPECT_TRUE(a.contains("anything"));
  EXPECT_TRUE(at::equal(a.take("model.norm.weight", {4}, {}), at::ones({4})));
  EXPECT_TRUE(at::equal(a.take("transformer.h.0.ln_1.weight", {4}, {}), at::ones({4})));
  EXPECT_TRUE(at::equal(a.take("x.bias", {4}, {}), at::zeros({4})));
  at::Tensor w = a.take("q.weight", {64, 64}, {});
  EXPECT_NEAR(w.std().item<double>(), 0.02, 0.002);
  b.take("model.norm.weight", {4}, {});
  b.take("transformer.h.0.ln_1.weight", {4}, {});
  b.take("x.bias", {4}, {});
  EXPECT_TRUE(at::equal(b.take("q.weight", {64, 64}, {}), w));  // same seed, same order: same weights
  a.finish();
}

}  // namespace
}  // namespace ptlab::models
