// PrefixTuning: config decoding, parameter layout (PEFT's PrefixEncoder), the KV split, prompt() and its
// one-line errors. Parity with PEFT is in prefix_tuning_peft_test.cpp.
#include "methods/prefix_tuning/prefix_tuning.h"

#include "tasks/batch.h"
#include "tests/methods/methods_test_support.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace ptlab::methods {
namespace {

using ::testing::HasSubstr;

tasks::Batch two_rows(int64_t width) {
  std::vector<tasks::RenderedExample> rendered(2);
  for (int64_t b = 0; b < 2; ++b) {
    const int64_t length = width - b;
    rendered[b].input_ids.assign(length, 5);
    rendered[b].token_type_ids.assign(length, 0);
    rendered[b].token_labels.assign(length, 5);
    rendered[b].length = length;
  }
  return tasks::collate(rendered, tasks::CollateOptions{});
}

TEST(PrefixTuning, ParametersFollowPeftsPrefixEncoder) {
  PTLAB_METHOD_FIXTURE(f, "llama", testing::kLmTask);  // 2 layers, GQA: 2 KV heads of 16
  auto plain = testing::make_method_from("{name: prefix_tuning, length: 3}", *f.context);
  auto params = plain->trainable_parameters();
  ASSERT_EQ(params.size(), 1u);
  EXPECT_EQ(params[0].first, "embedding");
  EXPECT_EQ(params[0].second.sizes(), (at::IntArrayRef{3, 2 * 2 * 32}));

  auto projected = testing::make_method_from(
      "{name: prefix_tuning, length: 3, prefix_projection: true, encoder_hidden_size: 7}", *f.context);
  std::vector<std::string> names;
  for (const auto& [name, t] : projected->trainable_parameters()) names.push_back(name);
  EXPECT_THAT(names, ::testing::ElementsAre("embedding", "transform.0.weight", "transform.0.bias", "transform.2.weight",
                                            "transform.2.bias"));
  auto& pt = dynamic_cast<PrefixTuning&>(*projected);
  EXPECT_EQ(pt.flat_prefix().sizes(), (at::IntArrayRef{3, 128}));

  auto zero = testing::make_method_from("{name: prefix_tuning, length: 3, init: zero}", *f.context);
  EXPECT_EQ(dynamic_cast<PrefixTuning&>(*zero).flat_prefix().abs().max().item<float>(), 0.0f);
}

TEST(PrefixTuning, SplitsLikePeft) {
  PTLAB_METHOD_FIXTURE(f, "llama", testing::kLmTask);
  auto method = testing::make_method_from("{name: prefix_tuning, length: 3}", *f.context);
  auto& pt = dynamic_cast<PrefixTuning&>(*method);
  const int64_t L = 2, H = 2, D = 16, P = 3;
  const at::Tensor flat = at::arange(P * 2 * L * H * D, at::kFloat).view({P, 2 * L * H * D});
  const models::KVPrefix prefix = pt.split(flat);
  ASSERT_EQ(prefix.keys.size(), 2u);
  EXPECT_EQ(prefix.keys[1].sizes(), (at::IntArrayRef{1, H, P, D}));
  // flat column ((2l + kv) * H + h) * D + j of row p
  for (int64_t l = 0; l < L; ++l)
    for (int64_t kv = 0; kv < 2; ++kv) {
      const at::Tensor& t = kv == 0 ? prefix.keys[l] : prefix.values[l];
      EXPECT_EQ(t[0][1][2][5].item<float>(), flat[2][((2 * l + kv) * H + 1) * D + 5].item<float>());
    }
}

TEST(PrefixTuning, PromptPassesTokensAndSetsThePrefix) {
  for (const std::string family : {"gpt2", "bert", "t5"}) {
    SCOPED_TRACE(family);
    PTLAB_METHOD_FIXTURE(f, family, testing::kLmTask);
    auto method = testing::make_method_from("{name: prefix_tuning, length: 4}", *f.context);
    tasks::Batch batch = two_rows(6);
    if (family == "t5") {
      batch.decoder_input_ids = at::zeros({2, 3}, at::kLong);
      batch.decoder_attention_mask = at::ones({2, 3}, at::kLong);
    }
    const models::BackboneInput input = method->prompt(batch);
    EXPECT_TRUE(at::equal(input.input_ids, batch.input_ids));
    const models::KVPrefix& prefix = family == "t5" ? input.decoder_prefix : input.prefix;
    EXPECT_EQ(prefix.length(), 4);
    EXPECT_TRUE((family == "t5" ? input.prefix : input.decoder_prefix).empty());
    const auto out = f.backbone().forward(input);  // the backbone accepts it
    EXPECT_EQ(out.last_hidden_state.size(0), 2);
  }
}

TEST(PrefixTuning, BadInputsAreOneLineErrors) {
  PTLAB_METHOD_FIXTURE(f, "gpt2", testing::kLmTask);  // 256 positions
  auto error = [&](const std::string& yaml) {
    return testing::error_of([&] { testing::make_method_from(yaml, *f.context); });
  };
  EXPECT_THAT(error("{name: prefix_tuning, length: 0}"), HasSubstr("method.length: the prefix needs at least 1"));
  EXPECT_THAT(error("{name: prefix_tuning, length: 256}"),
              HasSubstr("method.length: a prefix of 256 positions does not fit the model's 256 positions"));
  EXPECT_THAT(error("{name: prefix_tuning, init: zeros}"), HasSubstr("unknown prefix init 'zeros'"));
  EXPECT_THAT(error("{name: prefix_tuning, encoder_hidden_size: 8}"),
              HasSubstr("method.encoder_hidden_size: is set but method.prefix_projection is false"));
  EXPECT_THAT(error("{name: prefix_tuning, prefix_dropout: 1.0}"), HasSubstr("[0, 1)"));
  EXPECT_THAT(error("{name: prefix_tuning, lenght: 3}"), HasSubstr("lenght"));

  auto method = testing::make_method_from("{name: prefix_tuning, length: 250}", *f.context);
  const std::string e = testing::error_of([&] { method->prompt(two_rows(10)); });
  EXPECT_THAT(e, HasSubstr("a batch of 10 tokens after a prefix of 250 does not fit the model's 256 positions"));
  EXPECT_EQ(e.find('\n'), std::string::npos);

  auto soft = testing::make_task("{type: lm, template: '{soft:2} {text_a}', max_length: 0}", f.tokenizer(),
                                 f.backbone().info());
  const MethodContext context{f.backbone(), f.tokenizer(), *soft, 0};
  EXPECT_THAT(testing::error_of([&] { testing::make_method_from("{name: prefix_tuning}", context); }),
              HasSubstr("has {soft:N} slots"));
}

TEST(PrefixTuning, DropoutOnlyWhileTraining) {
  PTLAB_METHOD_FIXTURE(f, "gpt2", testing::kLmTask);
  auto method = testing::make_method_from("{name: prefix_tuning, length: 4, prefix_dropout: 0.5}", *f.context);
  auto& pt = dynamic_cast<PrefixTuning&>(*method);
  method->eval();
  const at::Tensor a = pt.flat_prefix();
  EXPECT_TRUE(at::equal(a, pt.flat_prefix()));
  method->train();
  EXPECT_GT(pt.flat_prefix().eq(0).sum().item<int64_t>(), 0);
}

}  // namespace
}  // namespace ptlab::methods
