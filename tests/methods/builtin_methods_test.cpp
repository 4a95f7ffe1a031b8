#include "methods/builtin_methods.h"

#include "framework/config/compose.h"
#include "methods/method.h"
#include "methods/prompt_tuning/prompt_tuning.h"
#include "tests/methods/methods_test_support.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace ptlab::methods {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(BuiltinMethods, RegistersEachMethodOnce) {
  register_builtin_methods();
  register_builtin_methods();  // a second call adds nothing and does not throw on duplicates
  EXPECT_THAT(method_registry().names(), ElementsAre("cpt", "full_finetune", "icl", "linear_head", "mpt", "p_tuning",
                                                     "p_tuning_v2", "prefix_tuning", "pretrain", "prompt_tuning",
                                                     "zero_shot"));
  EXPECT_EQ(method_registry().kind(), "method");
  EXPECT_THAT(method_registry().description("prompt_tuning"), HasSubstr("Lester"));
  EXPECT_THAT(method_registry().description("prefix_tuning"), HasSubstr("Li & Liang"));
  EXPECT_THAT(method_registry().description("p_tuning_v2"), HasSubstr("Liu et al. 2022"));
  EXPECT_THAT(method_registry().description("p_tuning"), HasSubstr("Liu et al. 2021"));
  EXPECT_THAT(method_registry().description("cpt"), HasSubstr("Blau et al. 2024"));
  EXPECT_THAT(method_registry().description("full_finetune"), HasSubstr("model tuning"));
  EXPECT_THAT(method_registry().description("mpt"), HasSubstr("Wang et al. 2023"));
  for (const std::string& name : method_registry().names()) EXPECT_TRUE(method_registry().get(name).make) << name;
}

// Every configs/method/<name>.yaml composes with the real configs/ and builds its method.
TEST(BuiltinMethods, EveryMethodConfigBuilds) {
  PTLAB_METHOD_FIXTURE(lm, "gpt2", testing::kLmTask);
  testing::Fixture head = testing::fixture(
      "gpt2",
      "{type: classification, template: '{text_a}', verbalizer: {mode: linear_head, pooling: last, labels: [a, b]}}");
  // icl draws its demonstrations (4 per class by default) from a labelled train split.
  testing::Fixture labelled = testing::fixture("gpt2", testing::kSentimentTask);
  std::vector<data::Example> train(8);
  for (std::size_t i = 0; i < train.size(); ++i) {
    train[i].text_a = "review " + std::to_string(i);
    train[i].label_name = train[i].label = i % 2 ? "negative" : "positive";
  }
  labelled.context->train = &train;
  for (const std::string& name : method_registry().names()) {
    SCOPED_TRACE(name);
    std::vector<std::string> overrides = {"method=" + name};
    if (name == "prompt_tuning") overrides.push_back("method.sample_top_k=100");  // the tiny model has 512 rows
    const config::Composed composed =
        config::compose(config::ComposeOptions{std::string(PTLAB_SOURCE_DIR) + "/configs"}, overrides);
    EXPECT_EQ(composed.root["method"]["name"].as<std::string>(), name);
    const bool takes_head = name == "linear_head" || name == "p_tuning_v2";
    const MethodContext& context = takes_head ? *head.context : name == "icl" ? *labelled.context : *lm.context;
    auto method = make_method(config::Reader(composed.root["method"], "method", composed.origins), context);
    EXPECT_EQ(method->name(), name);
    if (name == "prompt_tuning") {
      const auto& pt = dynamic_cast<const PromptTuning&>(*method);
      EXPECT_EQ(pt.length(), 20);
      EXPECT_EQ(pt.config().init, PromptInit::kSampledVocab);
    }
  }
  // A wrong value names the file it came from.
  const config::Composed bad = config::compose(config::ComposeOptions{std::string(PTLAB_SOURCE_DIR) + "/configs"},
                                               {"method=prompt_tuning", "method.init=random"});
  EXPECT_THAT(
      testing::error_of([&] { make_method(config::Reader(bad.root["method"], "method", bad.origins), *lm.context); }),
      HasSubstr("method.init: unknown prompt init 'random'"));
}

}  // namespace
}  // namespace ptlab::methods
