#include "framework/io/peft_adapter.h"

#include "framework/core/error.h"
#include "framework/io/safetensors.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <unistd.h>
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <tuple>

namespace ptlab::io {
namespace {

namespace fs = std::filesystem;

const fs::path kGoldenPeft = fs::path(PTLAB_SHARED_DIR) / "golden" / "peft";

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

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

// The header JSON text of a safetensors file (after the 8-byte length).
std::string header_text(const std::string& file_bytes) {
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(file_bytes.at(i));
  return file_bytes.substr(8, n);
}

class PeftAdapterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::replace(name.begin(), name.end(), '/', '_');  // parameterised tests are named "Test/param"
    dir_ = fs::temp_directory_path() / ("ptlab_peft_" + std::to_string(::getpid()) + "_" + name);
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A copy of a golden adapter directory in the temp dir, to damage.
  fs::path copy_golden(const std::string& run, const std::string& method) {
    const fs::path src = kGoldenPeft / run / method / "adapter_final";
    const fs::path dst = dir_ / (run + "_" + method);
    fs::create_directories(dst);
    for (const char* f : {"adapter_config.json", "adapter_model.safetensors"})
      write_bytes(dst / f, read_bytes(src / f));
    return dst;
  }

  static PeftPromptAdapter small_adapter() {
    PeftPromptAdapter a;
    a.config.base_model_name_or_path = "models/tiny";
    a.config.num_virtual_tokens = 2;
    a.config.token_dim = 4;
    a.config.num_attention_heads = 2;
    a.config.num_layers = 3;
    a.prompt_embeddings = at::arange(8, at::kFloat).reshape({2, 4});  // [n*S, d] = [2, 4]
    return a;
  }

  fs::path dir_;
};

// ---- Every golden prompt-tuning adapter: import, export, compare with PEFT's bytes.

using GoldenCase = std::tuple<std::string, std::string, std::string>;  // run, method, adapter_init|adapter_final

class PeftGoldenTest : public PeftAdapterTest, public ::testing::WithParamInterface<GoldenCase> {};

std::string family_of_run(const std::string& run) {
  if (run == "stories260K") return "llama";
  if (run.rfind("bert", 0) == 0) return "bert";
  return run;
}

TEST_P(PeftGoldenTest, ImportsAndExportsExactlyWhatPeftWrote) {
  const auto& [run, method, which] = GetParam();
  const fs::path golden = kGoldenPeft / run / method / which;
  if (!fs::exists(golden)) GTEST_SKIP() << "../shared not found: " << golden;
  const auto golden_json = nlohmann::json::parse(read_bytes(golden / "adapter_config.json"));

  const PeftPromptAdapter a = import_peft_prompt_adapter(golden.string());
  const auto& c = a.config;
  EXPECT_EQ(c.task_type, golden_json["task_type"]);
  EXPECT_EQ(c.base_model_name_or_path, golden_json["base_model_name_or_path"]);
  EXPECT_EQ(c.num_virtual_tokens, 8);
  EXPECT_EQ(c.token_dim, 64);
  EXPECT_EQ(c.num_transformer_submodules, run == "t5" ? 2 : 1);
  EXPECT_EQ(c.num_layers, golden_json["num_layers"]);
  EXPECT_EQ(c.num_attention_heads, golden_json["num_attention_heads"]);
  EXPECT_EQ(c.prompt_tuning_init, method == "prompt_text" ? "TEXT" : "RANDOM");
  EXPECT_EQ(c.prompt_tuning_init_text.has_value(), method == "prompt_text");
  EXPECT_TRUE(c.other_fields.empty());
  EXPECT_FALSE(c.modules_to_save.has_value());
  // Our task-type mapping agrees with what PEFT was given for this run.
  EXPECT_EQ(peft_task_type(family_of_run(run), run == "bert_seqcls"), c.task_type);
  EXPECT_EQ(peft_num_transformer_submodules(c.task_type), c.num_transformer_submodules);

  // Values agree with the trained parameters PEFT held in memory (an independent file).
  const std::string state_file =
      which == "adapter_init" ? "init_full_state.safetensors" : "final_full_state.safetensors";
  const auto state = load_safetensors((golden.parent_path() / state_file).string());
  ASSERT_EQ(a.prompt_embeddings.scalar_type(), at::kFloat);
  EXPECT_TRUE(a.prompt_embeddings.equal(state.at("prompt_encoder.default.embedding.weight")));
  if (run == "bert_seqcls") {
    ASSERT_EQ(a.extra.size(), 2u);
    EXPECT_TRUE(a.extra.at("base_model.classifier.weight")
                    .equal(state.at("base_model.classifier.modules_to_save.default.weight")));
    EXPECT_TRUE(
        a.extra.at("base_model.classifier.bias").equal(state.at("base_model.classifier.modules_to_save.default.bias")));
  } else {
    EXPECT_TRUE(a.extra.empty());
  }

  const fs::path out = dir_ / "exported" / "nested";
  export_peft_prompt_adapter(out.string(), a);
  // adapter_config.json and adapter_model.safetensors are byte-identical to PEFT's.
  EXPECT_EQ(read_bytes(out / "adapter_config.json"), read_bytes(golden / "adapter_config.json"));
  const std::string ours = read_bytes(out / "adapter_model.safetensors");
  const std::string theirs = read_bytes(golden / "adapter_model.safetensors");
  EXPECT_EQ(header_text(ours), header_text(theirs));
  EXPECT_TRUE(ours == theirs) << "safetensors bytes differ (" << ours.size() << " vs " << theirs.size() << ")";
  const std::string readme = read_bytes(out / "README.md");
  EXPECT_NE(readme.find("ptlab"), std::string::npos);
  EXPECT_NE(readme.find("library_name: peft"), std::string::npos);
  EXPECT_NE(readme.find("base_model: " + c.base_model_name_or_path), std::string::npos);
  // No temporary files are left behind.
  EXPECT_EQ(std::distance(fs::directory_iterator(out), fs::directory_iterator()), 3);

  const PeftPromptAdapter back = import_peft_prompt_adapter(out.string());
  EXPECT_TRUE(back.prompt_embeddings.equal(a.prompt_embeddings));
  EXPECT_EQ(back.config.prompt_tuning_init_text, c.prompt_tuning_init_text);
  EXPECT_EQ(back.extra.size(), a.extra.size());
}

std::vector<GoldenCase> golden_cases() {
  std::vector<GoldenCase> out;
  for (const char* run : {"gpt2", "gpt_neox", "llama", "stories260K", "t5", "bert_seqcls", "bert_mlm"})
    for (const char* method : {"prompt_random", "prompt_text"})
      for (const char* which : {"adapter_init", "adapter_final"}) out.emplace_back(run, method, which);
  return out;
}

INSTANTIATE_TEST_SUITE_P(Golden, PeftGoldenTest, ::testing::ValuesIn(golden_cases()), [](const auto& info) {
  return std::get<0>(info.param) + "_" + std::get<1>(info.param) + "_" + std::get<2>(info.param).substr(8);
});

// ---- Import errors

TEST_F(PeftAdapterTest, RejectsOtherPeftMethodsNamingTheirType) {
  for (const auto& [method, type] : std::vector<std::pair<std::string, std::string>>{
           {"prefix", "PREFIX_TUNING"}, {"ptuning_mlp", "P_TUNING"}, {"multitask", "MULTITASK_PROMPT_TUNING"}}) {
    const fs::path d = kGoldenPeft / "gpt2" / method / "adapter_final";
    if (!fs::exists(d)) GTEST_SKIP() << "../shared not found: " << d;
    const std::string msg = error_of([&] { import_peft_prompt_adapter(d.string()); });
    EXPECT_NE(msg.find((d / "adapter_config.json").string()), std::string::npos) << msg;
    EXPECT_NE(msg.find("peft_type is " + type + ";"), std::string::npos) << msg;
    EXPECT_NE(msg.find("only PROMPT_TUNING adapters import here"), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << "one line: " << msg;
  }
}

TEST_F(PeftAdapterTest, MissingDirectoryOrFiles) {
  const std::string missing = (dir_ / "nowhere").string();
  std::string msg = error_of([&] { import_peft_prompt_adapter(missing); });
  EXPECT_NE(msg.find(missing + " does not exist"), std::string::npos) << msg;

  write_bytes(dir_ / "file", "x");
  msg = error_of([&] { import_peft_prompt_adapter((dir_ / "file").string()); });
  EXPECT_NE(msg.find("is not a directory"), std::string::npos) << msg;

  fs::create_directories(dir_ / "empty");
  msg = error_of([&] { import_peft_prompt_adapter((dir_ / "empty").string()); });
  EXPECT_NE(msg.find((dir_ / "empty" / "adapter_config.json").string() + " not found"), std::string::npos) << msg;

  export_peft_prompt_adapter((dir_ / "a").string(), small_adapter());
  fs::remove(dir_ / "a" / "adapter_model.safetensors");
  msg = error_of([&] { import_peft_prompt_adapter((dir_ / "a").string()); });
  EXPECT_NE(msg.find((dir_ / "a" / "adapter_model.safetensors").string() + " not found"), std::string::npos) << msg;
  write_bytes(dir_ / "a" / "adapter_model.bin", "pickle");
  msg = error_of([&] { import_peft_prompt_adapter((dir_ / "a").string()); });
  EXPECT_NE(msg.find("safe_serialization=True"), std::string::npos) << msg;
}

TEST_F(PeftAdapterTest, TruncatedSafetensors) {
  if (!fs::exists(kGoldenPeft)) GTEST_SKIP() << "../shared not found: " << kGoldenPeft;
  const fs::path d = copy_golden("gpt2", "prompt_random");
  const std::string bytes = read_bytes(d / "adapter_model.safetensors");
  write_bytes(d / "adapter_model.safetensors", bytes.substr(0, bytes.size() - 100));
  std::string msg = error_of([&] { import_peft_prompt_adapter(d.string()); });
  EXPECT_NE(msg.find((d / "adapter_model.safetensors").string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;

  write_bytes(d / "adapter_model.safetensors", bytes.substr(0, 5));
  msg = error_of([&] { import_peft_prompt_adapter(d.string()); });
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
}

TEST_F(PeftAdapterTest, ShapeDisagreeingWithConfig) {
  if (!fs::exists(kGoldenPeft)) GTEST_SKIP() << "../shared not found: " << kGoldenPeft;
  const fs::path d = copy_golden("gpt2", "prompt_random");
  auto json = nlohmann::json::parse(read_bytes(d / "adapter_config.json"));
  json["num_virtual_tokens"] = 9;
  write_bytes(d / "adapter_config.json", json.dump());
  std::string msg = error_of([&] { import_peft_prompt_adapter(d.string()); });
  EXPECT_NE(msg.find("'prompt_embeddings' has shape [8, 64]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("expected [9, 64]"), std::string::npos) << msg;
  EXPECT_NE(msg.find((d / "adapter_model.safetensors").string()), std::string::npos) << msg;

  // Seq2seq: S = 2 doubles the rows PEFT expects.
  json["num_virtual_tokens"] = 8;
  json["num_transformer_submodules"] = 2;
  write_bytes(d / "adapter_config.json", json.dump());
  msg = error_of([&] { import_peft_prompt_adapter(d.string()); });
  EXPECT_NE(msg.find("expected [16, 64]"), std::string::npos) << msg;
}

TEST_F(PeftAdapterTest, MissingOrNonFloatPromptTensor) {
  export_peft_prompt_adapter((dir_ / "a").string(), small_adapter());
  const std::string weights = (dir_ / "a" / "adapter_model.safetensors").string();
  save_safetensors(weights, {{"prompt_embedding", at::zeros({2, 4})}}, {{"format", "pt"}});
  std::string msg = error_of([&] { import_peft_prompt_adapter((dir_ / "a").string()); });
  EXPECT_NE(msg.find(weights + " has no tensor 'prompt_embeddings' (it holds: prompt_embedding)"), std::string::npos)
      << msg;

  save_safetensors(weights, {{"prompt_embeddings", at::zeros({2, 4}, at::kLong)}}, {{"format", "pt"}});
  msg = error_of([&] { import_peft_prompt_adapter((dir_ / "a").string()); });
  EXPECT_NE(msg.find("has dtype I64; expected floating point"), std::string::npos) << msg;

  // Half-precision adapters (base model loaded in fp16/bf16) import as float32.
  save_safetensors(weights, {{"prompt_embeddings", at::full({2, 4}, 0.5, at::kBFloat16)}}, {{"format", "pt"}});
  auto a = import_peft_prompt_adapter((dir_ / "a").string());
  EXPECT_EQ(a.prompt_embeddings.scalar_type(), at::kFloat);
  EXPECT_TRUE(a.prompt_embeddings.equal(at::full({2, 4}, 0.5)));
}

TEST_F(PeftAdapterTest, MalformedConfig) {
  export_peft_prompt_adapter((dir_ / "a").string(), small_adapter());
  const fs::path config = dir_ / "a" / "adapter_config.json";
  const auto good = nlohmann::json::parse(read_bytes(config));
  auto expect_error = [&](const nlohmann::json& j, const std::string& needle) {
    write_bytes(config, j.dump());
    const std::string msg = error_of([&] { import_peft_prompt_adapter((dir_ / "a").string()); });
    EXPECT_NE(msg.find(needle), std::string::npos) << msg;
    EXPECT_NE(msg.find(config.string()), std::string::npos) << msg;
  };
  auto with = [&](const std::string& key, const nlohmann::json& v) {
    auto j = good;
    j[key] = v;
    return j;
  };
  expect_error(with("num_virtual_tokens", "2"), "'num_virtual_tokens' must be an integer, got string \"2\"");
  expect_error(with("token_dim", nullptr), "'token_dim' must be an integer");
  expect_error(with("task_type", "CAUSAL_LMM"), "unknown task_type 'CAUSAL_LMM' (did you mean CAUSAL_LM?)");
  expect_error(with("task_type", nullptr), "'task_type' is missing or null");
  expect_error(with("prompt_tuning_init", "TXT"), "unknown prompt_tuning_init 'TXT' (did you mean TEXT?)");
  expect_error(with("inference_mode", 1), "'inference_mode' must be true or false");
  expect_error(with("tokenizer_kwargs", "x"), "'tokenizer_kwargs' must be null or an object");
  expect_error(with("modules_to_save", {1, 2}), "'modules_to_save' must be null or a list of module names");
  expect_error(with("num_virtual_tokens", 0), "must be positive");
  auto no_type = good;
  no_type.erase("peft_type");
  expect_error(no_type, "no 'peft_type'");
  expect_error(nlohmann::json::array(), "expected a JSON object");

  write_bytes(config, "{\"peft_type\": ");
  const std::string msg = error_of([&] { import_peft_prompt_adapter((dir_ / "a").string()); });
  EXPECT_NE(msg.find(config.string() + " is not valid JSON"), std::string::npos) << msg;
}

TEST_F(PeftAdapterTest, NullOrMissingOptionalFieldsTakePeftDefaults) {
  export_peft_prompt_adapter((dir_ / "a").string(), small_adapter());
  const fs::path config = dir_ / "a" / "adapter_config.json";
  auto j = nlohmann::json::parse(read_bytes(config));
  j["prompt_tuning_init"] = nullptr;
  j["num_layers"] = nullptr;
  j.erase("num_transformer_submodules");
  j["task_type"] = "SEQ_2_SEQ_LM";
  j["num_virtual_tokens"] = 1;  // S defaults to 2 for seq2seq: 1 x 2 rows match the [2, 4] tensor
  write_bytes(config, j.dump());
  const auto a = import_peft_prompt_adapter((dir_ / "a").string());
  EXPECT_EQ(a.config.prompt_tuning_init, "RANDOM");
  EXPECT_EQ(a.config.num_layers, 0);
  EXPECT_EQ(a.config.num_transformer_submodules, 2);
  EXPECT_TRUE(a.config.other_fields.empty());
  export_peft_prompt_adapter((dir_ / "b").string(), a);  // no key is written twice
  const auto back = nlohmann::json::parse(read_bytes(dir_ / "b" / "adapter_config.json"));
  EXPECT_EQ(back["prompt_tuning_init"], "RANDOM");
  EXPECT_EQ(back["num_transformer_submodules"], 2);
}

// ---- Export

TEST_F(PeftAdapterTest, ExportWritesPythonJsonAndKeepsUnknownFields) {
  PeftPromptAdapter a;
  auto& c = a.config;
  c.base_model_name_or_path = "org/mod\u00e8le";
  c.revision = "main";
  c.task_type = "SEQ_2_SEQ_LM";
  c.num_virtual_tokens = 3;
  c.token_dim = 4;
  c.num_transformer_submodules = 2;
  c.num_attention_heads = 12;
  c.num_layers = 24;
  c.prompt_tuning_init = "TEXT";
  c.prompt_tuning_init_text = "D\u00e9cidez: bon ou mauvais? \U0001F600 \"cit\u00e9\"\n\ttab\\";
  c.tokenizer_name_or_path = "org/tok";
  c.tokenizer_kwargs = {{"use_fast", false},
                        {"padding_side", "left"},
                        {"model_max_length", 512},
                        {"scale", 0.5},
                        {"empty", nlohmann::json::array()},
                        {"nested", {{"b", 1e-5}, {"a", {1, "x", nlohmann::json::object()}}}}};
  c.modules_to_save = std::vector<std::string>{"classifier", "score"};
  c.other_fields["peft_version"] = "0.14.0";
  a.prompt_embeddings = at::randn({6, 4}, at::kDouble);  // written as float32
  a.extra["base_model.classifier.weight"] = at::randn({2, 4}).to(at::kBFloat16);

  export_peft_prompt_adapter((dir_ / "a").string(), a);
  // What Python's json.dumps(d, indent=2, sort_keys=True) printed for the same dict.
  const std::string expected = R"({
  "auto_mapping": null,
  "base_model_name_or_path": "org/mod\u00e8le",
  "inference_mode": true,
  "modules_to_save": [
    "classifier",
    "score"
  ],
  "num_attention_heads": 12,
  "num_layers": 24,
  "num_transformer_submodules": 2,
  "num_virtual_tokens": 3,
  "peft_type": "PROMPT_TUNING",
  "peft_version": "0.14.0",
  "prompt_tuning_init": "TEXT",
  "prompt_tuning_init_text": "D\u00e9cidez: bon ou mauvais? \ud83d\ude00 \"cit\u00e9\"\n\ttab\\",
  "revision": "main",
  "task_type": "SEQ_2_SEQ_LM",
  "token_dim": 4,
  "tokenizer_kwargs": {
    "empty": [],
    "model_max_length": 512,
    "nested": {
      "a": [
        1,
        "x",
        {}
      ],
      "b": 1e-05
    },
    "padding_side": "left",
    "scale": 0.5,
    "use_fast": false
  },
  "tokenizer_name_or_path": "org/tok"
})";
  EXPECT_EQ(read_bytes(dir_ / "a" / "adapter_config.json"), expected);

  const auto back = import_peft_prompt_adapter((dir_ / "a").string());
  EXPECT_EQ(back.config.base_model_name_or_path, c.base_model_name_or_path);
  EXPECT_EQ(back.config.prompt_tuning_init_text, c.prompt_tuning_init_text);
  EXPECT_EQ(back.config.revision, c.revision);
  EXPECT_EQ(back.config.tokenizer_kwargs, c.tokenizer_kwargs);
  EXPECT_EQ(back.config.modules_to_save, c.modules_to_save);
  EXPECT_EQ(back.config.other_fields, c.other_fields);
  EXPECT_TRUE(back.prompt_embeddings.equal(a.prompt_embeddings.to(at::kFloat)));
  EXPECT_EQ(back.extra.at("base_model.classifier.weight").scalar_type(), at::kBFloat16);
  EXPECT_TRUE(back.extra.at("base_model.classifier.weight").equal(a.extra.at("base_model.classifier.weight")));

  // Export of the import reproduces the files byte for byte (a null modules_to_save too).
  export_peft_prompt_adapter((dir_ / "b").string(), back);
  EXPECT_EQ(read_bytes(dir_ / "b" / "adapter_config.json"), expected);
  EXPECT_EQ(read_bytes(dir_ / "b" / "adapter_model.safetensors"), read_bytes(dir_ / "a" / "adapter_model.safetensors"));
  auto j = nlohmann::json::parse(expected);
  j["modules_to_save"] = nullptr;
  write_bytes(dir_ / "b" / "adapter_config.json", python_json_dumps(j));
  export_peft_prompt_adapter((dir_ / "c").string(), import_peft_prompt_adapter((dir_ / "b").string()));
  EXPECT_EQ(read_bytes(dir_ / "c" / "adapter_config.json"), read_bytes(dir_ / "b" / "adapter_config.json"));
}

TEST_F(PeftAdapterTest, TensorsInSafetensorsLibraryOrder) {
  auto a = small_adapter();
  a.extra["z.f64"] = at::zeros({1}, at::kDouble);
  a.extra["a.i64"] = at::zeros({1}, at::kLong);
  a.extra["b.f16"] = at::zeros({1}, at::kHalf);
  a.extra["c.f32"] = at::zeros({1}, at::kFloat);
  a.extra["d.u8"] = at::zeros({3}, at::kByte);
  export_peft_prompt_adapter((dir_ / "a").string(), a);
  // Descending safetensors dtype rank (I64 > F64 > F32 > F16 > U8), then by name.
  const std::vector<std::string> expected = {"a.i64", "z.f64", "c.f32", "prompt_embeddings", "b.f16", "d.u8"};
  SafetensorsFile file((dir_ / "a" / "adapter_model.safetensors").string());
  auto records = file.records();
  std::sort(records.begin(), records.end(), [](const auto& x, const auto& y) { return x.begin < y.begin; });
  std::vector<std::string> by_offset;
  for (const auto& r : records) by_offset.push_back(r.name);
  EXPECT_EQ(by_offset, expected);
  const std::string header = header_text(read_bytes(dir_ / "a" / "adapter_model.safetensors"));
  EXPECT_EQ(header.rfind("{\"__metadata__\":{\"format\":\"pt\"},\"a.i64\":", 0), 0u) << header;
  EXPECT_EQ(file.metadata(), (std::map<std::string, std::string>{{"format", "pt"}}));
}

TEST_F(PeftAdapterTest, ExportErrors) {
  auto expect_error = [&](const PeftPromptAdapter& a, const std::string& needle) {
    const std::string msg = error_of([&] { export_peft_prompt_adapter((dir_ / "out").string(), a); });
    EXPECT_NE(msg.find(needle), std::string::npos) << msg;
  };
  auto a = small_adapter();
  a.prompt_embeddings = at::zeros({3, 4});
  expect_error(a, "prompt_embeddings has shape [3, 4]");
  expect_error(a, "expected [2, 4]");
  a = small_adapter();
  a.config.num_transformer_submodules = 2;
  expect_error(a, "expected [4, 4]");
  a = small_adapter();
  a.prompt_embeddings = at::Tensor();
  expect_error(a, "prompt_embeddings is undefined");
  a = small_adapter();
  a.prompt_embeddings = at::zeros({2, 4}, at::kLong);
  expect_error(a, "expected a floating-point tensor");
  a = small_adapter();
  a.config.task_type = "causal_lm";
  expect_error(a, "unknown task_type 'causal_lm' (did you mean CAUSAL_LM? names are case-sensitive)");
  a = small_adapter();
  a.config.prompt_tuning_init = "TEXT";
  expect_error(a, "TEXT needs prompt_tuning_init_text and tokenizer_name_or_path");
  a = small_adapter();
  a.config.token_dim = 0;
  expect_error(a, "must be positive");
  a = small_adapter();
  a.extra["prompt_embeddings"] = at::zeros({1});
  expect_error(a, "extra must not hold 'prompt_embeddings'");
  a = small_adapter();
  a.extra["head"] = at::Tensor();
  expect_error(a, "extra tensor 'head' is undefined");
  a = small_adapter();
  a.config.other_fields["peft_type"] = "LORA";
  expect_error(a, "other_fields repeats 'peft_type'");
  a = small_adapter();
  a.config.tokenizer_kwargs = 3;
  expect_error(a, "tokenizer_kwargs must be null or an object");
  EXPECT_FALSE(fs::exists(dir_ / "out")) << "a rejected adapter must not create its directory";

  // Unwritable target: a parent is a regular file (root ignores permission bits, so test it this way).
  write_bytes(dir_ / "plain_file", "x");
  const std::string bad = (dir_ / "plain_file" / "adapter").string();
  const std::string msg = error_of([&] { export_peft_prompt_adapter(bad, small_adapter()); });
  EXPECT_NE(msg.find("cannot create directory " + bad), std::string::npos) << msg;
}

// ---- Helpers

TEST(PeftTaskType, MapsFamiliesAsPeftDoes) {
  EXPECT_EQ(peft_task_type("gpt2", false), "CAUSAL_LM");
  EXPECT_EQ(peft_task_type("gpt_neox", false), "CAUSAL_LM");
  EXPECT_EQ(peft_task_type("llama", false), "CAUSAL_LM");
  EXPECT_EQ(peft_task_type("t5", false), "SEQ_2_SEQ_LM");
  EXPECT_EQ(peft_task_type("bert", false), "FEATURE_EXTRACTION");
  EXPECT_EQ(peft_task_type("bert", true), "SEQ_CLS");
  EXPECT_EQ(peft_task_type("llama", true), "SEQ_CLS");
  EXPECT_EQ(peft_num_transformer_submodules("SEQ_2_SEQ_LM"), 2);
  EXPECT_EQ(peft_num_transformer_submodules("CAUSAL_LM"), 1);
  const std::string msg = error_of([] { peft_task_type("gpt-2", false); });
  EXPECT_NE(msg.find("backbone family 'gpt-2' (did you mean gpt2?)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("llama, gpt2, gpt_neox, bert, t5"), std::string::npos) << msg;
}

TEST(PythonJsonDumps, FloatsAsPythonRepr) {
  // Expected strings are Python 3's repr() of the same doubles.
  const std::vector<std::pair<double, std::string>> cases = {
      {1.0, "1.0"},
      {0.1, "0.1"},
      {1e-4, "0.0001"},
      {1e-5, "1e-05"},
      {1.5e-7, "1.5e-07"},
      {123456789012345.6, "123456789012345.6"},
      {1e15, "1000000000000000.0"},
      {1e16, "1e+16"},
      {1.2345e16, "1.2345e+16"},
      {-2.5, "-2.5"},
      {3e-300, "3e-300"},
      {1.7976931348623157e308, "1.7976931348623157e+308"},
      {5e-324, "5e-324"},
      {0.30000000000000004, "0.30000000000000004"},
      {9007199254740992.0, "9007199254740992.0"},
      {100.0, "100.0"},
      {1234.5, "1234.5"},
      {0.0, "0.0"},
      {-0.0, "-0.0"},
  };
  for (const auto& [v, s] : cases) EXPECT_EQ(python_json_dumps(v), s) << v;
  nlohmann::json j = {{"x", std::nan("")},
                      {"y", -std::numeric_limits<double>::infinity()},
                      {"z", {std::numeric_limits<double>::infinity()}}};
  EXPECT_EQ(python_json_dumps(j), "{\n  \"x\": NaN,\n  \"y\": -Infinity,\n  \"z\": [\n    Infinity\n  ]\n}");
}

TEST(PythonJsonDumps, EscapesAsEnsureAscii) {
  EXPECT_EQ(python_json_dumps("a\x01\x7f/~ \xc3\xa9"), "\"a\\u0001\\u007f/~ \\u00e9\"");
  EXPECT_EQ(python_json_dumps(nlohmann::json::array()), "[]");
  EXPECT_EQ(python_json_dumps(-7), "-7");
  EXPECT_EQ(python_json_dumps(18446744073709551615ull), "18446744073709551615");
  for (const std::string bad : {"\xff", "\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80"}) {
    const std::string msg = error_of([&] { python_json_dumps(nlohmann::json(bad)); });
    EXPECT_NE(msg.find("is not valid UTF-8"), std::string::npos) << msg;
  }
}

}  // namespace
}  // namespace ptlab::io
