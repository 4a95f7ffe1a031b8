// CPT (methods/cpt/cpt.h): demonstrations drawn from a task's train split with their type ids, the projection
// and the gradient mask, the loss of a classification batch against PEFT's formula computed by hand, the
// state round trip, and every bad input as one line.
#include "methods/cpt/cpt.h"

#include "tasks/batch.h"
#include "tasks/objective.h"
#include "tests/methods/methods_test_support.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

namespace ptlab::methods {
namespace {

using testing::error_of;
using ::testing::HasSubstr;

std::vector<data::Example> sentiment_examples(int count) {
  const std::vector<std::string> words = {"film", "plot", "cast", "story", "music", "ending", "script"};
  std::vector<data::Example> out;
  for (int i = 0; i < count; ++i) {
    data::Example e;
    e.text_a = "the " + words[i % words.size()] + (i % 2 ? " was dull" : " was fun") + " number " + std::to_string(i);
    e.label_name = i % 2 ? "negative" : "positive";
    e.label = e.label_name;
    out.push_back(e);
  }
  return out;
}

Cpt& as_cpt(Method& method) {
  auto* cpt = dynamic_cast<Cpt*>(&method);
  EXPECT_NE(cpt, nullptr);
  return *cpt;
}

// A small explicit context: two demonstrations "in: x y / out: L" + separators.
constexpr const char* kExplicit =
    "{name: cpt, context_examples: null, context_token_ids: [10, 11, 12, 13, 14, 15, 16, 20, 21, 22, 23, 24, 25, 26], "
    "context_type_mask: [1, 2, 2, 3, 4, 4, 0, 5, 6, 6, 7, 8, 0, 0]}";

TEST(Cpt, DrawsDemonstrationsFromTheTrainSplit) {
  PTLAB_METHOD_FIXTURE(f, "gpt2", testing::kSentimentTask);
  const std::vector<data::Example> train = sentiment_examples(20);
  f.context->train = &train;
  auto method = testing::make_method_from("{name: cpt, context_examples: 3}", *f.context);
  const Cpt& cpt = as_cpt(*method);
  const CptContext& ctx = cpt.context();
  ASSERT_EQ(ctx.token_ids.size(), ctx.type_mask.size());
  EXPECT_EQ(method->front_soft_tokens(f.task->prompt()), cpt.length());
  // '{text_a} It was {mask}.': per demonstration input (4j+2), output template (4j+3), label (4j+4), "." (4j+3),
  // separator (0).
  const auto& words = f.task->verbalizer()->word_tokens();
  std::size_t i = 0;
  for (int64_t j = 0; j < 3; ++j) {
    ASSERT_LT(i, ctx.type_mask.size());
    EXPECT_EQ(ctx.type_mask[i], 4 * j + 2) << "demonstration " << j << " starts with its input";
    while (i < ctx.type_mask.size() && ctx.type_mask[i] == 4 * j + 2) ++i;
    EXPECT_EQ(ctx.type_mask[i], 4 * j + 3);
    while (i < ctx.type_mask.size() && ctx.type_mask[i] == 4 * j + 3) ++i;
    std::vector<int64_t> label;
    while (i < ctx.type_mask.size() && ctx.type_mask[i] == 4 * j + 4) label.push_back(ctx.token_ids[i++]);
    EXPECT_TRUE(label == words[0][0] || label == words[1][0]) << "demonstration " << j << "'s label is a label word";
    EXPECT_EQ(ctx.type_mask[i], 4 * j + 3) << "the '.' after the mask";
    while (i < ctx.type_mask.size() && ctx.type_mask[i] == 4 * j + 3) ++i;
    ASSERT_LT(i, ctx.type_mask.size());
    EXPECT_EQ(ctx.type_mask[i], 0) << "separator";
    while (i < ctx.type_mask.size() && ctx.type_mask[i] == 0) ++i;
  }
  EXPECT_EQ(i, ctx.type_mask.size());
  EXPECT_EQ(cpt.query_group(), 16);  // max context type 12 + 4
  // The rows start as the frozen embeddings of the ids, the offsets at 0.
  const at::Tensor ids = at::tensor(ctx.token_ids, at::kLong);
  EXPECT_TRUE(at::equal(cpt.base(), f.backbone().word_embeddings().index_select(0, ids).to(at::kFloat)));
  EXPECT_EQ(cpt.delta().abs().max().item<float>(), 0.0f);
  ASSERT_EQ(method->trainable_parameters().size(), 1u);
  EXPECT_EQ(method->trainable_parameters()[0].first, "delta");

  // The draw follows the run's seed.
  auto again = testing::make_method_from("{name: cpt, context_examples: 3}", *f.context);
  EXPECT_EQ(as_cpt(*again).context().token_ids, ctx.token_ids);
  testing::Fixture other = testing::fixture("gpt2", testing::kSentimentTask, /*seed=*/7);
  other.context->train = &train;
  auto reseeded = testing::make_method_from("{name: cpt, context_examples: 3}", *other.context);
  EXPECT_NE(as_cpt(*reseeded).context().token_ids, ctx.token_ids);
}

TEST(Cpt, ProjectsTheOffsetsAndMasksTheGradient) {
  PTLAB_METHOD_FIXTURE(f, "gpt2", testing::kLmTask);
  auto method = testing::make_method_from(
      "{name: cpt, context_examples: null, context_token_ids: [10, 11, 12, 13, 14, 15, 16, 20, 21, 22, 23, 24, 25, 26], "
      "context_type_mask: [1, 2, 2, 3, 4, 4, 0, 5, 6, 6, 7, 8, 0, 0], epsilon_input: 0.2, epsilon_format: 0.1}",
      *f.context);
  Cpt& cpt = as_cpt(*method);
  const int64_t n = cpt.length(), d = f.backbone().info().hidden_size;
  method->import_state({{"delta", at::ones({n, d}) * 3.0}}, "test");
  data::Example example;
  example.text_a = "a short text";
  tasks::RenderedExample r = f.task->encode(example, tasks::Purpose::kTrain);
  tasks::prepend_soft_tokens(r, n, tasks::Template::placeholder_id(f.tokenizer()));
  const tasks::Batch batch = tasks::collate({r}, tasks::CollateOptions{});
  const models::BackboneInput input = method->prompt(batch);
  const at::Tensor norms = at::norm(cpt.delta(), 2, {1});  // projected in place
  const double scale = std::sqrt(static_cast<double>(d) / 2048.0);
  const std::vector<int64_t>& types = cpt.context().type_mask;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t t = types[i];
    const double eps = t > 0 && t % 4 == 2 ? 0.2 * scale : (t > 0 && t % 4 != 0 ? 0.1 * scale : 1e-10);
    EXPECT_NEAR(norms[i].item<double>(), eps, eps * 1e-5) << "row " << i << " type " << t;
  }
  // The context rows are base + delta; the gradient reaches template and input rows only.
  EXPECT_TRUE(at::allclose(input.inputs_embeds[0].narrow(0, 0, n), cpt.base() + cpt.delta()));
  input.inputs_embeds.sum().backward();
  const at::Tensor grad = cpt.delta().grad();
  for (int64_t i = 0; i < n; ++i) {
    const bool trained = types[i] % 4 != 0;
    EXPECT_EQ(grad[i].abs().sum().item<float>() > 0, trained) << "row " << i << " type " << types[i];
  }
}

// The loss of a classification batch is PEFT's formula: mean over the context's label tokens and the query's
// label word of CE * gamma^(groups back from the query).
TEST(Cpt, ClassificationLossIsPeftsWeightedMean) {
  PTLAB_METHOD_FIXTURE(f, "gpt2", testing::kSentimentTask);
  const std::vector<data::Example> train = sentiment_examples(10);
  f.context->train = &train;
  auto method = testing::make_method_from("{name: cpt, context_examples: 2, loss_weighting: decay, decay_factor: 0.5}",
                                          *f.context);
  Cpt& cpt = as_cpt(*method);
  const int64_t n = cpt.length();
  tasks::Objective objective(*f.task, f.backbone().info());
  std::vector<tasks::RenderedExample> rendered;
  for (const auto& e : sentiment_examples(3)) {
    rendered.push_back(f.task->encode(e, tasks::Purpose::kTrain));
    tasks::prepend_soft_tokens(rendered.back(), n, tasks::Template::placeholder_id(f.tokenizer()));
  }
  const tasks::Batch batch = objective.collate(rendered);
  models::BackboneInput input = method->prompt(batch);
  objective.request(batch, input);
  method->request_loss(batch, input);
  const at::Tensor loss = method->loss(f.backbone().forward(input), batch);

  models::BackboneInput all = method->prompt(batch);
  all.logits.mode = models::LogitsRequest::Mode::kAll;
  const at::Tensor logp = at::log_softmax(f.backbone().forward(all).logits.to(at::kDouble), -1);  // [B, T, V]
  const CptContext& ctx = cpt.context();
  double sum = 0;
  int count = 0;
  for (int64_t b = 0; b < batch.size(); ++b) {
    for (int64_t i = 1; i < n; ++i) {
      const int64_t t = ctx.type_mask[i];
      if (t == 0 || t % 4 != 0) continue;
      const double w = t == 8 ? 0.5 : 0.25;  // the last demonstration, then the one before
      sum += -logp[b][i - 1][ctx.token_ids[i]].item<double>() * w;
      ++count;
    }
    const int64_t c = batch.labels[b].item<int64_t>();
    const int64_t target = f.task->verbalizer()->word_tokens()[c][0][0];
    sum += -logp[b][batch.read_positions[b].item<int64_t>()][target].item<double>();
    ++count;
  }
  EXPECT_NEAR(loss.item<double>(), sum / count, 1e-5);
  loss.backward();
  EXPECT_GT(cpt.delta().grad().abs().sum().item<double>(), 0.0);
}

TEST(Cpt, StateRoundTrips) {
  PTLAB_METHOD_FIXTURE(f, "gpt2", testing::kLmTask);
  auto a = testing::make_method_from(kExplicit, *f.context);
  const int64_t n = as_cpt(*a).length(), d = f.backbone().info().hidden_size;
  a->import_state({{"delta", at::randn({n, d}) * 0.01}}, "test");
  const auto state = a->export_state();
  EXPECT_EQ(state.size(), 4u);
  auto b = testing::make_method_from(kExplicit, *f.context);
  b->import_state(state, "prompt.safetensors");
  EXPECT_TRUE(at::equal(as_cpt(*a).delta(), as_cpt(*b).delta()));
  EXPECT_TRUE(at::equal(as_cpt(*a).peft_prompt_embeddings(), as_cpt(*b).peft_prompt_embeddings()));
  EXPECT_THAT(error_of([&] { b->import_state({{"delta", at::zeros({n + 1, d})}}, "x.safetensors"); }),
              HasSubstr("x.safetensors: tensor 'delta' has shape [15, 64], but method cpt needs [14, 64]"));
}

TEST(Cpt, BadInputsAreOneLineErrors) {
  PTLAB_METHOD_FIXTURE(f, "gpt2", testing::kSentimentTask);
  const std::vector<data::Example> train = sentiment_examples(4);
  f.context->train = &train;
  auto error = [&](const std::string& yaml) {
    const std::string message = error_of([&] { testing::make_method_from(yaml, *f.context); });
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    return message;
  };
  EXPECT_THAT(error("{name: cpt, context_examples: 0}"),
              HasSubstr("method.context_examples: CPT needs at least 1 in-context demonstration"));
  EXPECT_THAT(error("{name: cpt, context_examples: null, context_token_ids: [], context_type_mask: []}"),
              HasSubstr("method.context_token_ids: CPT needs a context of at least one token, got an empty list"));
  EXPECT_THAT(error("{name: cpt, context_examples: 5}"),
              HasSubstr("5 demonstrations asked but task test's train split has 4 labelled examples"));
  EXPECT_THAT(error("{name: cpt, epsilon_input: 0}"), HasSubstr("method.epsilon_input: the projection radius must be > 0"));
  EXPECT_THAT(error("{name: cpt, epsilon_format: -0.1}"),
              HasSubstr("method.epsilon_format: the projection radius must be > 0"));
  EXPECT_THAT(error("{name: cpt, decay_factor: 0}"),
              HasSubstr("method.decay_factor: the loss decay factor gamma must lie in (0, 1]"));
  EXPECT_THAT(error("{name: cpt, decay_factor: 1.5}"), HasSubstr("must lie in (0, 1] (1 = no decay), got 1.5"));
  EXPECT_THAT(error("{name: cpt, loss_weighting: decai}"),
              HasSubstr("method.loss_weighting: unknown loss weighting 'decai'"));
  EXPECT_THAT(error("{name: cpt, context_examples: 2, context_token_ids: [1], context_type_mask: [4]}"),
              HasSubstr("give either method.context_examples"));
  EXPECT_THAT(error("{name: cpt, context_examples: null, context_token_ids: [1, 2], context_type_mask: [4]}"),
              HasSubstr("method.context_type_mask: has 1 type ids but method.context_token_ids has 2 tokens"));
  EXPECT_THAT(error("{name: cpt, context_examples: null, context_token_ids: [1, 2], context_type_mask: [1, 3]}"),
              HasSubstr("the largest type id is 3, not a label group (4j+4)"));
  // Without a train split (ptlab eval) the context comes from the loaded state; prompting before is an Error.
  testing::Fixture no_train = testing::fixture("gpt2", testing::kSentimentTask);
  auto pending = testing::make_method_from("{name: cpt}", *no_train.context);
  EXPECT_EQ(as_cpt(*pending).length(), 0);
  tasks::Batch empty;
  empty.input_ids = at::zeros({1, 4}, at::kLong);
  EXPECT_THAT(error_of([&] { pending->prompt(empty); }), HasSubstr("cpt has no context: it draws its demonstrations"));
  auto trained = testing::make_method_from("{name: cpt, context_examples: 2}", *f.context);
  pending->import_state(trained->export_state(), "prompt.safetensors");
  EXPECT_EQ(as_cpt(*pending).context().token_ids, as_cpt(*trained).context().token_ids);

  for (const std::string family : {"bert", "t5"}) {
    testing::Fixture other = testing::fixture(family, testing::kSentimentTask);
    if (other.model == nullptr) continue;
    other.context->train = &train;
    const std::string message = error_of([&] { testing::make_method_from("{name: cpt, context_examples: 2}", *other.context); });
    EXPECT_THAT(message, HasSubstr("method: CPT needs a causal (decoder-only) language model, but the model is " + family));
    EXPECT_EQ(message.find('\n'), std::string::npos);
  }
  testing::Fixture soft = testing::fixture(
      "gpt2", "{type: classification, template: '{soft:2} {text_a} It was {mask}.', "
              "verbalizer: {label_words: {negative: [bad], positive: [good]}}}");
  soft.context->train = &train;
  EXPECT_THAT(error_of([&] { testing::make_method_from("{name: cpt, context_examples: 2}", *soft.context); }),
              HasSubstr("CPT puts its context in front of the text, but"));
}

}  // namespace
}  // namespace ptlab::methods
