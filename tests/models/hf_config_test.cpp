#include "framework/models/hf_config.h"

#include "tests/models/golden_fixture.h"
#include "tests/models/temp_dir.h"

#include <gtest/gtest.h>

namespace ptlab::models {
namespace {

using testing::error_of;

HFConfig make(const std::string& text) { return HFConfig(nlohmann::json::parse(text), "/m/config.json"); }

TEST(HFConfig, ReadsFieldsWithTypesAndDefaults) {
  HFConfig c = make(R"({"hidden_size": 64, "eps": 1e-6, "tied": true, "model_type": "llama",
                         "big": 2048.0, "eos_token_id": [2, 7], "pad_token_id": null, "bos_token_id": 1})");
  EXPECT_EQ(c.get_int("hidden_size"), 64);
  EXPECT_EQ(c.get_int("big"), 2048);  // integral floats are accepted
  EXPECT_DOUBLE_EQ(c.get_double("eps"), 1e-6);
  EXPECT_DOUBLE_EQ(c.get_double("hidden_size"), 64.0);
  EXPECT_TRUE(c.get_bool("tied"));
  EXPECT_EQ(c.get_string("model_type"), "llama");
  EXPECT_EQ(c.get_int("missing", 5), 5);
  EXPECT_FALSE(c.get_bool("missing", false));
  EXPECT_EQ(c.get_string("missing", "x"), "x");
  EXPECT_TRUE(c.has("hidden_size"));
  EXPECT_FALSE(c.has("pad_token_id"));  // null counts as absent
  EXPECT_EQ(c.get_int_any({"n_embd", "hidden_size"}), 64);
  EXPECT_EQ(c.get_token_id("eos_token_id"), 2);
  EXPECT_EQ(c.get_token_ids("eos_token_id"), (std::vector<int64_t>{2, 7}));
  EXPECT_EQ(c.get_token_id("bos_token_id"), 1);
  EXPECT_EQ(c.get_token_id("pad_token_id"), -1);
  EXPECT_TRUE(c.get_token_ids("pad_token_id").empty());
}

TEST(HFConfig, MissingAndMistypedFieldsNameTheFileAndField) {
  HFConfig c = make(R"({"hidden_size": "64", "num_layers": 2.5, "hidden_sizes": 3})");
  std::string m = error_of([&] { c.get_int("vocab_size"); });
  EXPECT_NE(m.find("config.json (/m/config.json): field 'vocab_size' is missing"), std::string::npos) << m;
  m = error_of([&] { c.get_int("hidden_size"); });
  EXPECT_NE(m.find("field 'hidden_size' must be an integer, got \"64\""), std::string::npos) << m;
  m = error_of([&] { c.get_int("num_layers"); });
  EXPECT_NE(m.find("must be an integer, got 2.5"), std::string::npos) << m;
  m = error_of([&] { c.get_int("hidden_size", 1); });  // present but wrong type is still an error
  EXPECT_NE(m.find("must be an integer"), std::string::npos) << m;
  m = error_of([&] { c.get_bool("hidden_sizes"); });
  EXPECT_NE(m.find("must be true or false"), std::string::npos) << m;
  m = error_of([&] { c.get_int_any({"n_layer", "num_hidden_layers"}); });
  EXPECT_NE(m.find("field 'n_layer' is missing; it is required (any of 'n_layer', 'num_hidden_layers')"),
            std::string::npos)
      << m;
  m = error_of([&] { c.get_string("hidden_siz"); });
  EXPECT_NE(m.find("did you mean hidden_size"), std::string::npos) << m;
}

TEST(HFConfig, LoadErrorsNameThePath) {
  testing::TempDir dir;
  std::string m = error_of([&] { HFConfig::load(dir.sub("nope")); });
  EXPECT_NE(m.find("does not exist"), std::string::npos) << m;
  m = error_of([&] { HFConfig::load(dir.str()); });
  EXPECT_NE(m.find("has no config.json"), std::string::npos) << m;
  dir.write("config.json", "{\"a\": ");
  m = error_of([&] { HFConfig::load(dir.str()); });
  EXPECT_NE(m.find("config.json is not valid JSON"), std::string::npos) << m;
  dir.write("config.json", "[1]");
  m = error_of([&] { HFConfig::load(dir.str()); });
  EXPECT_NE(m.find("must hold a JSON object"), std::string::npos) << m;
  dir.write("config.json", "{\"model_type\": \"gpt2\"}");
  EXPECT_EQ(HFConfig::load(dir.str()).get_string("model_type"), "gpt2");
  EXPECT_EQ(HFConfig::load(dir.str()).path(), dir.str() + "/config.json");
}

}  // namespace
}  // namespace ptlab::models
