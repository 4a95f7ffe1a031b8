// In-context learning (methods/icl/icl.h): the exact prompt the model reads (decoded with the real GPT-2 and
// stories260K tokenizers against strings written by hand), the per-class draw and its seed, contextual
// calibration against the formula worked by hand, the length errors that say how many demonstrations fit,
// every bad input as one line, and an end-to-end run_training + run_evaluation on FewGLUE CB with stories260K.
#include "methods/icl/icl.h"

#include "framework/config/compose.h"
#include "framework/dist/local_communicator.h"
#include "launchers/trial.h"
#include "tasks/batch.h"
#include "tasks/objective.h"
#include "tests/methods/methods_test_support.h"
#include "tests/models/temp_dir.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace ptlab::methods {
namespace {

using testing::error_of;
using ::testing::HasSubstr;

// CB's GPT-3 prompt (configs/task/cb.yaml, template gpt3 + verbalizer true_false).
constexpr const char* kCbTask =
    "{type: pair_classification, template: \"{text_a}\\nquestion: {text_b} true, false, or neither?\\nanswer: {mask}\", "
    "verbalizer: {label_words: {entailment: [\"true\"], contradiction: [\"false\"], neutral: [\"neither\"]}}}";

data::Example row(const std::string& premise, const std::string& hypothesis, const std::string& label, int64_t index) {
  data::Example e;
  e.text_a = premise;
  e.text_b = hypothesis;
  e.label = label;
  e.label_name = label;
  e.index = index;
  return e;
}

// One row per class (so any draw shows these three), in an order that is not the class order.
std::vector<data::Example> cb_rows() {
  return {row("It was raining. She stayed in.", "she went out", "contradiction", 0),
          row("Tom thinks the cat is asleep.", "the cat is asleep", "neutral", 1),
          row("The dog barked at the door.", "a dog barked", "entailment", 2)};
}

// Rows with `counts[c]` examples of class c (entailment, contradiction, neutral), distinguishable texts.
std::vector<data::Example> counted_rows(const std::vector<int>& counts) {
  const std::vector<std::string> names = {"entailment", "contradiction", "neutral"};
  std::vector<data::Example> out;
  for (std::size_t c = 0; c < counts.size(); ++c)
    for (int i = 0; i < counts[c]; ++i)
      out.push_back(row("premise " + std::to_string(out.size()), "hypothesis", names[c], static_cast<int64_t>(out.size())));
  return out;
}

InContextLearning& as_icl(Method& method) {
  auto* icl = dynamic_cast<InContextLearning*>(&method);
  EXPECT_NE(icl, nullptr);
  return *icl;
}

// The batch the trainer builds for `queries` (Trainer::encode: front positions, then collate).
tasks::Batch trainer_batch(const testing::Fixture& f, Method& method, const std::vector<data::Example>& queries) {
  tasks::Objective objective(*f.task, f.backbone().info());
  std::vector<tasks::RenderedExample> rendered;
  for (const auto& q : queries) {
    rendered.push_back(f.task->encode(q, tasks::Purpose::kEval));
    tasks::prepend_soft_tokens(rendered.back(), method.front_soft_tokens(f.task->prompt()),
                               tasks::Template::placeholder_id(f.tokenizer()));
  }
  return objective.collate(rendered);
}

std::string decoded_row(const testing::Fixture& f, const at::Tensor& ids, int64_t length) {
  const at::Tensor row = ids[0].narrow(0, 0, length).to(at::kCPU).contiguous();
  return f.tokenizer().decode(std::vector<int>(row.data_ptr<int64_t>(), row.data_ptr<int64_t>() + row.numel()));
}

// (1) The prompt is one text: demonstrations with their label words, the separator, then the query.
TEST(Icl, PromptReadsAsOneTextWithGpt2) {
  PTLAB_METHOD_FIXTURE(f, "gpt2", kCbTask);
  const std::vector<data::Example> train = cb_rows();
  f.context->train = &train;
  auto method = testing::make_method_from("{name: icl, shots: 1, order: grouped}", *f.context);
  const tasks::Batch batch = trainer_batch(f, *method, {row("Ann left early.", "Ann stayed", "contradiction", 9)});
  const models::BackboneInput input = method->prompt(batch);
  ASSERT_TRUE(input.input_ids.defined());
  EXPECT_FALSE(input.inputs_embeds.defined());
  // GPT-2 has no mask token: the query's {mask} holds the placeholder (eos), read from the position before it.
  EXPECT_EQ(decoded_row(f, input.input_ids, batch.lengths[0].item<int64_t>()),
            "The dog barked at the door.\nquestion: a dog barked true, false, or neither?\nanswer: true\n\n"
            "It was raining. She stayed in.\nquestion: she went out true, false, or neither?\nanswer: false\n\n"
            "Tom thinks the cat is asleep.\nquestion: the cat is asleep true, false, or neither?\nanswer: neither\n\n"
            "Ann left early.\nquestion: Ann stayed true, false, or neither?\nanswer:<|endoftext|>");
  // The query's tokens and read position did not move.
  const int64_t n = method->front_soft_tokens(f.task->prompt());
  EXPECT_TRUE(at::equal(input.input_ids.narrow(1, n, batch.input_ids.size(1) - n).cpu(),
                        batch.input_ids.narrow(1, n, batch.input_ids.size(1) - n)));
  // The demonstration's label word is the token the verbalizer scores for the query.
  const auto& words = f.task->verbalizer()->word_tokens();
  const InContextLearning& icl = as_icl(*method);
  const auto& first = icl.demonstrations()[0].token_ids;
  const std::vector<int> sep = tasks::encode_piece(f.tokenizer(), "\n\n", tasks::Spacing::kAttached);
  const std::vector<int64_t>& word = words[0][0];  // entailment's "true" (class 0: the first demonstration)
  ASSERT_GT(first.size(), word.size() + sep.size());
  EXPECT_EQ(std::vector<int64_t>(first.end() - static_cast<std::ptrdiff_t>(sep.size() + word.size()),
                                 first.end() - static_cast<std::ptrdiff_t>(sep.size())),
            word)
      << "the label word's tokens before the separator";
}

TEST(Icl, PromptHasOneBosAtTheStartWithLlama) {
  PTLAB_METHOD_FIXTURE(f, "stories260K", kCbTask);
  const std::vector<data::Example> train = cb_rows();
  f.context->train = &train;
  auto method = testing::make_method_from("{name: icl, shots: 1, order: grouped, separator: \"\\n\"}", *f.context);
  const tasks::Batch batch = trainer_batch(f, *method, {row("Ann left early.", "Ann stayed", "contradiction", 9)});
  const models::BackboneInput input = method->prompt(batch);
  const int bos = f.tokenizer().special_ids().bos;
  ASSERT_GE(bos, 0);
  const at::Tensor ids = input.input_ids[0].cpu();
  EXPECT_EQ(ids[0].item<int64_t>(), bos);
  EXPECT_EQ(ids.eq(bos).sum().item<int64_t>(), 1) << "one BOS, at the very start";
  // Each piece is the SentencePiece rendering of an example on its own ("▁" + text), so after a newline a
  // demonstration or the query starts with a space when decoded; the mask placeholder is <unk>.
  EXPECT_EQ(decoded_row(f, input.input_ids, batch.lengths[0].item<int64_t>()),
            "<s> The dog barked at the door.\nquestion: a dog barked true, false, or neither?\nanswer: true\n"
            " It was raining. She stayed in.\nquestion: she went out true, false, or neither?\nanswer: false\n"
            " Tom thinks the cat is asleep.\nquestion: the cat is asleep true, false, or neither?\nanswer: neither\n"
            " Ann left early.\nquestion: Ann stayed true, false, or neither?\nanswer:<unk>");
}

TEST(Icl, BertWrapsEverythingInOneClsAndSep) {
  PTLAB_METHOD_FIXTURE(f, "bert",
                       "{type: pair_classification, template: '{text_b}? {mask}, {text_a}', "
                       "verbalizer: {label_words: {entailment: [yes], contradiction: [no], neutral: [maybe]}}}");
  const std::vector<data::Example> train = cb_rows();
  f.context->train = &train;
  auto method = testing::make_method_from("{name: icl, shots: 1, order: grouped, separator: ' '}", *f.context);
  const tasks::Batch batch = trainer_batch(f, *method, {row("ann left early.", "ann stayed", "contradiction", 9)});
  const models::BackboneInput input = method->prompt(batch);
  const at::Tensor ids = input.input_ids[0].cpu();
  const text::SpecialTokenIds& special = f.tokenizer().special_ids();
  EXPECT_EQ(ids[0].item<int64_t>(), special.cls);
  EXPECT_EQ(ids.eq(special.cls).sum().item<int64_t>(), 1);
  EXPECT_EQ(ids.narrow(0, 0, batch.lengths[0].item<int64_t>()).eq(special.sep).sum().item<int64_t>(), 1);
  EXPECT_EQ(ids.eq(special.mask).sum().item<int64_t>(), 1) << "only the query's mask";
  EXPECT_NO_THROW(f.backbone().forward(input));
}

// (2) The draw: k of each class, deterministic for a seed, another for another seed; k in all without per_class.
TEST(Icl, DrawsKPerClassWithTheRunsSeed) {
  PTLAB_METHOD_FIXTURE(f, "gpt2", kCbTask);
  const std::vector<data::Example> train = counted_rows({8, 6, 5});
  IclConfig config;
  config.shots = 3;
  const auto rows = draw_icl_rows(*f.task, train, config, 0);
  ASSERT_EQ(rows.size(), 9u);
  std::vector<int> per_class(3, 0);
  std::set<int64_t> distinct;
  for (const auto& [r, c] : rows) {
    ++per_class[c];
    distinct.insert(r);
    EXPECT_EQ(f.task->verbalizer()->class_index(train[r].label_name), c);
  }
  EXPECT_EQ(per_class, std::vector<int>({3, 3, 3}));
  EXPECT_EQ(distinct.size(), 9u) << "without replacement";
  EXPECT_EQ(draw_icl_rows(*f.task, train, config, 0), rows);
  EXPECT_NE(draw_icl_rows(*f.task, train, config, 1), rows);

  config.order = IclOrder::kGrouped;
  const auto grouped = draw_icl_rows(*f.task, train, config, 0);
  for (std::size_t i = 0; i < grouped.size(); ++i) EXPECT_EQ(grouped[i].second, static_cast<int64_t>(i / 3));
  config.order = IclOrder::kInterleaved;
  const auto interleaved = draw_icl_rows(*f.task, train, config, 0);
  for (std::size_t i = 0; i < interleaved.size(); ++i) EXPECT_EQ(interleaved[i].second, static_cast<int64_t>(i % 3));
  // The same demonstrations in each order.
  auto sorted = [](std::vector<std::pair<int64_t, int64_t>> v) { std::sort(v.begin(), v.end()); return v; };
  EXPECT_EQ(sorted(grouped), sorted(rows));
  EXPECT_EQ(sorted(interleaved), sorted(rows));

  config.per_class = false;
  config.shots = 5;
  config.order = IclOrder::kShuffled;
  EXPECT_EQ(draw_icl_rows(*f.task, train, config, 3).size(), 5u);

  // The method draws with MethodContext::seed.
  f.context->train = &train;
  auto a = testing::make_method_from("{name: icl, shots: 1}", *f.context);
  auto b = testing::make_method_from("{name: icl, shots: 1}", *f.context);
  EXPECT_EQ(as_icl(*a).context_ids(), as_icl(*b).context_ids());
  testing::Fixture other = testing::fixture("gpt2", kCbTask, /*seed=*/5);
  other.context->train = &train;
  auto c = testing::make_method_from("{name: icl, shots: 1}", *other.context);
  EXPECT_NE(as_icl(*c).context_ids(), as_icl(*a).context_ids());
}

// (3) Contextual calibration: q = softmax(W p), W = diag(p_cf)^-1, worked by hand.
TEST(Icl, CalibrationIsZhaoEtAlsFormula) {
  const at::Tensor p = at::tensor({0.7f, 0.2f, 0.1f}).view({1, 3});
  const at::Tensor p_cf = at::tensor({0.5f, 0.3f, 0.2f});
  // W p = (1.4, 0.6667, 0.5); q = exp(W p) / sum.
  const double w[3] = {1.4, 0.2 / 0.3, 0.5};
  const double z = std::exp(w[0]) + std::exp(w[1]) + std::exp(w[2]);
  const at::Tensor log_q = contextual_calibration(at::log(p), p_cf);
  for (int c = 0; c < 3; ++c) EXPECT_NEAR(log_q[0][c].item<double>(), w[c] - std::log(z), 1e-6) << c;
  // A class the content-free input favours loses: p = (0.4, 0.6) with p_cf = (0.2, 0.8) flips to class 0.
  const at::Tensor flipped = contextual_calibration(at::log(at::tensor({0.4f, 0.6f}).view({1, 2})), at::tensor({0.2f, 0.8f}));
  EXPECT_EQ(flipped.argmax(1).item<int64_t>(), 0);
  EXPECT_NEAR(flipped[0][0].item<double>(), 2.0 - std::log(std::exp(2.0) + std::exp(0.75)), 1e-6);
  // Scores that are log-probs up to a constant give the same q (p is their softmax).
  EXPECT_TRUE(at::allclose(contextual_calibration(at::log(p) + 3.0, p_cf), log_q, 1e-5, 1e-6));
}

// p_cf is the mean of p over the content-free queries behind the same demonstrations, and the objective's
// predictions and eval/loss use the calibrated scores.
TEST(Icl, CalibrationUsesTheContentFreeQueries) {
  PTLAB_METHOD_FIXTURE(f, "gpt2", kCbTask);
  const std::vector<data::Example> train = cb_rows();
  f.context->train = &train;
  auto method = testing::make_method_from("{name: icl, shots: 1, calibrate: true, content_free: ['N/A', '']}",
                                          *f.context);
  InContextLearning& icl = as_icl(*method);
  tasks::Objective objective(*f.task, f.backbone().info());
  at::NoGradGuard no_grad;
  at::Tensor expected = at::zeros({3});
  for (const std::string text : {"N/A", ""}) {  // one query per batch: no padding
    const tasks::Batch batch = trainer_batch(f, *method, {row(text, text, "", -1)});
    models::BackboneInput input = method->prompt(batch);
    objective.request(batch, input);
    const at::Tensor scores = f.task->verbalizer()->class_scores(f.backbone().forward(input).logits);
    expected += at::softmax(scores.to(at::kFloat), 1)[0].cpu() / 2.0;
  }
  EXPECT_TRUE(at::allclose(icl.content_free_probs(), expected, 1e-5, 1e-6))
      << icl.content_free_probs() << " vs " << expected;
  EXPECT_TRUE(at::allclose(method->export_state().at("content_free_probs"), expected, 1e-5, 1e-6));

  const std::vector<data::Example> queries = {row("The dog slept.", "a dog slept", "entailment", 7),
                                              row("No one came.", "someone came", "contradiction", 8)};
  const tasks::Batch batch = trainer_batch(f, *method, queries);
  models::BackboneInput input = method->prompt(batch);
  objective.request(batch, input);
  const models::BackboneOutput output = f.backbone().forward(input);
  const at::Tensor raw = f.task->verbalizer()->class_scores(output.logits).to(at::kFloat);
  const at::Tensor calibrated = contextual_calibration(raw, expected);
  tasks::Objective calibrating(*f.task, f.backbone().info());
  calibrating.set_calibration(method->score_calibration());
  EXPECT_TRUE(at::equal(calibrating.predict(output, batch), calibrated.argmax(1)));
  EXPECT_TRUE(at::equal(objective.predict(output, batch), raw.argmax(1)));
  tasks::MetricSet metrics = f.task->make_metrics();
  const auto [loss_sum, count] = calibrating.score(output, batch, metrics);
  const double by_hand = -(calibrated[0][0].item<double>() + calibrated[1][1].item<double>());
  EXPECT_EQ(count, 2);
  EXPECT_NEAR(loss_sum, by_hand, 1e-5);
  EXPECT_FALSE(testing::make_method_from("{name: icl, shots: 1}", *f.context)->score_calibration());
}

// (4) Too long: the error names how many demonstrations fit for that query length.
TEST(Icl, TooLongSaysHowManyDemonstrationsFit) {
  PTLAB_METHOD_FIXTURE(f, "gpt2", kCbTask);
  const int64_t positions = f.backbone().info().max_positions;
  ASSERT_GT(positions, 0);
  std::string words;
  for (int i = 0; i < 3; ++i) words += " word" + std::to_string(i);
  std::vector<data::Example> train;
  for (int i = 0; i < 6; ++i) train.push_back(row("premise" + words, "hyp", i % 3 == 0 ? "entailment" : i % 3 == 1 ? "contradiction" : "neutral", i));
  f.context->train = &train;
  auto method = testing::make_method_from("{name: icl, shots: 1, order: grouped}", *f.context);
  InContextLearning& icl = as_icl(*method);
  ASSERT_LT(icl.length(), positions);
  // A query that leaves room for the first demonstration only: P - d0 - d1 < query <= P - d0.
  const int64_t d0 = static_cast<int64_t>(icl.demonstrations()[0].token_ids.size());
  const int64_t d1 = static_cast<int64_t>(icl.demonstrations()[1].token_ids.size());
  std::string long_text = "start";
  while (static_cast<int64_t>(f.task->encode(row(long_text, "hyp", "neutral", 9), tasks::Purpose::kEval).length) <
         positions - d0 - d1 / 2)
    long_text += " more";
  const tasks::Batch batch = trainer_batch(f, *method, {row(long_text, "hyp", "neutral", 9)});
  const int64_t query = batch.lengths[0].item<int64_t>() - icl.length();
  ASSERT_GT(icl.length() + query, positions) << "the fixture must overflow";
  int64_t fit = 0, used = query;  // by hand: leading demonstrations while they fit
  for (const auto& demo : icl.demonstrations()) {
    used += static_cast<int64_t>(demo.token_ids.size());
    if (used > positions) break;
    ++fit;
  }
  ASSERT_EQ(fit, 1) << "the fixture leaves room for one demonstration";
  EXPECT_EQ(icl.demonstrations_that_fit(query), fit);
  const std::string message = error_of([&] { method->prompt(batch); });
  EXPECT_THAT(message, HasSubstr(fmt::format("method.shots: 3 demonstrations ({} tokens) and a query of {} tokens",
                                             icl.length(), query)));
  EXPECT_THAT(message, HasSubstr(fmt::format("more than the model's {} positions; {} demonstrations fit before a query "
                                             "of {} tokens", positions, fit, query)));
  EXPECT_THAT(message, HasSubstr("not even one per class: use method.per_class=false method.shots=1"));

  // Demonstrations alone longer than the positions: an error when the method is built.
  std::vector<data::Example> huge;
  std::string many;
  for (int i = 0; i < positions; ++i) many += " w" + std::to_string(i);
  for (int i = 0; i < 3; ++i) huge.push_back(row("p" + many, "h", i == 0 ? "entailment" : i == 1 ? "contradiction" : "neutral", i));
  f.context->train = &huge;
  const std::string built = error_of([&] { testing::make_method_from("{name: icl, shots: 1}", *f.context); });
  EXPECT_THAT(built, HasSubstr("method.shots: the 3 demonstrations take"));
  EXPECT_THAT(built, HasSubstr(fmt::format("leave no room for a query in the model's {} positions; 0 of them fit "
                                           "before a query of 1 tokens — none fits", positions)));
}

// (5) and the other bad inputs: one line each, with the key path.
TEST(Icl, BadInputs) {
  PTLAB_METHOD_FIXTURE(f, "gpt2", kCbTask);
  const std::vector<data::Example> train = counted_rows({4, 3, 1});
  f.context->train = &train;
  const std::string per_class = error_of([&] { testing::make_method_from("{name: icl, shots: 2}", *f.context); });
  EXPECT_THAT(per_class, HasSubstr("method.shots: 2 demonstrations per class asked, but class 'neutral' has 1 labelled "
                                   "examples in task test's train split"));
  EXPECT_THAT(per_class, HasSubstr("(entailment 4, contradiction 3, neutral 1); lower method.shots to at most 1 or set "
                                   "method.per_class=false"));
  EXPECT_THAT(error_of([&] { testing::make_method_from("{name: icl, shots: 9, per_class: false}", *f.context); }),
              HasSubstr("method.shots: 9 demonstrations asked, but task test's train split 'train' has 8 labelled "
                        "examples; lower method.shots to at most 8"));
  EXPECT_THAT(error_of([&] { testing::make_method_from("{name: icl, shots: 0}", *f.context); }),
              HasSubstr("method.shots: in-context learning needs at least 1 demonstration, got 0"));
  EXPECT_THAT(error_of([&] { testing::make_method_from("{name: icl, shots: -2}", *f.context); }),
              HasSubstr("method.shots: in-context learning needs at least 1 demonstration, got -2"));
  EXPECT_THAT(error_of([&] { testing::make_method_from("{name: icl, shots: 1, order: sorted}", *f.context); }),
              HasSubstr("method.order: unknown order 'sorted'"));
  EXPECT_THAT(error_of([&] { testing::make_method_from("{name: icl, calibrate: true, content_free: []}", *f.context); }),
              HasSubstr("method.content_free: contextual calibration averages"));
  EXPECT_THAT(error_of([&] { testing::make_method_from("{name: icl, shot: 1}", *f.context); }),
              HasSubstr("unknown key 'method.shot'"));

  testing::Fixture no_train = testing::fixture("gpt2", kCbTask);
  EXPECT_THAT(error_of([&] { testing::make_method_from("{name: icl, shots: 1}", *no_train.context); }),
              HasSubstr("method.shots: in-context learning draws its demonstrations from the task's train split, but "
                        "task test has none loaded"));

  testing::Fixture lm = testing::fixture("gpt2", testing::kLmTask);
  lm.context->train = &train;
  EXPECT_THAT(error_of([&] { testing::make_method_from("{name: icl, shots: 1}", *lm.context); }),
              HasSubstr("has no verbalizer label words"));

  testing::Fixture soft = testing::fixture(
      "gpt2", "{type: classification, template: '{soft:2} {text_a} It was {mask}.', "
              "verbalizer: {label_words: {negative: [bad], positive: [good]}}}");
  soft.context->train = &train;
  EXPECT_THAT(error_of([&] { testing::make_method_from("{name: icl, shots: 1}", *soft.context); }),
              HasSubstr("method icl writes demonstrations, not virtual tokens, but"));

  // A state of another length than the batch's front positions, and a malformed state.
  auto method = testing::make_method_from("{name: icl, shots: 1}", *f.context);
  EXPECT_THAT(error_of([&] {
                method->import_state({{"context_token_ids", at::tensor({1, 2, 3}, at::kLong)},
                                      {"demonstration_lengths", at::tensor({2}, at::kLong)}},
                                     "state.safetensors");
              }),
              HasSubstr("state.safetensors: demonstration_lengths add up to 2 tokens but context_token_ids has 3"));
}

// The state round trip: export_state / import_state give the same prompt (ptlab eval --from RUN_DIR).
TEST(Icl, StateRoundTrip) {
  PTLAB_METHOD_FIXTURE(f, "gpt2", kCbTask);
  const std::vector<data::Example> train = counted_rows({4, 4, 4});
  f.context->train = &train;
  auto a = testing::make_method_from("{name: icl, shots: 1}", *f.context);
  testing::Fixture other = testing::fixture("gpt2", kCbTask, /*seed=*/11);
  other.context->train = &train;
  auto b = testing::make_method_from("{name: icl, shots: 1}", *other.context);
  ASSERT_NE(as_icl(*a).context_ids(), as_icl(*b).context_ids());
  b->import_state(a->export_state(), "test");
  EXPECT_EQ(as_icl(*b).context_ids(), as_icl(*a).context_ids());
  ASSERT_EQ(as_icl(*b).demonstrations().size(), 3u);
  for (std::size_t j = 0; j < 3; ++j) {
    EXPECT_EQ(as_icl(*b).demonstrations()[j].index, as_icl(*a).demonstrations()[j].index);
    EXPECT_EQ(as_icl(*b).demonstrations()[j].class_index, as_icl(*a).demonstrations()[j].class_index);
  }
}

// (6) End to end: `ptlab train method=icl` on FewGLUE CB with stories260K, then `ptlab eval` of the same config.
TEST(Icl, RunTrainingOnFewGlueCb) {
  const std::string shared = PTLAB_SHARED_DIR;
  if (!std::filesystem::exists(shared + "/models/stories260K/config.json") ||
      !std::filesystem::exists(shared + "/data/cb/fewglue32_train.jsonl"))
    GTEST_SKIP() << "../shared not found (" << shared << "): needs models/stories260K and data/cb";
  models::testing::TempDir dir;
  const std::vector<std::string> overrides = {
      "paths.shared=" + shared, "model=stories260K", "task=cb", "task.data.train_split=fewglue_train",
      "task.template_name=gpt3", "task.verbalizer_name=true_false", "task.max_length=160", "method=icl",
      "method.shots=1", "method.per_class=false", "method.calibrate=true", "trainer.eval_limit=8",
      "trainer.eval_batch_size=8", "runtime.threads=1", "run.dir=" + dir.sub("run")};
  const config::Composed composed =
      config::compose(config::ComposeOptions{std::string(PTLAB_SOURCE_DIR) + "/configs"}, overrides);
  dist::LocalCommunicator comm;
  const launchers::RunOutcome outcome = launchers::run_training(composed, comm);
  EXPECT_EQ(outcome.method, "icl");
  EXPECT_EQ(outcome.trainable_parameters, 0);
  ASSERT_TRUE(outcome.splits.count("dev"));
  ASSERT_TRUE(outcome.splits.count("test"));
  const double accuracy = outcome.splits.at("test").at("accuracy");
  EXPECT_GE(accuracy, 0.0);
  EXPECT_LE(accuracy, 1.0);
  const std::string run = dir.sub("run");
  ASSERT_TRUE(std::filesystem::exists(run + "/summary.json"));
  std::ifstream summary_file(run + "/summary.json");
  const nlohmann::json summary = nlohmann::json::parse(summary_file);
  EXPECT_EQ(summary.at("status"), "completed");
  EXPECT_EQ(summary.at("method"), "icl");
  EXPECT_DOUBLE_EQ(summary.at("test/accuracy").get<double>(), accuracy);
  EXPECT_TRUE(std::filesystem::exists(run + "/metrics.h5"));
  EXPECT_TRUE(std::filesystem::exists(run + "/prompt.safetensors"));
  EXPECT_TRUE(std::filesystem::exists(run + "/icl_context.txt"));
  std::ifstream demos(run + "/demonstrations.jsonl");
  std::string line;
  ASSERT_TRUE(std::getline(demos, line));
  const nlohmann::json demo = nlohmann::json::parse(line);
  EXPECT_THAT(demo.at("source").get<std::string>(), HasSubstr("fewglue32_train.jsonl"));
  EXPECT_THAT(demo.at("text").get<std::string>(), HasSubstr("answer:"));
  EXPECT_FALSE(std::getline(demos, line)) << "one demonstration";

  // ptlab eval draws the same demonstration (it loads the train split for icl) and scores the same.
  const launchers::RunOutcome again = launchers::run_evaluation(composed, comm, "dev", "");
  EXPECT_DOUBLE_EQ(again.splits.at("dev").at("accuracy"), accuracy);
  // ... and so does eval from the run directory's recorded state.
  const launchers::RunOutcome from_run = launchers::run_evaluation(composed, comm, "dev", run);
  EXPECT_DOUBLE_EQ(from_run.splits.at("dev").at("accuracy"), accuracy);
}

}  // namespace
}  // namespace ptlab::methods
