#include "framework/models/loader.h"

#include "framework/io/safetensors.h"
#include "tests/models/golden_fixture.h"
#include "tests/models/temp_dir.h"

#include <gtest/gtest.h>

namespace ptlab::models {
namespace {

using testing::error_of;
using testing::max_abs_diff;

const char* kTinyLlama = R"({"model_type": "llama", "hidden_size": 16, "num_hidden_layers": 2,
  "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 24, "vocab_size": 40,
  "rms_norm_eps": 1e-6, "eos_token_id": 2})";

HFConfig tiny_config(const std::string& text = kTinyLlama) {
  return HFConfig(nlohmann::json::parse(text), "(test)/config.json");
}

// config.json + model.safetensors of a random tiny Llama, with `edit` applied to the tensor list.
void write_checkpoint(const testing::TempDir& dir, const std::string& config_text,
                      const std::function<void(std::vector<std::pair<std::string, at::Tensor>>&)>& edit = {}) {
  auto model = random_backbone(tiny_config());
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& p : model->named_parameters()) tensors.emplace_back(p.key(), p.value());
  if (edit) edit(tensors);
  io::save_safetensors(dir.sub("model.safetensors"), tensors);
  dir.write("config.json", config_text);
}

at::Tensor logits_of(Backbone& model, const at::Tensor& ids) {
  BackboneInput in;
  in.input_ids = ids;
  return model.forward(in).logits;
}

TEST(Loader, RegistersTheDecoderFamilies) {
  const auto names = model_families().names();
  for (const char* type : {"llama", "mistral", "qwen2", "gpt2", "gpt_neox"})
    EXPECT_NE(std::find(names.begin(), names.end(), type), names.end()) << type;
}

TEST(Loader, EmptyDirectoryIsAnError) {
  testing::TempDir dir;
  std::string m = error_of([&] { load_backbone(dir.str()); });
  EXPECT_NE(m.find(dir.str() + " has no config.json"), std::string::npos) << m;
  dir.write("config.json", kTinyLlama);
  m = error_of([&] { load_backbone(dir.str()); });
  EXPECT_NE(m.find("has no weights"), std::string::npos) << m;
}

TEST(Loader, ConfigMissingARequiredFieldIsAnError) {
  testing::TempDir dir;
  nlohmann::json config = nlohmann::json::parse(kTinyLlama);
  config.erase("intermediate_size");
  write_checkpoint(dir, config.dump());
  std::string m = error_of([&] { load_backbone(dir.str()); });
  EXPECT_NE(m.find("config.json (" + dir.str() + "/config.json): field 'intermediate_size' is missing"),
            std::string::npos)
      << m;
  config = nlohmann::json::parse(kTinyLlama);
  config.erase("model_type");
  dir.write("config.json", config.dump());
  m = error_of([&] { load_backbone(dir.str()); });
  EXPECT_NE(m.find("field 'model_type' is missing"), std::string::npos) << m;
}

TEST(Loader, TensorShapeDisagreeingWithTheConfigIsAnError) {
  testing::TempDir dir;
  nlohmann::json config = nlohmann::json::parse(kTinyLlama);
  config["intermediate_size"] = 32;  // the weights were made with 24
  write_checkpoint(dir, config.dump());
  std::string m = error_of([&] { load_backbone(dir.str()); });
  EXPECT_NE(m.find("tensor 'model.layers.0.mlp.gate_proj.weight' in " + dir.sub("model.safetensors") +
                   " has shape [24, 16], but the config (" + dir.str() + "/config.json) implies [32, 16]"),
            std::string::npos)
      << m;
}

TEST(Loader, UnknownModelTypeNamesTheSupportedOnes) {
  testing::TempDir dir;
  nlohmann::json config = nlohmann::json::parse(kTinyLlama);
  config["model_type"] = "llamma";
  write_checkpoint(dir, config.dump());
  std::string m = error_of([&] { load_backbone(dir.str()); });
  EXPECT_NE(m.find("model_type 'llamma' is not supported (did you mean llama?); supported model types: "),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("gpt2, gpt_neox, llama, mistral, qwen2"), std::string::npos) << m;
}

TEST(Loader, MissingTensorIsAnError) {
  testing::TempDir dir;
  write_checkpoint(dir, kTinyLlama, [](auto& tensors) {
    tensors.erase(std::remove_if(tensors.begin(), tensors.end(), [](auto& t) { return t.first == "model.norm.weight"; }),
                  tensors.end());
  });
  std::string m = error_of([&] { load_backbone(dir.str()); });
  EXPECT_NE(m.find("checkpoint " + dir.str() + " does not match its config: 1 missing tensor: model.norm.weight"),
            std::string::npos)
      << m;
}

TEST(Loader, UnexpectedTensorIsAnError) {
  testing::TempDir dir;
  write_checkpoint(dir, kTinyLlama, [](auto& tensors) { tensors.emplace_back("model.extra.weight", at::zeros({2})); });
  std::string m = error_of([&] { load_backbone(dir.str()); });
  EXPECT_NE(m.find("1 unexpected tensor: model.extra.weight"), std::string::npos) << m;
  // Known buffers are not "unexpected".
  write_checkpoint(dir, kTinyLlama, [](auto& tensors) {
    tensors.emplace_back("model.layers.0.self_attn.rotary_emb.inv_freq", at::zeros({2}));
  });
  EXPECT_NO_THROW(load_backbone(dir.str()));
}

TEST(Loader, SaveAndLoadRoundTrip) {
  testing::TempDir dir;
  auto model = random_backbone(tiny_config(), {}, 11);
  save_backbone(*model, dir.sub("saved"));
  auto loaded = load_backbone(dir.sub("saved"));
  EXPECT_EQ(loaded->info().num_parameters, model->info().num_parameters);
  auto a = model->named_parameters(), b = loaded->named_parameters();
  ASSERT_EQ(a.size(), b.size());
  for (const auto& p : a) EXPECT_TRUE(at::equal(p.value(), b[p.key()])) << p.key();
  at::Tensor ids = at::randint(0, 40, {2, 7}, at::kLong);
  EXPECT_TRUE(at::equal(logits_of(*model, ids), logits_of(*loaded, ids)));
  EXPECT_EQ(loaded->config().get_string("model_type"), "llama");
  EXPECT_EQ(loaded->config().get_string("torch_dtype"), "float32");
  EXPECT_EQ(loaded->config().get_int("intermediate_size"), 24);
  EXPECT_EQ(io::SafetensorsFile(dir.sub("saved/model.safetensors")).metadata().at("format"), "pt");
}

TEST(Loader, SavedGoldenModelsLoadBackWithTheSameLogits) {
  for (const std::string name : {"gpt2", "gpt_neox", "llama"}) {
    if (!testing::have_golden(name)) GTEST_SKIP() << "../shared not found";
    testing::TempDir dir;
    auto model = load_backbone(testing::model_dir(name));
    save_backbone(*model, dir.sub(name));
    io::SafetensorsFile original(testing::model_dir(name) + "/model.safetensors");
    io::SafetensorsFile saved(dir.sub(name + "/model.safetensors"));
    EXPECT_EQ(saved.records().size(), original.records().size()) << name;  // same HF names, tied head absent
    for (const auto& r : original.records()) EXPECT_TRUE(saved.contains(r.name)) << name << ": " << r.name;
    auto loaded = load_backbone(dir.sub(name));
    at::Tensor ids = at::randint(0, 512, {1, 9}, at::kLong);
    EXPECT_TRUE(at::equal(logits_of(*model, ids), logits_of(*loaded, ids))) << name;
  }
}

TEST(Loader, LoadsInBfloat16AndHalf) {
  if (!testing::have_golden("llama")) GTEST_SKIP() << "../shared not found";
  auto fp32 = load_backbone(testing::model_dir("llama"));
  at::Tensor ids = at::randint(0, 512, {2, 10}, at::kLong);
  at::Tensor expected = logits_of(*fp32, ids);
  for (auto dtype : {at::kBFloat16, at::kHalf}) {
    LoadOptions options;
    options.dtype = dtype;
    auto model = load_backbone(testing::model_dir("llama"), options);
    EXPECT_EQ(model->dtype(), dtype);
    for (const auto& p : model->parameters()) EXPECT_EQ(p.scalar_type(), dtype);
    at::Tensor logits = logits_of(*model, ids);
    EXPECT_EQ(logits.scalar_type(), dtype);
    EXPECT_LT(max_abs_diff(logits.to(at::kFloat), expected), 0.1) << c10::toString(dtype);
  }
  EXPECT_EQ(parse_dtype("bf16"), at::kBFloat16);
  EXPECT_EQ(parse_dtype("float16"), at::kHalf);
  EXPECT_NE(error_of([] { parse_dtype("int8"); }).find("unknown dtype 'int8'; expected fp32, bf16 or fp16"),
            std::string::npos);
}

}  // namespace
}  // namespace ptlab::models
