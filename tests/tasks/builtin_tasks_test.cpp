#include "tasks/builtin_tasks.h"

#include "tests/tasks/tasks_test_support.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace ptlab::tasks {
namespace {

using testing::decoder_only;
using ::testing::ElementsAre;
using testing::encoder_decoder;
using testing::encoder_only;
using testing::error_of;
using ::testing::HasSubstr;

TaskConfig decode(const std::string& yaml) {
  YAML::Node node = YAML::Load(yaml);
  config::Origins origins;
  origins.set_subtree("task", node, "configs/task/test.yaml");
  return TaskConfig::decode(config::Reader(node, "task", origins), origins, "test");
}

std::vector<int64_t> ids_of(const text::Tokenizer& tok, const std::string& s, bool special = false) {
  std::vector<int> ids = tok.encode(s, special).ids;
  return {ids.begin(), ids.end()};
}

data::Example labeled(std::string a, std::string label, std::string b = "") {
  data::Example ex;
  ex.text_a = std::move(a);
  ex.text_b = std::move(b);
  ex.label = label;
  ex.label_name = std::move(label);
  ex.source.file = "dev.jsonl";
  ex.source.line = 3;
  return ex;
}

constexpr const char* kSentiment =
    "{template: '{text_a} It was {mask}.', verbalizer: {label_words: {negative: terrible, positive: great}}}";

// ---- classification -----------------------------------------------------------------------------------

TEST(ClassificationTask, WrapsInTheTokenizersSpecialTokens) {
  PTLAB_SHARED_TOKENIZER(bert, testing::kBert);
  PTLAB_SHARED_TOKENIZER(gpt2, testing::kGpt2);
  PTLAB_SHARED_TOKENIZER(llama, testing::kLlama2);
  TaskConfig c = decode(kSentiment);
  data::Example ex = labeled("A fine film", "positive");

  RenderedExample b = make_task(c, bert, encoder_only())->encode(ex, Purpose::kTrain);
  EXPECT_EQ(b.input_ids, ids_of(bert, "A fine film It was [MASK].", true));  // [CLS] ... [SEP]
  EXPECT_EQ(b.label, 1);
  EXPECT_EQ(b.input_ids[static_cast<std::size_t>(b.mask_position)], bert.mask_id());
  EXPECT_EQ(b.token_type_ids, std::vector<int64_t>(b.input_ids.size(), 0));

  auto g = make_task(c, gpt2, decoder_only());
  RenderedExample r = g->encode(ex, Purpose::kTrain);  // GPT-2 adds nothing
  EXPECT_EQ(std::vector<int64_t>(r.input_ids.begin(), r.input_ids.begin() + r.mask_position),
            ids_of(gpt2, "A fine film It was"));
  EXPECT_EQ(g->verbalizer()->mode(), ScoringMode::kNextToken);
  EXPECT_EQ(g->verbalizer()->word_tokens()[1][0], ids_of(gpt2, " great"));

  RenderedExample l = make_task(c, llama, decoder_only())->encode(ex, Purpose::kTrain);
  EXPECT_EQ(l.input_ids[0], llama.bos_id());  // <s> ...
  EXPECT_EQ(std::vector<int64_t>(l.input_ids.begin() + 1, l.input_ids.begin() + l.mask_position),
            ids_of(llama, "A fine film It was"));

  // A template that names special tokens is used as written; max_length counts the added specials.
  TaskConfig own = decode("{max_length: 6, template: '{cls}{text_a} {mask}', verbalizer: {label_words: {a: x}}}");
  RenderedExample o =
      make_task(own, bert, encoder_only())->encode(labeled("one two three four five six", "a"), Purpose::kTrain);
  EXPECT_EQ(o.length, 6);
  EXPECT_EQ(o.input_ids.front(), bert.cls_id());
  EXPECT_EQ(o.input_ids.back(), bert.mask_id());
  EXPECT_EQ(o.cls_position, 0);
  TaskConfig wrapped = decode("{max_length: 6, template: '{text_a} {mask}', verbalizer: {label_words: {a: x}}}");
  RenderedExample w =
      make_task(wrapped, bert, encoder_only())->encode(labeled("one two three four five six", "a"), Purpose::kTrain);
  EXPECT_EQ(w.length, 6);
  EXPECT_EQ(w.input_ids.back(), bert.sep_id());
  EXPECT_EQ(w.mask_position, 4);
}

TEST(ClassificationTask, SoftPositionsShiftWithThePrefix) {
  PTLAB_SHARED_TOKENIZER(bert, testing::kBert);
  TaskConfig c = decode("{template: '{soft:2} {text_a} It was {mask}.', verbalizer: {label_words: {a: x, b: y}}}");
  RenderedExample r = make_task(c, bert, encoder_only())->encode(labeled("fine", "b"), Purpose::kEval);
  EXPECT_THAT(r.soft_positions[0], ElementsAre(1, 2));  // after [CLS]
  EXPECT_EQ(r.label, 1);
}

TEST(ClassificationTask, ClassesFollowTheDatasetOrder) {
  PTLAB_SHARED_TOKENIZER(bert, testing::kBert);
  TaskConfig c = decode(R"({template: '{text_a} {mask}', verbalizer: {label_words: {pos: good, neg: bad}},
      data: {splits: {train: {path: t.tsv}}, fields: {text_a: s, label: y}, label_map: {0: neg, 1: pos}}})");
  auto task = make_task(c, bert, encoder_only());
  EXPECT_THAT(task->class_names(), ElementsAre("neg", "pos"));
  EXPECT_EQ(task->encode(labeled("x", "pos"), Purpose::kEval).label, 1);
  TaskConfig head = decode(R"({template: '{text_a} {mask}', verbalizer: {mode: linear_head},
      data: {splits: {train: {path: t.tsv}}, fields: {text_a: s, label: y}, labels: [a, b, c]}})");
  EXPECT_THAT(make_task(head, bert, encoder_only())->class_names(), ElementsAre("a", "b", "c"));
}

TEST(ClassificationTask, Errors) {
  PTLAB_SHARED_TOKENIZER(bert, testing::kBert);
  PTLAB_SHARED_TOKENIZER(gpt2, testing::kGpt2);
  auto task = make_task(decode(kSentiment), bert, encoder_only());
  std::string label = error_of([&] { task->encode(labeled("x", "positiv"), Purpose::kEval); });
  EXPECT_THAT(label, HasSubstr("task test: example dev.jsonl:3 has label 'positiv'"));
  EXPECT_THAT(label, HasSubstr("did you mean positive"));
  data::Example unlabeled = labeled("x", "");
  EXPECT_EQ(task->encode(unlabeled, Purpose::kEval).label, -1);

  EXPECT_THAT(error_of([&] { make_task(decode("{verbalizer: {label_words: {a: x}}}"), bert, encoder_only()); }),
              HasSubstr("needs a template: set task.template"));
  EXPECT_THAT(error_of([&] { make_task(decode("{template: '{text_a} {mask}'}"), bert, encoder_only()); }),
              HasSubstr("needs a verbalizer"));
  EXPECT_THAT(error_of([&] {
                make_task(decode("{template: '{text_a}', verbalizer: {label_words: {a: x}}}"), bert, encoder_only());
              }),
              HasSubstr("mode mlm reads the answer at {mask}"));
  EXPECT_THAT(error_of([&] {
                make_task(decode("{template: '{mask}: {text_a}', verbalizer: {label_words: {a: x}}}"), gpt2,
                          decoder_only());
              }),
              HasSubstr("nothing precedes the answer"));
  EXPECT_THAT(error_of([&] {
                make_task(decode("{type: pair_classification, template: '{text_a} {mask}', verbalizer: "
                                 "{label_words: {a: x}}}"),
                          bert, encoder_only());
              }),
              HasSubstr("must use {text_b}"));
  EXPECT_THAT(
      error_of([&] { make_task(decode("{type: lm, verbalizer: {label_words: {a: x}}}"), bert, encoder_only()); }),
      HasSubstr("a task of type lm takes no verbalizer"));
  EXPECT_THAT(error_of([&] {
                make_task(decode("{template: '{text_a} {mask}', verbalizer: {mode: linear_head}}"), bert,
                          encoder_only());
              }),
              HasSubstr("the verbalizer has no classes"));
  auto tight = make_task(decode("{max_length: 2, template: '{text_a} {mask}', verbalizer: {label_words: {a: x}}}"),
                         bert, encoder_only());
  EXPECT_THAT(error_of([&] { tight->encode(labeled("x", "a"), Purpose::kEval); }),
              HasSubstr("max_length 2 leaves no room"));
  auto fixed = make_task(decode("{max_length: 5, template: '{text_a:fixed} {mask}', verbalizer: {label_words: {a: "
                                "x}}}"),
                         bert, encoder_only());
  std::string too_long = error_of([&] { fixed->encode(labeled("one two three", "a"), Purpose::kEval); });
  EXPECT_THAT(too_long, HasSubstr("fixed part is 4 tokens"));
  EXPECT_THAT(too_long, HasSubstr("more than max_length 3"));
  EXPECT_THAT(too_long, HasSubstr("(task max_length 5 less 2 tokens for the tokenizer's special tokens)"));
}

TEST(ClassificationTask, T5GeneratesTheLabelWord) {
  PTLAB_SHARED_TOKENIZER(t5, testing::kT5);
  auto task = make_task(decode(kSentiment), t5, encoder_decoder());
  EXPECT_EQ(task->verbalizer()->mode(), ScoringMode::kGenerate);
  RenderedExample r = task->encode(labeled("A fine film", "positive"), Purpose::kTrain);
  EXPECT_EQ(std::vector<int64_t>(r.input_ids.begin(), r.input_ids.begin() + r.mask_position),
            ids_of(t5, "A fine film It was"));
  EXPECT_EQ(r.input_ids[static_cast<std::size_t>(r.mask_position)], t5.token_to_id("<extra_id_0>"));
  EXPECT_EQ(r.input_ids.back(), t5.eos_id());  // T5's template: ... </s>
  std::vector<int64_t> target = ids_of(t5, "great");
  target.push_back(t5.eos_id());
  EXPECT_EQ(r.target_ids, target);
  EXPECT_EQ(task->verbalizer()->class_of_text("Great"), 1);
}

TEST(ClassificationTask, ModeAutoFollowsTheBackboneKind) {
  models::BackboneInfo t5 = encoder_decoder();
  EXPECT_EQ(resolve_mode(ScoringMode::kAuto, encoder_only()), ScoringMode::kMlm);
  EXPECT_EQ(resolve_mode(ScoringMode::kAuto, decoder_only()), ScoringMode::kNextToken);
  EXPECT_EQ(resolve_mode(ScoringMode::kAuto, t5), ScoringMode::kGenerate);
  EXPECT_EQ(resolve_mode(ScoringMode::kRank, encoder_only()), ScoringMode::kRank);
}

// ---- generation ---------------------------------------------------------------------------------------

const char* kAlpacaPrompt =
    "Below is an instruction that describes a task, paired with an input that provides further context. Write a "
    "response that appropriately completes the request.\n\n### Instruction:\n{}\n\n### Input:\n{}\n\n### Response:\n";
const char* kAlpacaNoInput =
    "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{}\n\n### Response:\n";

data::Example alpaca(std::string instruction, std::string input, std::string output) {
  data::Example ex;
  ex.text_a = std::move(instruction);
  ex.text_b = std::move(input);
  ex.target = std::move(output);
  return ex;
}

TEST(GenerationTask, LossOnlyOnTheResponseTokens) {
  PTLAB_SHARED_TOKENIZER(gpt2, testing::kGpt2);
  auto task = make_task(decode("{type: generation, max_length: 0}"), gpt2, decoder_only());
  data::Example ex = alpaca("Translate to French.", "Good morning", "Bonjour");
  RenderedExample r = task->encode(ex, Purpose::kTrain);
  const auto prompt = ids_of(gpt2, fmt::format(kAlpacaPrompt, ex.text_a, ex.text_b));
  std::vector<int64_t> target = ids_of(gpt2, ex.target);  // follows "\n": no leading space
  target.push_back(gpt2.eos_id());
  ASSERT_EQ(r.target_begin, static_cast<int64_t>(prompt.size()));
  EXPECT_EQ(std::vector<int64_t>(r.input_ids.begin(), r.input_ids.begin() + r.target_begin), prompt);
  EXPECT_EQ(std::vector<int64_t>(r.input_ids.begin() + r.target_begin, r.input_ids.end()), target);
  // The whole text tokenised at once gives the same ids (the pieces join with the right spacing).
  std::vector<int64_t> joined = ids_of(gpt2, fmt::format(kAlpacaPrompt, ex.text_a, ex.text_b) + ex.target);
  joined.push_back(gpt2.eos_id());
  EXPECT_EQ(r.input_ids, joined);
  ASSERT_EQ(r.token_labels.size(), r.input_ids.size());
  for (std::size_t p = 0; p < r.input_ids.size(); ++p) {
    if (static_cast<int64_t>(p) < r.target_begin) {
      EXPECT_EQ(r.token_labels[p], -100) << p;
    } else {
      EXPECT_EQ(r.token_labels[p], r.input_ids[p]) << p;
    }
  }
  EXPECT_EQ(r.target_ids, target);
  EXPECT_EQ(r.target_end, r.length);

  // Evaluation: the prompt alone, the target's tokens aside.
  RenderedExample e = task->encode(ex, Purpose::kEval);
  EXPECT_EQ(e.input_ids, prompt);
  EXPECT_TRUE(e.token_labels.empty());
  EXPECT_EQ(e.target_ids, ids_of(gpt2, ex.target));

  // No input: the other prompt.
  RenderedExample n = task->encode(alpaca("Say hi.", "", "Hi!"), Purpose::kEval);
  EXPECT_EQ(n.input_ids, ids_of(gpt2, fmt::format(kAlpacaNoInput, "Say hi.")));
}

TEST(GenerationTask, Llama2PrefixAndTruncation) {
  PTLAB_SHARED_TOKENIZER(llama, testing::kLlama2);
  auto task = make_task(decode("{type: generation, max_length: 60}"), llama, decoder_only());
  data::Example ex = alpaca("Summarise the text.", "", std::string(400, 'x').replace(0, 1, "Long"));
  RenderedExample r = task->encode(ex, Purpose::kTrain);
  EXPECT_EQ(r.length, 60);
  EXPECT_TRUE(r.truncated);
  EXPECT_EQ(r.input_ids.front(), llama.bos_id());
  EXPECT_EQ(r.input_ids.back(), llama.eos_id());  // eos survives truncation
  const auto prompt = ids_of(llama, fmt::format(kAlpacaNoInput, ex.text_a));
  EXPECT_EQ(r.target_begin, 1 + static_cast<int64_t>(prompt.size()));
  EXPECT_EQ(std::vector<int64_t>(r.input_ids.begin() + 1, r.input_ids.begin() + r.target_begin), prompt);
  for (int64_t p = 0; p < r.target_begin; ++p) EXPECT_EQ(r.token_labels[static_cast<std::size_t>(p)], -100);
  for (int64_t p = r.target_begin; p < r.length; ++p)
    EXPECT_EQ(r.token_labels[static_cast<std::size_t>(p)], r.input_ids[static_cast<std::size_t>(p)]);
  // The target follows "\n" directly: no "▁" in front of its first token.
  EXPECT_NE(llama.id_to_token(static_cast<int>(r.input_ids[static_cast<std::size_t>(r.target_begin)]))
                .rfind("\xE2\x96\x81", 0),
            0u);
}

TEST(GenerationTask, EncoderDecoderTargetsForTheDecoder) {
  PTLAB_SHARED_TOKENIZER(t5, testing::kT5);
  auto task =
      make_task(decode("{type: generation, template: 'question: {text_a} context: {text_b}'}"), t5, encoder_decoder());
  data::Example ex = alpaca("Who?", "Ann met Bob.", "Ann");
  RenderedExample r = task->encode(ex, Purpose::kTrain);
  EXPECT_EQ(r.input_ids, ids_of(t5, "question: Who? context: Ann met Bob.", true));  // ... </s>
  std::vector<int64_t> target = ids_of(t5, "Ann");
  target.push_back(t5.eos_id());
  EXPECT_EQ(r.target_ids, target);
  EXPECT_TRUE(r.token_labels.empty());
}

TEST(GenerationTask, Errors) {
  PTLAB_SHARED_TOKENIZER(gpt2, testing::kGpt2);
  EXPECT_THAT(
      error_of([&] { make_task(decode("{type: generation, template: '{text_a} {target}'}"), gpt2, decoder_only()); }),
      HasSubstr("must not use {target}"));
  EXPECT_THAT(error_of([&] { make_task(decode("{type: lm, template_no_input: x}"), gpt2, decoder_only()); }),
              HasSubstr("template_no_input is only for generation"));
  auto task = make_task(decode("{type: generation}"), gpt2, decoder_only());
  EXPECT_TRUE(task->class_names().empty());
  EXPECT_THAT(task->metric_names(), ElementsAre("exact_match", "token_f1"));
}

// ---- token classification -----------------------------------------------------------------------------

TEST(TokenClassificationTask, FirstSubTokenCarriesTheTag) {
  PTLAB_SHARED_TOKENIZER(bert, testing::kBert);
  auto task = make_task(decode("{type: token_classification}"), bert, encoder_only());
  data::Example ex;
  ex.tokens = {"The", "unwatchable", "jury", "."};
  ex.tags = {"at", "jj", "nn", "."};
  EXPECT_THAT(error_of([&] { task->encode(ex, Purpose::kTrain); }), HasSubstr("the tag set is unknown"));
  task->learn_labels({ex});
  EXPECT_THAT(task->class_names(), ElementsAre(".", "at", "jj", "nn"));  // sorted
  RenderedExample r = task->encode(ex, Purpose::kTrain);
  EXPECT_EQ(r.input_ids.front(), bert.cls_id());
  EXPECT_EQ(r.input_ids.back(), bert.sep_id());
  const int64_t pieces = static_cast<int64_t>(ids_of(bert, "unwatchable").size());
  ASSERT_GT(pieces, 1);
  EXPECT_THAT(r.word_starts, ElementsAre(1, 2, 2 + pieces, 3 + pieces));
  std::vector<int64_t> expected(r.input_ids.size(), -100);
  expected[1] = 1;           // at
  expected[2] = 2;           // jj, on "un" only
  expected[2 + pieces] = 3;  // nn
  expected[3 + pieces] = 0;  // .
  EXPECT_EQ(r.token_labels, expected);
  EXPECT_EQ(task->make_metrics().values().count("token_accuracy"), 1u);

  data::Example odd = ex;
  odd.tags[2] = "vb";
  EXPECT_THAT(error_of([&] { task->encode(odd, Purpose::kTrain); }),
              HasSubstr("has tag 'vb', which is not in the tag set"));
  odd.tags.pop_back();
  EXPECT_THAT(error_of([&] { task->encode(odd, Purpose::kTrain); }), HasSubstr("has 4 tokens but 3 tags"));
}

TEST(TokenClassificationTask, FixedTagSetFromTheData) {
  PTLAB_SHARED_TOKENIZER(bert, testing::kBert);
  auto task = make_task(decode(R"({type: token_classification, data: {splits: {train: {path: t.jsonl}},
      fields: {tokens: tokens, tags: tags}, labels: [nn, at]}})"),
                        bert, encoder_only());
  data::Example ex;
  ex.tokens = {"The", "jury"};
  ex.tags = {"at", "nn"};
  task->learn_labels({ex});  // a no-op: the config lists the tags
  EXPECT_THAT(task->class_names(), ElementsAre("nn", "at"));
  RenderedExample r = task->encode(ex, Purpose::kTrain);
  EXPECT_EQ(r.token_labels[1], 1);
  EXPECT_EQ(r.token_labels[2], 0);
  EXPECT_THAT(
      error_of([&] { make_task(decode("{type: token_classification, template: '{text_a}'}"), bert, encoder_only()); }),
      HasSubstr("must use {tokens}"));
}

// ---- lm -----------------------------------------------------------------------------------------------

TEST(LmTask, LabelsAreTheInputIds) {
  PTLAB_SHARED_TOKENIZER(llama, testing::kLlama2);
  auto task = make_task(decode("{type: lm}"), llama, decoder_only());
  data::Example ex;
  ex.text_a = "The Fulton County Grand Jury said Friday.";
  RenderedExample r = task->encode(ex, Purpose::kTrain);
  EXPECT_EQ(r.input_ids, ids_of(llama, ex.text_a, true));  // <s> ...
  EXPECT_EQ(r.token_labels, r.input_ids);
  auto soft = make_task(decode("{type: lm, template: '{soft:3}{text_a}'}"), llama, decoder_only());
  RenderedExample s = soft->encode(ex, Purpose::kTrain);
  EXPECT_THAT(s.soft_positions[0], ElementsAre(1, 2, 3));
  EXPECT_THAT(std::vector<int64_t>(s.token_labels.begin(), s.token_labels.begin() + 4),
              ElementsAre(llama.bos_id(), -100, -100, -100));
  EXPECT_THAT(task->metric_names(), ElementsAre("perplexity"));
}

}  // namespace
}  // namespace ptlab::tasks
