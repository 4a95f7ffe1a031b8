#include "methods/method.h"

#include "framework/io/safetensors.h"
#include "methods/prompt_tuning/prompt_tuning.h"
#include "tasks/batch.h"
#include "tests/methods/methods_test_support.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

namespace ptlab::methods {
namespace {

using testing::error_of;
using ::testing::HasSubstr;

TEST(MakeMethod, BuildsTheNamedMethod) {
  PTLAB_METHOD_FIXTURE(f, "gpt2", testing::kLmTask);
  auto method = testing::make_method_from("{name: prompt_tuning, length: 3, init: uniform}", *f.context);
  EXPECT_EQ(method->name(), "prompt_tuning");
  EXPECT_NE(dynamic_cast<PromptTuning*>(method.get()), nullptr);
  EXPECT_EQ(testing::make_method_from("{name: zero_shot}", *f.context)->name(), "zero_shot");
}

TEST(MakeMethod, Errors) {
  PTLAB_METHOD_FIXTURE(f, "gpt2", testing::kLmTask);
  const std::string unknown = error_of([&] { testing::make_method_from("{name: prompt_tunning}", *f.context); });
  EXPECT_THAT(unknown, HasSubstr("method.name: unknown method 'prompt_tunning' (did you mean prompt_tuning"));
  EXPECT_THAT(
      unknown,
      HasSubstr("known: cpt, full_finetune, icl, linear_head, mpt, p_tuning, p_tuning_v2, prefix_tuning, pretrain, "
                "prompt_tuning, zero_shot"));
  EXPECT_THAT(error_of([&] { testing::make_method_from("{length: 3}", *f.context); }),
              HasSubstr("missing required key 'method.name'"));
  const std::string key = error_of([&] { testing::make_method_from("{name: zero_shot, length: 3}", *f.context); });
  EXPECT_THAT(key, HasSubstr("unknown key 'method.length' (configs/method/test.yaml)"));
  EXPECT_THAT(key, HasSubstr("known keys: method.name"));
}

TEST(Method, ExportAndImportState) {
  PTLAB_METHOD_FIXTURE(f, "gpt2", testing::kLmTask);
  auto a = testing::make_method_from("{name: prompt_tuning, length: 3, init: normal}", *f.context);
  MethodContext other{f.backbone(), f.tokenizer(), *f.task, 99};
  auto b = testing::make_method_from("{name: prompt_tuning, length: 3, init: normal}", other);
  auto state = a->export_state();
  ASSERT_EQ(state.count("prompt"), 1u);
  EXPECT_FALSE(state.at("prompt").requires_grad());
  // A copy: changing the method later does not change the exported state.
  const at::Tensor before = state.at("prompt").clone();
  {
    at::NoGradGuard no_grad;
    a->trainable_parameters()[0].second.add_(1.0);
  }
  EXPECT_TRUE(at::equal(state.at("prompt"), before));

  b->import_state(state, "prompt.safetensors");
  EXPECT_TRUE(at::equal(b->trainable_parameters()[0].second, before));
  EXPECT_TRUE(b->trainable_parameters()[0].second.requires_grad());

  const std::string missing = error_of([&] { b->import_state({{"promt", before}}, "run/prompt.safetensors"); });
  EXPECT_THAT(missing, HasSubstr("run/prompt.safetensors: no tensor 'prompt' for method prompt_tuning (did you mean "
                                 "promt?); it holds: promt"));
  const std::string shape = error_of([&] {
    b->import_state({{"prompt", at::zeros({5, 64})}}, "run/prompt.safetensors");
  });
  EXPECT_THAT(shape, HasSubstr("tensor 'prompt' has shape [5, 64], but method prompt_tuning needs [3, 64]"));
  const std::string extra = error_of([&] {
    b->import_state({{"prompt", before}, {"head.weight", at::zeros({2, 2})}}, "run/prompt.safetensors");
  });
  EXPECT_THAT(extra, HasSubstr("tensor 'head.weight' is not a parameter of method prompt_tuning"));
  EXPECT_THAT(error_of([&] {
                b->import_state({{"prompt", at::zeros({3, 64}, at::kLong)}}, "x");
              }),
              HasSubstr("must be a floating-point tensor"));
  EXPECT_TRUE(at::equal(b->trainable_parameters()[0].second, before));  // nothing changed by the failures
}

TEST(Method, LoadStateReadsAnExportedFile) {
  PTLAB_METHOD_FIXTURE(f, "gpt2", testing::kLmTask);
  auto a = testing::make_method_from("{name: prompt_tuning, length: 3, init: normal}", *f.context);
  MethodContext other{f.backbone(), f.tokenizer(), *f.task, 42};
  auto b = testing::make_method_from("{name: prompt_tuning, length: 3, init: normal}", other);
  const std::string path =
      std::filesystem::temp_directory_path() / ("ptlab_method_state_" + std::to_string(::getpid()) + ".safetensors");
  const auto state = a->export_state();
  io::save_safetensors(path, {state.begin(), state.end()});
  b->load_state(path);
  EXPECT_TRUE(at::equal(b->trainable_parameters()[0].second, state.at("prompt")));
  std::filesystem::remove(path);
  EXPECT_THAT(error_of([&] { b->load_state(path); }),
              HasSubstr("method prompt_tuning: cannot load state from " + path + ": not a file"));
}

TEST(BatchInput, PassesTheBatchTensorsForTheBackboneKind) {
  tasks::Batch batch;
  batch.input_ids = at::tensor({5, 6, 7}, at::kLong).view({1, 3});
  batch.attention_mask = at::ones({1, 3}, at::kLong);
  batch.token_type_ids = at::tensor({0, 0, 1}, at::kLong).view({1, 3});
  batch.decoder_input_ids = at::tensor({0, 4}, at::kLong).view({1, 2});
  batch.decoder_attention_mask = at::ones({1, 2}, at::kLong);
  {
    PTLAB_METHOD_FIXTURE(f, "bert", testing::kLmTask);
    const models::BackboneInput in = batch_input(batch, f.backbone(), true);
    EXPECT_TRUE(at::equal(in.input_ids, batch.input_ids));
    EXPECT_TRUE(at::equal(in.attention_mask, batch.attention_mask));
    EXPECT_TRUE(at::equal(in.token_type_ids, batch.token_type_ids));
    EXPECT_FALSE(in.decoder_input_ids.defined());
    EXPECT_FALSE(batch_input(batch, f.backbone(), false).input_ids.defined());
  }
  {
    PTLAB_METHOD_FIXTURE(f, "t5", testing::kLmTask);
    const models::BackboneInput in = batch_input(batch, f.backbone(), true);
    EXPECT_FALSE(in.token_type_ids.defined());
    EXPECT_TRUE(at::equal(in.decoder_input_ids, batch.decoder_input_ids));
    EXPECT_TRUE(at::equal(in.decoder_attention_mask, batch.decoder_attention_mask));
  }
  {
    PTLAB_METHOD_FIXTURE(f, "llama", testing::kLmTask);
    const models::BackboneInput in = batch_input(batch, f.backbone(), true);
    EXPECT_FALSE(in.token_type_ids.defined());
    EXPECT_FALSE(in.decoder_input_ids.defined());
  }
}

}  // namespace
}  // namespace ptlab::methods
