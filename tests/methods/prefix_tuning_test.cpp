// PrefixTuning: config decoding, parameter layout (PEFT's PrefixEncoder), the KV split, prompt() and its
// one-line errors. Parity with PEFT is in prefix_tuning_peft_test.cpp.
#include "methods/prefix_tuning/prefix_tuning.h"

#include "framework/io/safetensors.h"
#include "tasks/batch.h"
#include "tests/methods/methods_test_support.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

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

constexpr const char* kInitText = "The quick brown fox jumps over the lazy dog near the river bank today.";

// init=text on a causal model: the prefixed input sees exactly what it would see after the text's first P
// tokens — the logits of x after the prefix equal those of x after the P tokens themselves.
TEST(PrefixTuning, TextInitSeesWhatTheTextWouldShow) {
  for (const std::string family : {"gpt2", "gpt_neox", "llama", "stories260K"}) {
    SCOPED_TRACE(family);
    PTLAB_METHOD_FIXTURE(f, family, testing::kLmTask);
    const int64_t P = 5;
    auto method = testing::make_method_from(
        fmt::format("{{name: prefix_tuning, length: {}, init: text, init_text: '{}'}}", P, kInitText), *f.context);
    auto& pt = dynamic_cast<PrefixTuning&>(*method);
    method->eval();
    const std::vector<int> text = f.tokenizer().encode(kInitText).ids;
    ASSERT_GE(static_cast<int64_t>(text.size()), P);
    const std::vector<int64_t> x = {7, 11, 13, 17, 19, 23};
    const int64_t n = static_cast<int64_t>(x.size());

    models::BackboneInput prefixed;
    prefixed.input_ids = at::tensor(x, at::kLong).view({1, n});
    prefixed.prefix = pt.split(pt.flat_prefix().detach());
    models::BackboneInput whole;
    std::vector<int64_t> ids(text.begin(), text.begin() + P);
    ids.insert(ids.end(), x.begin(), x.end());
    whole.input_ids = at::tensor(ids, at::kLong).view({1, P + n});
    at::NoGradGuard no_grad;
    const at::Tensor a = f.backbone().forward(prefixed).logits;               // [1, n, V]
    const at::Tensor b = f.backbone().forward(whole).logits.narrow(1, P, n);  // [1, n, V]
    EXPECT_LT((a - b).abs().max().item<double>(), 1e-4);
    models::BackboneInput plain;
    plain.input_ids = prefixed.input_ids;
    EXPECT_GT((a - f.backbone().forward(plain).logits).abs().max().item<double>(),
              1e-3);  // the prefix changes what x sees
  }
}

// BERT and T5: the text's cached keys/values land in each layer's slices (the inverse of split()).
TEST(PrefixTuning, TextInitHoldsTheCachedKeysOfEveryStack) {
  for (const std::string family : {"bert", "t5"}) {
    SCOPED_TRACE(family);
    PTLAB_METHOD_FIXTURE(f, family, testing::kLmTask);
    const int64_t P = 4;
    const std::string stacks = family == "t5" ? ", stacks: [cross, decoder]" : "";
    auto method = testing::make_method_from(
        fmt::format("{{name: prefix_tuning, length: {}, init: text, init_text: '{}'{}}}", P, kInitText, stacks),
        *f.context);
    auto& pt = dynamic_cast<PrefixTuning&>(*method);
    const std::vector<int> text = f.tokenizer().encode(kInitText).ids;
    models::BackboneInput in;
    in.input_ids = at::tensor(std::vector<int64_t>(text.begin(), text.end()), at::kLong).view({1, -1});
    if (family == "t5") {
      std::vector<int64_t> decoder = {f.backbone().info().decoder_start_token_id};
      decoder.insert(decoder.end(), text.begin(), text.end());
      in.decoder_input_ids = at::tensor(decoder, at::kLong).view({1, -1});
    }
    models::KVCache cache;
    at::NoGradGuard no_grad;
    f.backbone().forward(in, &cache);
    const at::Tensor flat = pt.flat_prefix();
    for (PrefixStack stack : pt.stacks()) {
      SCOPED_TRACE(prefix_stack_name(stack));
      const models::KVPrefix prefix = pt.split(flat, stack);
      const bool cross = stack == PrefixStack::kCross;
      for (std::size_t l = 0; l < prefix.keys.size(); ++l) {
        EXPECT_TRUE(at::allclose(prefix.keys[l], (cross ? cache.cross_keys : cache.keys)[l].narrow(2, 0, P)));
        EXPECT_TRUE(at::allclose(prefix.values[l], (cross ? cache.cross_values : cache.values)[l].narrow(2, 0, P)));
      }
    }
  }
}

// T5 with ptlab's layout: each chosen stack gets its own block of 2 * layers slices (encoder, decoder, cross
// order), every layer its own keys, and the gradient reaches every block; no PEFT adapter is written.
TEST(PrefixTuning, T5StacksAreSwitchable) {
  PTLAB_METHOD_FIXTURE(f, "t5", testing::kLmTask);
  const models::BackboneInfo& info = f.backbone().info();
  const int64_t P = 3;
  auto method =
      testing::make_method_from("{name: prefix_tuning, length: 3, stacks: [cross, encoder, decoder]}", *f.context);
  auto& pt = dynamic_cast<PrefixTuning&>(*method);
  EXPECT_FALSE(pt.peft_layout());
  EXPECT_EQ(pt.stacks(), (std::vector<PrefixStack>{PrefixStack::kEncoder, PrefixStack::kDecoder, PrefixStack::kCross}));
  EXPECT_EQ(pt.num_layers(), info.num_layers + 2 * info.num_decoder_layers);
  EXPECT_EQ(pt.flat_prefix().sizes(), (at::IntArrayRef{P, 2 * pt.num_layers() * pt.kv_dim()}));

  // Slice numbering: a flat prefix whose every slice holds its own index.
  const int64_t slices = 2 * pt.num_layers();
  const at::Tensor flat =
      at::arange(slices, at::kFloat).view({1, slices, 1}).expand({P, slices, pt.kv_dim()}).reshape({P, -1});
  auto first = [&](const at::Tensor& t) { return t.flatten()[0].item<int64_t>(); };
  const models::KVPrefix enc = pt.split(flat, PrefixStack::kEncoder), dec = pt.split(flat, PrefixStack::kDecoder),
                         cross = pt.split(flat, PrefixStack::kCross);
  ASSERT_EQ(static_cast<int64_t>(enc.keys.size()), info.num_layers);
  ASSERT_EQ(static_cast<int64_t>(cross.keys.size()), info.num_decoder_layers);
  for (int64_t l = 0; l < info.num_decoder_layers; ++l) {
    EXPECT_EQ(first(enc.keys[l]), 2 * l);
    EXPECT_EQ(first(dec.keys[l]), 2 * info.num_layers + 2 * l);
    EXPECT_EQ(first(dec.values[l]), 2 * info.num_layers + 2 * l + 1);
    EXPECT_EQ(first(cross.keys[l]), 2 * (info.num_layers + info.num_decoder_layers) + 2 * l);
  }

  tasks::Batch batch = two_rows(6);
  batch.decoder_input_ids = at::zeros({2, 3}, at::kLong);
  batch.decoder_attention_mask = at::ones({2, 3}, at::kLong);
  const models::BackboneInput input = method->prompt(batch);
  EXPECT_EQ(input.prefix.length(), P);
  EXPECT_EQ(input.decoder_prefix.length(), P);
  EXPECT_EQ(input.cross_prefix.length(), P);
  f.backbone().forward(input).logits.sum().backward();
  const at::Tensor grad = method->named_parameters()["embedding"].grad().view({P, slices, -1});
  for (int64_t s = 0; s < slices; ++s) EXPECT_GT(grad.select(1, s).abs().sum().item<double>(), 0) << "slice " << s;

  const std::string dir = ::testing::TempDir() + "/prefix_t5_stacks";
  std::filesystem::create_directories(dir);
  method->save_exports(dir);
  EXPECT_FALSE(std::filesystem::exists(dir + "/adapter"));
}

TEST(PrefixTuning, TextInitAndStackErrorsAreOneLine) {
  auto error = [](const testing::Fixture& f, const std::string& yaml) {
    const std::string e = testing::error_of([&] { testing::make_method_from(yaml, *f.context); });
    EXPECT_EQ(e.find('\n'), std::string::npos) << e;
    return e;
  };
  {
    PTLAB_METHOD_FIXTURE(f, "gpt2", testing::kLmTask);
    EXPECT_THAT(error(f, "{name: prefix_tuning, init: text}"),
                HasSubstr("method.init_text: init=text needs a non-empty text"));
    EXPECT_THAT(error(f, "{name: prefix_tuning, init: text, init_text: '  '}"),
                HasSubstr("method.init_text: init=text needs a non-empty text"));
    EXPECT_THAT(error(f, "{name: prefix_tuning, init_text: hello}"),
                HasSubstr("method.init_text: is set but method.init is 'normal'"));
    EXPECT_THAT(error(f, "{name: prefix_tuning, init: text, init_text: hello, prefix_projection: true}"),
                HasSubstr("needs method.prefix_projection=false"));
    EXPECT_THAT(error(f, "{name: prefix_tuning, length: 40, init: text, init_text: 'two words'}"),
                HasSubstr("positions but the prefix needs 40; use a longer text or method.length="));
    EXPECT_THAT(error(f, "{name: prefix_tuning, stacks: [decoder]}"),
                HasSubstr("method.stacks: gpt2 has one attention stack"));
  }
  {
    PTLAB_METHOD_FIXTURE(f, "t5", testing::kLmTask);
    EXPECT_THAT(error(f, "{name: prefix_tuning, stacks: [decoder, encodr]}"),
                HasSubstr("unknown attention stack 'encodr' (did you mean encoder?); known: encoder, decoder, cross"));
    EXPECT_THAT(error(f, "{name: prefix_tuning, stacks: [cross, cross]}"), HasSubstr("'cross' is listed twice"));
    EXPECT_THAT(error(f, "{name: prefix_tuning, stacks: []}"),
                HasSubstr("method.stacks: an empty list gives no prefix"));
    EXPECT_THAT(
        error(f, fmt::format("{{name: prefix_tuning, init: text, init_text: '{}', stacks: [encoder]}}", kInitText)),
        HasSubstr("cannot fill the T5 encoder stack"));
    EXPECT_THAT(error(f, fmt::format("{{name: prefix_tuning, init: text, init_text: '{}'}}", kInitText)),
                HasSubstr("use method.stacks=[decoder]"));
    auto method = testing::make_method_from("{name: prefix_tuning, stacks: [decoder]}", *f.context);
    EXPECT_THAT(testing::error_of([&] { method->load_state(::testing::TempDir()); }),
                HasSubstr("a PEFT adapter holds PEFT's T5 layout"));
  }
}

// T5 prefixes on every stack against references computed on top of transformers 5.24 (the pinned peer) by
// tests/fixtures/references/make_t5_prefix_references.py: one stack at a time straight into the backbone,
// then all three through the method's flat layout (stacks [encoder, decoder, cross]).
TEST(PrefixTuning, T5StacksMatchTheTransformersReference) {
  PTLAB_METHOD_FIXTURE(f, "t5", testing::kLmTask);
  const auto ref =
      io::load_safetensors(std::string(PTLAB_SOURCE_DIR) + "/tests/fixtures/references/t5_prefix_stacks.safetensors");
  const models::BackboneInfo& info = f.backbone().info();
  auto stack_prefix = [&](const std::string& stack) {
    models::KVPrefix prefix;
    for (int64_t l = 0; l < (stack == "encoder" ? info.num_layers : info.num_decoder_layers); ++l) {
      prefix.keys.push_back(ref.at(fmt::format("{}.keys.{}", stack, l)));
      prefix.values.push_back(ref.at(fmt::format("{}.values.{}", stack, l)));
    }
    return prefix;
  };
  auto logits = [&](models::BackboneInput in) {
    in.input_ids = ref.at("input_ids");
    in.decoder_input_ids = ref.at("decoder_input_ids");
    at::NoGradGuard no_grad;
    return f.backbone().forward(in).logits;
  };
  auto diff = [&](const at::Tensor& a, const std::string& name) {
    return (a - ref.at("logits." + name)).abs().max().item<double>();
  };
  EXPECT_LT(diff(logits({}), "none"), 1e-4);
  models::BackboneInput enc, dec, cross;
  enc.prefix = stack_prefix("encoder");
  dec.decoder_prefix = stack_prefix("decoder");
  cross.cross_prefix = stack_prefix("cross");
  EXPECT_LT(diff(logits(enc), "encoder"), 1e-4);
  EXPECT_LT(diff(logits(dec), "decoder"), 1e-4);
  EXPECT_LT(diff(logits(cross), "cross"), 1e-4);

  // Through the method: the flat prefix whose split is the three stacks' references.
  auto method =
      testing::make_method_from("{name: prefix_tuning, length: 3, stacks: [encoder, decoder, cross]}", *f.context);
  std::vector<at::Tensor> slices;
  for (const std::string stack : {"encoder", "decoder", "cross"}) {
    const models::KVPrefix p = stack_prefix(stack);
    for (std::size_t l = 0; l < p.keys.size(); ++l) {
      slices.push_back(p.keys[l]);
      slices.push_back(p.values[l]);
    }
  }
  const at::Tensor flat = join_prefix_slices(slices);  // [P, 2L d_kv]
  {
    at::NoGradGuard no_grad;
    method->named_parameters()["embedding"].copy_(flat);
  }
  tasks::Batch batch = two_rows(10);
  batch.input_ids = ref.at("input_ids");
  batch.attention_mask = at::ones_like(batch.input_ids);
  batch.decoder_input_ids = ref.at("decoder_input_ids");
  batch.decoder_attention_mask = at::ones_like(batch.decoder_input_ids);
  const models::BackboneInput in = method->prompt(batch);
  at::NoGradGuard no_grad;
  const double all = diff(f.backbone().forward(in).logits, "all");
  EXPECT_LT(all, 1e-4);
  std::cout << "[ reference ] t5 prefixes on encoder + decoder + cross: max |logits - transformers| " << all << "\n";
}

// BERT with a deep prefix and a padded batch against transformers 5.24
// (tests/fixtures/references/make_bert_token_prefix_reference.py; PEFT 0.21 refuses prefixes on BERT): the
// prefix through the method's flat layout, the per-token classifier applied by hand.
TEST(PrefixTuning, BertPrefixMatchesTheTransformersReference) {
  PTLAB_METHOD_FIXTURE(f, "bert", testing::kLmTask);
  const auto ref =
      io::load_safetensors(std::string(PTLAB_SOURCE_DIR) + "/tests/fixtures/references/bert_token_prefix.safetensors");
  auto method = testing::make_method_from("{name: prefix_tuning, length: 3}", *f.context);
  auto& pt = dynamic_cast<PrefixTuning&>(*method);
  std::vector<at::Tensor> slices;
  for (int64_t l = 0; l < pt.num_layers(); ++l) {
    slices.push_back(ref.at(fmt::format("keys.{}", l)));
    slices.push_back(ref.at(fmt::format("values.{}", l)));
  }
  {
    at::NoGradGuard no_grad;
    method->named_parameters()["embedding"].copy_(join_prefix_slices(slices));
  }
  tasks::Batch batch = two_rows(9);
  batch.input_ids = ref.at("input_ids");
  batch.attention_mask = ref.at("attention_mask");
  batch.token_type_ids = at::zeros_like(batch.input_ids);
  models::BackboneInput in = method->prompt(batch);
  in.logits.mode = models::LogitsRequest::Mode::kNone;
  at::NoGradGuard no_grad;
  const at::Tensor hidden = f.backbone().forward(in).last_hidden_state;  // [B, T, d]
  const at::Tensor logits = at::linear(hidden, ref.at("classifier.weight"), ref.at("classifier.bias"));
  // Padded positions attend to nothing real in either, so compare the real tokens only.
  const at::Tensor real = ref.at("attention_mask").to(at::kBool);
  const double diff = (logits - ref.at("logits")).abs().index({real}).max().item<double>();
  EXPECT_LT(diff, 1e-4);
  const at::Tensor loss = at::cross_entropy_loss(logits.reshape({-1, logits.size(2)}), ref.at("labels").reshape({-1}));
  EXPECT_NEAR(loss.item<double>(), ref.at("loss").item<double>(), 1e-5 * ref.at("loss").item<double>());
}

}  // namespace
}  // namespace ptlab::methods
