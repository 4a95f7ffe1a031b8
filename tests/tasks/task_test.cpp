#include "tasks/task.h"

#include "framework/config/compose.h"
#include "framework/data/dataset.h"
#include "tasks/batch.h"
#include "tests/tasks/tasks_test_support.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

namespace ptlab::tasks {
namespace {

using testing::decoder_only;
using ::testing::ElementsAre;
using testing::encoder_only;
using testing::error_of;
using ::testing::HasSubstr;

TaskConfig decode(const std::string& yaml) {
  YAML::Node node = YAML::Load(yaml);
  config::Origins origins;
  origins.set_subtree("task", node, "configs/task/test.yaml");
  return TaskConfig::decode(config::Reader(node, "task", origins), origins, "test");
}

// The real task config `name` composed with the real configs/ (paths.shared pointing at ../shared).
TaskConfig real_task(const std::string& name, std::vector<std::string> overrides = {}) {
  overrides.insert(overrides.begin(), "task=" + name);  // configs/config.yaml lists `task: null`
  overrides.push_back(std::string("paths.shared=") + PTLAB_SHARED_DIR);
  config::Composed composed =
      config::compose(config::ComposeOptions{std::string(PTLAB_SOURCE_DIR) + "/configs"}, overrides);
  return TaskConfig::from_config(composed.root, composed.origins, "task", name);
}

const std::vector<std::string> kTaskNames = {"sst2",      "sst5",      "trec",      "boolq",
                                             "cb",        "rte",       "ag_news",   "chnsenticorp",
                                             "alpaca_en", "alpaca_zh", "brown_pos", "brown_lm"};

// ---- TaskConfig ---------------------------------------------------------------------------------------

TEST(TaskConfig, DecodesTemplatesVerbalizersAndMetrics) {
  TaskConfig c = decode(R"(
type: pair_classification
max_length: 64
template: "{text_a} ? {mask} , {text_b}"
templates: {soft: "{soft:4} {text_a} ? {mask} , {text_b}"}
template_name: soft
verbalizer: {label_words: {yes: ["Yes"], no: ["No"]}}
verbalizers: {head: {mode: linear_head, pooling: cls}}
verbalizer_name: head
metric: [accuracy, macro_f1]
data: {splits: {train: {path: train.tsv}}, fields: {text_a: a, text_b: b, label: y}, labels: [no, yes]}
)");
  EXPECT_EQ(c.name, "test");
  EXPECT_EQ(c.type, "pair_classification");
  EXPECT_EQ(c.max_length, 64);
  EXPECT_EQ(c.template_text, "{soft:4} {text_a} ? {mask} , {text_b}");
  EXPECT_THAT(c.template_where, HasSubstr("task.templates"));
  EXPECT_THAT(c.template_where, HasSubstr("'soft'"));
  ASSERT_TRUE(c.verbalizer.has_value());
  EXPECT_EQ(c.verbalizer->mode, ScoringMode::kLinearHead);  // verbalizer_name picked the alternative
  EXPECT_EQ(c.verbalizer->pooling, HeadPooling::kCls);
  EXPECT_EQ(c.verbalizers.size(), 1u);
  EXPECT_THAT(c.metrics, ElementsAre("accuracy", "macro_f1"));
  ASSERT_TRUE(c.data.has_value());
  EXPECT_THAT(c.data->labels, ElementsAre("no", "yes"));

  TaskConfig plain = decode("{template: '{text_a} {mask}', verbalizer: {label_words: {a: x}}, metric: mcc}");
  EXPECT_EQ(plain.type, "classification");
  EXPECT_EQ(plain.template_text, "{text_a} {mask}");
  EXPECT_EQ(plain.verbalizer->mode, ScoringMode::kAuto);
  EXPECT_THAT(plain.metrics, ElementsAre("mcc"));
  EXPECT_FALSE(plain.data.has_value());
}

TEST(TaskConfig, Errors) {
  std::string type = error_of([] { decode("{type: clasification}"); });
  EXPECT_THAT(type, HasSubstr("task.type (from configs/task/test.yaml): unknown task type 'clasification'"));
  EXPECT_THAT(type, HasSubstr("did you mean classification"));
  EXPECT_THAT(type, HasSubstr("classification, generation, lm, pair_classification, token_classification"));
  std::string name = error_of([] { decode("{templates: {pet0: x, pet1: y}, template_name: pet2}"); });
  EXPECT_THAT(name, HasSubstr("task.template_name"));
  EXPECT_THAT(name, HasSubstr("no template named 'pet2'"));
  EXPECT_THAT(name, HasSubstr("task.templates has: pet0, pet1"));
  EXPECT_THAT(error_of([] { decode("{verbalizer_name: head}"); }), HasSubstr("task.verbalizers has: nothing"));
  std::string metric = error_of([] { decode("{metric: [accuracy, f1]}"); });
  EXPECT_THAT(metric, HasSubstr("task.metric"));
  EXPECT_THAT(metric, HasSubstr("unknown metric 'f1'"));
  std::string key = error_of([] { decode("{temlate: x}"); });
  EXPECT_THAT(key, HasSubstr("unknown key 'task.temlate'"));
  EXPECT_THAT(key, HasSubstr("did you mean task.template"));
  EXPECT_THAT(error_of([] { decode("{max_length: -1}"); }), HasSubstr("max_length must be >= 0"));
  EXPECT_THAT(error_of([] { decode("{verbalizer: {mode: mlm, label_words: {a: x}, reduce: mean}}"); }),
              HasSubstr("unknown key 'task.verbalizer.reduce'"));
  EXPECT_THAT(error_of([] { decode("{verbalizers: {v: {mode: nope}}}"); }), HasSubstr("task.verbalizers.v.mode"));
  EXPECT_THAT(error_of([] { decode("{task_names: []}"); }),
              HasSubstr("task.task_names (from configs/task/test.yaml): an empty list"));
  EXPECT_THAT(error_of([] { decode("{task_names: [a, b, a]}"); }),
              HasSubstr("'a' is listed twice (ids 0 and 2); task names must be distinct"));
}

// Mixed-task data: task_names + each example's meta.task give the rendered example its task id, and a
// batch carries them (all rows or none).
TEST(TaskConfig, TaskNamesGiveEachExampleItsTaskId) {
  EXPECT_THAT(decode("{task_names: [nli, sentiment]}").task_names, ElementsAre("nli", "sentiment"));
  const text::Tokenizer* tokenizer = testing::shared_tokenizer(testing::kGpt2);
  if (tokenizer == nullptr) GTEST_SKIP() << "../shared not found: " << testing::shared_path(testing::kGpt2);
  const auto task = make_task(decode("{template: '{text_a} {mask}', task_names: [nli, sentiment], "
                                     "verbalizer: {label_words: {neg: bad, pos: good}}}"),
                              *tokenizer, decoder_only());
  data::Example e;
  e.text_a = "a b";
  e.label_name = "pos";
  e.meta["task"] = "sentiment";
  const RenderedExample sentiment = task->encode(e, Purpose::kTrain);
  EXPECT_EQ(sentiment.task_id, 1);
  e.meta["task"] = "nli";
  const RenderedExample nli = task->encode(e, Purpose::kTrain);
  EXPECT_EQ(nli.task_id, 0);
  const Batch batch = collate({sentiment, nli, sentiment}, CollateOptions{});
  ASSERT_TRUE(batch.task_ids.defined());
  EXPECT_TRUE(at::equal(batch.task_ids, at::tensor(std::vector<int64_t>{1, 0, 1}, at::kLong)));
  e.meta.erase("task");
  EXPECT_THAT(error_of([&] { task->encode(e, Purpose::kTrain); }),
              HasSubstr("an example has no task name but task.task_names lists the tasks nli, sentiment; map its "
                        "task column with data.fields.meta.task"));
  RenderedExample bare = nli;
  bare.task_id = -1;
  EXPECT_THAT(error_of([&] { collate({nli, bare}, CollateOptions{}); }),
              HasSubstr("batch row 1 has no task id but row 0 has one; a mixed-task batch needs a task id on every "
                        "example"));
  const auto plain = make_task(decode("{template: '{text_a} {mask}', verbalizer: {label_words: {neg: bad, pos: good}}}"),
                               *tokenizer, decoder_only());
  EXPECT_EQ(plain->encode(e, Purpose::kTrain).task_id, -1);
  EXPECT_FALSE(collate({plain->encode(e, Purpose::kTrain)}, CollateOptions{}).task_ids.defined());
}

TEST(TaskRegistry, HoldsTheBuiltInTypesOnce) {
  register_builtin_tasks();
  register_builtin_tasks();  // a second call adds nothing (and does not throw on duplicates)
  EXPECT_THAT(task_registry().names(),
              ElementsAre("classification", "generation", "lm", "pair_classification", "token_classification"));
  EXPECT_THAT(task_registry().description("generation"), HasSubstr("Alpaca"));
}

// ---- the real configs ---------------------------------------------------------------------------------

TEST(TaskConfigs, EveryTaskFileDecodesAndBuildsForBothBackboneKinds) {
  PTLAB_SHARED_TOKENIZER(bert, testing::kBert);
  PTLAB_SHARED_TOKENIZER(gpt2, testing::kGpt2);
  for (const std::string& name : kTaskNames) {
    SCOPED_TRACE(name);
    TaskConfig c = real_task(name);
    EXPECT_EQ(c.name, name);
    ASSERT_TRUE(c.data.has_value());
    EXPECT_FALSE(c.template_text.empty());
    EXPECT_FALSE(c.metrics.empty());
    const std::vector<std::string> labels = data::label_space(*c.data).names();
    if (name == "chnsenticorp") {  // English BERT has no Chinese label words: a clear Error, not a crash
      EXPECT_THAT(error_of([&] { make_task(c, bert, encoder_only()); }),
                  HasSubstr("the unknown token — the tokenizer from"));
      std::unique_ptr<Task> causal = make_task(c, gpt2, decoder_only());
      EXPECT_EQ(causal->class_names(), labels);
      EXPECT_EQ(causal->verbalizer()->vocab_rows().size(0), 4);  // 差 and 好 are two byte tokens each
      continue;
    }
    std::unique_ptr<Task> mlm = make_task(c, bert, encoder_only());
    if (mlm->verbalizer() != nullptr) {
      EXPECT_EQ(mlm->verbalizer()->mode(), ScoringMode::kMlm);
      EXPECT_EQ(mlm->class_names(), labels);  // the data's class order
    }
    if (c.type == "token_classification") {  // macro_f1 over tags needs the tag set (learned from the data)
      data::Example tagged;
      tagged.tokens = {"the", "jury"};
      tagged.tags = {"at", "nn"};
      mlm->learn_labels({tagged});
    }
    EXPECT_NO_THROW(mlm->make_metrics());
    if (name == "trec") {  // the answer comes first: causal LMs need the alternative template
      EXPECT_THAT(error_of([&] { make_task(c, gpt2, decoder_only()); }), HasSubstr("task.template_name"));
      c = real_task(name, {"task.template_name=answer_type"});
    }
    std::unique_ptr<Task> causal = make_task(c, gpt2, decoder_only());
    if (causal->verbalizer() != nullptr) {
      EXPECT_EQ(causal->verbalizer()->mode(), ScoringMode::kNextToken);
    }
    // Every alternative template parses, every alternative verbalizer builds.
    for (const auto& [alt, text] : c.templates) {
      if (name == "trec" && alt == "answer_type") continue;
      EXPECT_NO_THROW(make_task(real_task(name, {"task.template_name=" + alt}), bert, encoder_only())) << alt;
    }
    for (const auto& [alt, v] : c.verbalizers)
      EXPECT_NO_THROW(make_task(real_task(name, {"task.verbalizer_name=" + alt}), bert, encoder_only())) << alt;
  }
}

TEST(TaskConfigs, Sst2DevRendersWithTheRightLabelsAndMask) {
  PTLAB_SHARED_TOKENIZER(bert, testing::kBert);
  PTLAB_SHARED_TOKENIZER(gpt2, testing::kGpt2);
  TaskConfig c = real_task("sst2");
  data::Dataset ds = data::Dataset::load(*c.data, {"dev"});
  const auto& dev = ds.split("dev");
  ASSERT_EQ(dev.size(), 872u);
  auto task = make_task(c, bert, encoder_only());
  auto causal = make_task(c, gpt2, decoder_only());
  for (const data::Example& ex : dev) {
    RenderedExample r = task->encode(ex, Purpose::kEval);
    ASSERT_EQ(r.label, ex.label_id);
    ASSERT_GE(r.mask_position, 1);
    EXPECT_EQ(r.input_ids[static_cast<std::size_t>(r.mask_position)], bert.mask_id());
    EXPECT_EQ(r.input_ids.front(), bert.cls_id());
    EXPECT_EQ(r.input_ids.back(), bert.sep_id());
    EXPECT_LE(r.length, 128);
    RenderedExample g = causal->encode(ex, Purpose::kEval);
    EXPECT_EQ(g.label, ex.label_id);
    EXPECT_EQ(causal->verbalizer()->answer_position(g), g.mask_position - 1);
  }
  // The rendered text is the LM-BFF pattern around the sentence.
  RenderedExample first = task->encode(dev[0], Purpose::kEval);
  const auto expected = bert.encode(dev[0].text_a + " It was [MASK].", true).ids;
  EXPECT_EQ(first.input_ids, std::vector<int64_t>(expected.begin(), expected.end()));
}

TEST(TaskConfigs, RteTruncatesThePremiseToMaxLength) {
  PTLAB_SHARED_TOKENIZER(bert, testing::kBert);
  TaskConfig c = real_task("rte", {"task.max_length=48"});
  data::Dataset ds = data::Dataset::load(*c.data, {"dev"});
  auto task = make_task(c, bert, encoder_only());
  int truncated = 0;
  for (const data::Example& ex : ds.split("dev")) {
    RenderedExample r = task->encode(ex, Purpose::kEval);
    ASSERT_LE(r.length, 48);
    ASSERT_GE(r.mask_position, 0);
    EXPECT_EQ(r.input_ids[static_cast<std::size_t>(r.mask_position)], bert.mask_id());
    truncated += r.truncated ? 1 : 0;
  }
  EXPECT_GT(truncated, 100);  // most RTE premises are longer than that
}

// A linear head with pooling mask reads BERT's [MASK], but on a causal LM the state that predicts the {mask}
// slot (the next_token verbalizer's answer position), not the slot's placeholder token: reading the placeholder
// held a linear probe on the ladder to 0.55-0.60 test accuracy, reading the state before it 0.98.
TEST(TaskConfigs, LinearHeadOnACausalModelReadsTheStateBeforeTheMask) {
  PTLAB_SHARED_TOKENIZER(bert, testing::kBert);
  PTLAB_SHARED_TOKENIZER(gpt2, testing::kGpt2);
  TaskConfig c = real_task("sst2", {"task.verbalizer_name=linear_head"});
  data::Example ex;
  ex.text_a = "a fine film";
  ex.label = 1;
  for (const bool causal : {false, true}) {
    auto task = causal ? make_task(c, gpt2, decoder_only()) : make_task(c, bert, encoder_only());
    const RenderedExample r = task->encode(ex, Purpose::kEval);
    ASSERT_GE(r.mask_position, 1);
    EXPECT_EQ(task->verbalizer()->head_position(r), causal ? r.mask_position - 1 : r.mask_position) << causal;
  }
}

TEST(TaskConfigs, BrownPosLabelsFirstSubTokens) {
  PTLAB_SHARED_TOKENIZER(bert, testing::kBert);
  TaskConfig c = real_task("brown_pos", {"task.data.limit=300"});
  data::Dataset ds = data::Dataset::load(*c.data, {"train"});
  auto task = make_task(c, bert, encoder_only());
  const auto& train = ds.split("train");
  task->learn_labels(train);
  ASSERT_GT(task->num_classes(), 20);
  for (const data::Example& ex : train) {
    RenderedExample r = task->encode(ex, Purpose::kTrain);
    int64_t labelled = 0;
    for (int64_t label : r.token_labels) labelled += label != -100 ? 1 : 0;
    int64_t kept = 0;
    for (std::size_t w = 0; w < r.word_starts.size(); ++w) {
      if (r.word_starts[w] < 0) continue;
      ++kept;
      EXPECT_EQ(
          task->class_names()[static_cast<std::size_t>(r.token_labels[static_cast<std::size_t>(r.word_starts[w])])],
          ex.tags[w]);
    }
    EXPECT_EQ(labelled, kept);
    if (!r.truncated) {
      EXPECT_EQ(kept, static_cast<int64_t>(ex.tokens.size()));
    }
  }
}

}  // namespace
}  // namespace ptlab::tasks
