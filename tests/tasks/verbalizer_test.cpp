#include "tasks/verbalizer.h"

#include "framework/core/error.h"
#include "framework/models/backbone.h"
#include "tests/tasks/tasks_test_support.h"

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace ptlab::tasks {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

template <class Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no ptlab::Error thrown";
  return "";
}

VerbalizerConfig decode(const std::string& yaml) {
  YAML::Node node = YAML::Load(yaml);
  config::Origins origins;
  origins.set_subtree("task.verbalizer", node, "configs/task/test.yaml");
  return VerbalizerConfig::decode(config::Reader(node, "task.verbalizer", origins), "task.verbalizer (test.yaml)");
}

std::vector<int64_t> ids(const text::Tokenizer& tok, const std::string& s) {
  auto v = tok.encode(s, false).ids;
  return {v.begin(), v.end()};
}

int64_t column_of(const Verbalizer& v, int64_t token) {
  auto rows = v.vocab_rows();
  for (int64_t i = 0; i < rows.size(0); ++i)
    if (rows[i].item<int64_t>() == token) return i;
  ADD_FAILURE() << "token " << token << " not among the rows";
  return -1;
}

// ---- config --------------------------------------------------------------------------------------------

TEST(VerbalizerConfig, DecodesWordsInYamlOrder) {
  VerbalizerConfig c = decode(
      "{mode: next_token, label_words: {positive: great, negative: [terrible, awful]}, "
      "reduction: mean, aggregation: logsumexp, length_normalize: true}");
  EXPECT_EQ(c.mode, ScoringMode::kNextToken);
  EXPECT_THAT(c.class_names(), ElementsAre("positive", "negative"));
  EXPECT_THAT(c.label_words[0].second, ElementsAre("great"));
  EXPECT_THAT(c.label_words[1].second, ElementsAre("terrible", "awful"));
  EXPECT_EQ(c.reduction, TokenReduction::kMean);
  EXPECT_EQ(c.aggregation, WordAggregation::kLogSumExp);
  EXPECT_TRUE(c.length_normalize);
  c.reorder({"negative", "positive"});
  EXPECT_THAT(c.class_names(), ElementsAre("negative", "positive"));
  EXPECT_THAT(c.label_words[0].second, ElementsAre("terrible", "awful"));
}

TEST(VerbalizerConfig, Errors) {
  std::string mode = error_of([] { decode("{mode: mlmm, label_words: {a: [x]}}"); });
  EXPECT_THAT(mode, HasSubstr("task.verbalizer.mode: unknown value 'mlmm' (did you mean mlm?)"));
  EXPECT_THAT(mode, HasSubstr("mlm, next_token, rank, generate, linear_head"));
  EXPECT_THAT(error_of([] { decode("{mode: mlm}"); }), HasSubstr("mode mlm needs label_words"));
  EXPECT_THAT(error_of([] { decode("{label_words: {a: []}}"); }), HasSubstr("class 'a' has no label words"));
  EXPECT_THAT(error_of([] { decode("{label_words: {a: ['']}}"); }), HasSubstr("an empty label word"));
  EXPECT_THAT(error_of([] { decode("{label_words: {a: {b: c}}}"); }),
              HasSubstr("task.verbalizer.label_words.a: expected a label word or a list"));
  EXPECT_THAT(error_of([] { decode("{label_words: {a: x}, labels: [a]}"); }),
              HasSubstr("labels is only for mode linear_head"));
  VerbalizerConfig bare = decode("{mode: linear_head}");  // classes from the dataset
  EXPECT_TRUE(bare.class_names().empty());
  bare.reorder({"x", "y"});
  EXPECT_THAT(bare.class_names(), ElementsAre("x", "y"));
  EXPECT_THAT(error_of([] { decode("{mode: linear_head, labels: [a, a]}"); }), HasSubstr("class 'a' is listed twice"));
  EXPECT_THAT(error_of([] { decode("{label_words: {a: x}, reduce: mean}"); }),
              HasSubstr("unknown key 'task.verbalizer.reduce'"));
  EXPECT_THAT(error_of([] { decode("{label_words: {a: x}, dropout: 1.5}"); }), HasSubstr("dropout must be in [0, 1)"));
  VerbalizerConfig c = decode("{label_words: {pos: great, neg: bad}}");
  std::string order = error_of([&] { c.reorder({"neg", "neutral"}); });
  EXPECT_THAT(order, HasSubstr("differ from the dataset's labels (neg, neutral)"));
  EXPECT_THAT(order, HasSubstr("no label words for: neutral"));
  EXPECT_THAT(order, HasSubstr("not a dataset label: pos"));
  VerbalizerConfig head = decode("{mode: linear_head, labels: [b, a], label_words: {a: x, b: y}, pooling: cls}");
  EXPECT_THAT(head.class_names(), ElementsAre("b", "a"));
  EXPECT_EQ(head.pooling, HeadPooling::kCls);
}

// ---- mlm / next_token ----------------------------------------------------------------------------------

TEST(Verbalizer, MlmRowsAreTheLabelWordTokensAndScoresFollowTheLogits) {
  PTLAB_SHARED_TOKENIZER(bert, testing::kBert);
  VerbalizerConfig c = decode("{mode: mlm, label_words: {negative: [terrible], positive: [great, good]}}");
  Verbalizer v(c, bert, Spacing::kSpace);
  const int64_t terrible = ids(bert, "terrible")[0], great = ids(bert, "great")[0], good = ids(bert, "good")[0];
  std::vector<int64_t> expected = {terrible, great, good};
  std::sort(expected.begin(), expected.end());
  auto rows = v.vocab_rows();
  EXPECT_EQ(std::vector<int64_t>(rows.data_ptr<int64_t>(), rows.data_ptr<int64_t>() + rows.numel()), expected);
  EXPECT_EQ(v.num_classes(), 2);
  EXPECT_EQ(v.class_index("positive"), 1);
  EXPECT_EQ(v.class_index("neutral"), -1);

  // Hand-made logits over the three rows, two examples.
  at::Tensor logits = at::zeros({2, 3});
  logits[0][column_of(v, terrible)] = 2.0;
  logits[0][column_of(v, great)] = 1.0;
  logits[0][column_of(v, good)] = 0.0;
  logits[1][column_of(v, terrible)] = -1.0;
  logits[1][column_of(v, great)] = 3.0;
  logits[1][column_of(v, good)] = 1.0;
  at::Tensor scores = v.class_scores(logits);
  ASSERT_EQ(scores.sizes(), (std::vector<int64_t>{2, 2}));
  for (int b = 0; b < 2; ++b) {
    const at::Tensor lp = at::log_softmax(logits[b], 0);
    EXPECT_NEAR(scores[b][0].item<float>(), lp[column_of(v, terrible)].item<float>(), 1e-6);
    EXPECT_NEAR(scores[b][1].item<float>(),
                (lp[column_of(v, great)].item<float>() + lp[column_of(v, good)].item<float>()) / 2, 1e-6);
  }
  EXPECT_EQ(scores.argmax(1)[0].item<int64_t>(), 0);
  EXPECT_EQ(scores.argmax(1)[1].item<int64_t>(), 1);

  // The same from full-vocabulary logits and from [B, 1, V'].
  at::Tensor full = at::full({2, bert.vocab_size()}, -5.0);
  for (int64_t t : {terrible, great, good}) full.select(1, t).copy_(logits.select(1, column_of(v, t)));
  EXPECT_TRUE(at::allclose(v.class_scores_from_vocab_logits(full), scores));
  EXPECT_TRUE(at::allclose(v.class_scores(logits.unsqueeze(1)), scores));

  // max and logsumexp aggregation.
  c.aggregation = WordAggregation::kMax;
  at::Tensor max_scores = Verbalizer(c, bert, Spacing::kSpace).class_scores(logits);
  const at::Tensor lp1 = at::log_softmax(logits[1], 0);
  EXPECT_NEAR(max_scores[1][1].item<float>(), lp1[column_of(v, great)].item<float>(), 1e-6);
  c.aggregation = WordAggregation::kLogSumExp;
  at::Tensor lse = Verbalizer(c, bert, Spacing::kSpace).class_scores(logits);
  EXPECT_NEAR(
      lse[1][1].item<float>(),
      std::log(std::exp(lp1[column_of(v, great)].item<float>()) + std::exp(lp1[column_of(v, good)].item<float>())),
      1e-5);
}

TEST(Verbalizer, MultiTokenWordsFirstTokenAndMean) {
  PTLAB_SHARED_TOKENIZER(bert, testing::kBert);
  const std::vector<int64_t> multi = ids(bert, "unwatchable");
  ASSERT_GE(multi.size(), 2u);
  const int64_t fine = ids(bert, "fine")[0];
  VerbalizerConfig c = decode("{mode: mlm, label_words: {bad: [unwatchable], ok: [fine]}}");

  Verbalizer first(c, bert, Spacing::kSpace);
  EXPECT_EQ(first.vocab_rows().size(0), 2);  // only the first sub-token is requested
  EXPECT_EQ(first.word_tokens()[0][0], multi);

  c.reduction = TokenReduction::kMean;
  Verbalizer mean(c, bert, Spacing::kSpace);
  std::set<int64_t> all(multi.begin(), multi.end());
  all.insert(fine);
  EXPECT_EQ(mean.vocab_rows().size(0), static_cast<int64_t>(all.size()));  // every sub-token

  at::Tensor logits = at::arange(static_cast<int64_t>(all.size()), at::kFloat).unsqueeze(0) * 0.7;  // [1, V']
  const at::Tensor lp = at::log_softmax(logits[0], 0);
  double expected = 0;
  for (int64_t t : multi) expected += lp[column_of(mean, t)].item<float>();
  expected /= static_cast<double>(multi.size());
  at::Tensor scores = mean.class_scores(logits);
  EXPECT_NEAR(scores[0][0].item<float>(), expected, 1e-6);
  EXPECT_NEAR(scores[0][1].item<float>(), lp[column_of(mean, fine)].item<float>(), 1e-6);

  at::Tensor first_logits = at::tensor({0.5f, -0.25f}).unsqueeze(0);
  const at::Tensor flp = at::log_softmax(first_logits[0], 0);
  at::Tensor fs = first.class_scores(first_logits);
  EXPECT_NEAR(fs[0][0].item<float>(), flp[column_of(first, multi[0])].item<float>(), 1e-6);
}

TEST(Verbalizer, WordsScoredAlikeAreAnError) {
  PTLAB_SHARED_TOKENIZER(bert, testing::kBert);
  VerbalizerConfig c = decode("{mode: mlm, label_words: {pos: ['not bad'], neg: ['not good']}}");
  std::string msg = error_of([&] { Verbalizer(c, bert, Spacing::kSpace); });
  EXPECT_THAT(msg, HasSubstr("label words 'not bad' (class pos) and 'not good' (class neg) are scored alike"));
  EXPECT_THAT(msg, HasSubstr("reduction: mean"));
  c.reduction = TokenReduction::kMean;
  EXPECT_NO_THROW(Verbalizer(c, bert, Spacing::kSpace));
}

// reduction single (PET's rule): a word of several tokens is refused with one line naming it and its tokens; one-token
// words score exactly as first_token does.
TEST(Verbalizer, SingleReductionRefusesMultiTokenWords) {
  PTLAB_SHARED_TOKENIZER(bert, testing::kBert);
  VerbalizerConfig c = decode("{mode: mlm, reduction: single, label_words: {pos: [great], neg: [unwatchable]}}");
  EXPECT_EQ(c.reduction, TokenReduction::kSingle);
  const std::vector<int64_t> pieces = ids(bert, "unwatchable");
  ASSERT_GT(pieces.size(), 1u) << "the fixture needs a word BERT splits";
  const std::string msg = error_of([&] { Verbalizer(c, bert, Spacing::kSpace); });
  EXPECT_THAT(msg, HasSubstr("label word 'unwatchable' of class 'neg' is " + std::to_string(pieces.size()) + " tokens"));
  EXPECT_THAT(msg, HasSubstr("reduction single scores exactly one token per word"));
  EXPECT_EQ(std::count(msg.begin(), msg.end(), '\n'), 0) << msg;
  VerbalizerConfig ok = decode("{mode: mlm, reduction: single, label_words: {pos: [great], neg: [terrible]}}");
  Verbalizer single(ok, bert, Spacing::kSpace);
  ok.reduction = TokenReduction::kFirstToken;
  Verbalizer first(ok, bert, Spacing::kSpace);
  EXPECT_TRUE(at::equal(single.vocab_rows(), first.vocab_rows()));
  const at::Tensor logits = at::tensor({0.5f, -0.25f}).unsqueeze(0);
  EXPECT_TRUE(at::allclose(single.class_scores(logits), first.class_scores(logits)));
}

TEST(Verbalizer, Gpt2WordsTakeTheTemplateSpacingAndNextTokenPosition) {
  PTLAB_SHARED_TOKENIZER(gpt2, testing::kGpt2);
  Template t = Template::parse("{text_a} It was {mask}.");
  VerbalizerConfig c = decode("{mode: next_token, label_words: {negative: terrible, positive: great}}");
  Verbalizer v(c, gpt2, t.mask_spacing());
  EXPECT_EQ(v.word_tokens()[1][0], ids(gpt2, " great"));
  data::Example ex;
  ex.text_a = "A fine film";
  RenderedExample r = t.render(ex, gpt2, 0);
  EXPECT_EQ(v.answer_position(r), r.mask_position - 1);
  RenderedExample no_mask = Template::parse("{text_a} It was").render(ex, gpt2, 0);
  EXPECT_EQ(v.answer_position(no_mask), no_mask.length - 1);
  Verbalizer attached(c, gpt2, Template::parse("Answer:{mask}").mask_spacing());
  EXPECT_EQ(attached.word_tokens()[1][0], ids(gpt2, "great"));

  models::LogitsRequest request = v.logits_request(at::tensor({4, 7}, at::kLong));
  EXPECT_EQ(request.mode, models::LogitsRequest::Mode::kPositions);
  EXPECT_EQ(request.positions.sizes(), (std::vector<int64_t>{2, 1}));
  EXPECT_TRUE(at::equal(request.vocab_rows, v.vocab_rows()));

  VerbalizerConfig mlm = decode("{mode: mlm, label_words: {a: x, b: y}}");
  EXPECT_THAT(error_of([&] { Verbalizer(mlm, gpt2, Spacing::kSpace).answer_position(no_mask); }),
              HasSubstr("mode mlm reads the logits at {mask}, but the template has none"));
  RenderedExample first = Template::parse("{mask} was it").render(ex, gpt2, 0);
  EXPECT_THAT(error_of([&] { v.answer_position(first); }), HasSubstr("put some text before {mask}"));
}

TEST(Verbalizer, ScoresOnTheLogitsDevice) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device";
  PTLAB_SHARED_TOKENIZER(bert, testing::kBert);
  Verbalizer v(decode("{mode: mlm, label_words: {a: [unwatchable], b: [fine]}, reduction: mean}"), bert,
               Spacing::kSpace);
  const int64_t rows = v.vocab_rows().size(0);
  at::Tensor logits = at::randn({3, rows});
  at::Tensor on_gpu = v.class_scores(logits.to(at::kCUDA).to(at::kBFloat16));
  EXPECT_TRUE(on_gpu.is_cuda());
  EXPECT_TRUE(at::allclose(on_gpu.cpu(), v.class_scores(logits.to(at::kBFloat16)), 1e-3, 1e-3));
  models::LogitsRequest request = v.logits_request(at::zeros({3}, at::kLong).to(at::kCUDA));
  EXPECT_TRUE(request.vocab_rows.is_cuda());
  at::Tensor E = at::randn({bert.vocab_size(), 8}).to(at::kCUDA);
  EXPECT_TRUE(v.class_label_embeddings(E).is_cuda());
}

// ---- rank ----------------------------------------------------------------------------------------------

TEST(Verbalizer, RankCandidatesPutEachWordAtTheMask) {
  PTLAB_SHARED_TOKENIZER(gpt2, testing::kGpt2);
  Template t = Template::parse("{soft:2} {text_a} It was {mask}. {soft:1}");
  VerbalizerConfig c = decode("{mode: rank, label_words: {negative: [terrible], positive: [great, 'a masterpiece']}}");
  Verbalizer v(c, gpt2, t.mask_spacing());
  data::Example ex;
  ex.text_a = "A fine film";
  RenderedExample r = t.render(ex, gpt2, 0);
  r.label = 1;
  std::vector<RankCandidate> cands = v.rank_candidates(r);
  ASSERT_EQ(cands.size(), 3u);
  EXPECT_EQ(v.num_candidates(), 3);
  const auto masterpiece = ids(gpt2, " a masterpiece");
  ASSERT_EQ(masterpiece.size(), 2u);
  EXPECT_EQ(v.max_word_tokens(), 2);
  const RankCandidate& m = cands[2];
  EXPECT_EQ(m.class_index, 1);
  EXPECT_EQ(m.word_index, 1);
  const auto mask = static_cast<std::size_t>(r.mask_position);
  std::vector<int64_t> expected(r.input_ids.begin(), r.input_ids.begin() + static_cast<std::ptrdiff_t>(mask));
  expected.insert(expected.end(), masterpiece.begin(), masterpiece.end());
  expected.insert(expected.end(), r.input_ids.begin() + static_cast<std::ptrdiff_t>(mask) + 1, r.input_ids.end());
  EXPECT_EQ(m.example.input_ids, expected);
  EXPECT_EQ(m.example.length, r.length + 1);
  EXPECT_THAT(m.score_positions, ElementsAre(r.mask_position - 1, r.mask_position));
  EXPECT_EQ(m.score_ids, masterpiece);
  EXPECT_EQ(m.example.target_begin, r.mask_position);
  EXPECT_EQ(m.example.mask_position, -1);
  EXPECT_EQ(m.example.label, 1);
  EXPECT_EQ(m.example.soft_positions[0], r.soft_positions[0]);                        // before the mask: unchanged
  EXPECT_THAT(m.example.soft_positions[1], ElementsAre(r.soft_positions[1][0] + 1));  // after it: shifted
  EXPECT_EQ(m.example.token_type_ids.size(), m.example.input_ids.size());

  // Hand-made token log-probs [B=1, N=3, L=3]: entries past a word's length are ignored.
  at::Tensor lp = at::tensor({-1.0f, -9.0f, -9.0f, -2.0f, -9.0f, -9.0f, -0.5f, -1.0f, -9.0f}).view({1, 3, 3});
  at::Tensor scores = v.rank_scores(lp);
  EXPECT_NEAR(scores[0][0].item<float>(), -1.0, 1e-6);
  EXPECT_NEAR(scores[0][1].item<float>(), (-2.0 + -1.5) / 2, 1e-6);  // mean over the class's two words
  c.length_normalize = true;
  c.aggregation = WordAggregation::kMax;
  at::Tensor normalized = Verbalizer(c, gpt2, t.mask_spacing()).rank_scores(lp);
  EXPECT_NEAR(normalized[0][1].item<float>(), -0.75, 1e-6);  // max(-2, -1.5 / 2)

  // Without a mask the word is appended.
  RenderedExample plain = Template::parse("{text_a} It was").render(ex, gpt2, 0);
  auto appended = v.rank_candidates(plain);
  EXPECT_EQ(appended[0].example.length, plain.length + 1);
  EXPECT_EQ(appended[0].score_positions, std::vector<int64_t>({plain.length - 1}));
}

TEST(Verbalizer, GatherLogProbs) {
  at::Tensor logits = at::tensor({1.0f, 2.0f, 3.0f, 0.0f, 0.0f, 0.0f}).view({1, 2, 3});
  at::Tensor lp = gather_log_probs(logits, at::tensor({2, 0}, at::kLong).view({1, 2}));
  EXPECT_NEAR(lp[0][0].item<float>(), 3.0 - std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0)), 1e-6);
  EXPECT_NEAR(lp[0][1].item<float>(), -std::log(3.0), 1e-6);
}

// ---- generate, linear_head, class-label init -----------------------------------------------------------

TEST(Verbalizer, GenerateMapsNormalisedTextBack) {
  PTLAB_SHARED_TOKENIZER(gpt2, testing::kGpt2);
  Verbalizer v(decode("{mode: generate, label_words: {negative: [terrible, bad], positive: ['The Best']}}"), gpt2,
               Spacing::kStart);
  EXPECT_EQ(v.class_of_text("Bad."), 0);
  EXPECT_EQ(v.class_of_text("  best!"), 1);
  EXPECT_EQ(v.class_of_text("terribly"), -1);
}

TEST(Verbalizer, HeadPositions) {
  PTLAB_SHARED_TOKENIZER(bert, testing::kBert);
  data::Example ex;
  ex.text_a = "fine";
  RenderedExample r = Template::parse("{soft:3}{cls}{text_a} {mask}{sep}").render(ex, bert, 0);
  auto position = [&](const char* pooling) {
    VerbalizerConfig c = decode(std::string("{mode: linear_head, labels: [a, b], pooling: ") + pooling + "}");
    return Verbalizer(c, bert, Spacing::kSpace).head_position(r);
  };
  EXPECT_EQ(position("cls"), 3);
  EXPECT_EQ(position("mask"), r.mask_position);
  EXPECT_EQ(position("last"), r.length - 1);
  EXPECT_EQ(position("pooler"), -1);
}

TEST(Verbalizer, ClassLabelEmbeddingsAreSubTokenMeans) {
  PTLAB_SHARED_TOKENIZER(bert, testing::kBert);
  Verbalizer v(decode("{mode: mlm, label_words: {bad: [unwatchable, awful], ok: [fine]}}"), bert, Spacing::kSpace);
  const int64_t V = bert.vocab_size(), d = 4;
  at::Tensor E = at::arange(V * d, at::kFloat).view({V, d}) / 1000.0;  // [V, d]
  at::Tensor labels = v.class_label_embeddings(E.to(at::kDouble));
  ASSERT_EQ(labels.sizes(), (std::vector<int64_t>{2, d}));
  EXPECT_EQ(labels.scalar_type(), at::kFloat);
  const auto multi = ids(bert, "unwatchable");
  at::Tensor expected = at::zeros({d});
  for (int64_t t : multi) expected += E[t];
  expected /= static_cast<double>(multi.size());
  EXPECT_TRUE(at::allclose(labels[0], expected));
  EXPECT_TRUE(at::allclose(labels[1], E[ids(bert, "fine")[0]]));
  at::Tensor words = v.label_word_embeddings(E);
  ASSERT_EQ(words.sizes(), (std::vector<int64_t>{3, d}));
  EXPECT_TRUE(at::allclose(words[0], expected));
  EXPECT_TRUE(at::allclose(words[1], E[ids(bert, "awful")[0]]));
  EXPECT_TRUE(at::allclose(words[2], labels[1]));
  EXPECT_THAT(error_of([&] { v.class_label_embeddings(E.narrow(0, 0, 100)); }),
              HasSubstr("outside the 100 rows of the word embeddings"));
  Verbalizer head(decode("{mode: linear_head, labels: [a, b]}"), bert, Spacing::kSpace);
  EXPECT_THAT(error_of([&] { head.class_label_embeddings(E); }), HasSubstr("needs a label word for class 'a'"));
}

}  // namespace
}  // namespace ptlab::tasks
