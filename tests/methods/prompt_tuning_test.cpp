#include "methods/prompt_tuning/prompt_tuning.h"

#include "framework/io/safetensors.h"
#include "methods/prompt_tuning/prompt_init.h"
#include "tasks/batch.h"
#include "tasks/objective.h"
#include "tests/methods/methods_test_support.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

namespace ptlab::methods {
namespace {

using ::testing::ElementsAre;
using testing::error_of;
using testing::Fixture;
using ::testing::HasSubstr;

PromptTuningConfig decode(const std::string& yaml) {
  static config::Origins origins;
  YAML::Node node = YAML::Load(yaml);
  origins.set_subtree("method", node, "configs/method/test.yaml");
  return PromptTuningConfig::decode(config::Reader(node, "method", origins));
}

PromptTuning& as_prompt_tuning(Method& method) {
  auto* pt = dynamic_cast<PromptTuning*>(&method);
  EXPECT_NE(pt, nullptr);
  return *pt;
}

// Renders `texts` with the fixture's task and puts the method's front tokens in front.
std::vector<tasks::RenderedExample> render(const Fixture& f, const Method& method,
                                           const std::vector<std::string>& texts) {
  std::vector<tasks::RenderedExample> rendered;
  const int64_t front = method.front_soft_tokens(f.task->prompt());
  for (const std::string& text : texts) {
    data::Example example;
    example.text_a = text;
    example.label_name = "positive";
    tasks::RenderedExample r = f.task->encode(example, tasks::Purpose::kTrain);
    if (front > 0) tasks::prepend_soft_tokens(r, front, tasks::Template::placeholder_id(f.tokenizer()));
    rendered.push_back(std::move(r));
  }
  return rendered;
}

tasks::Batch render_batch(const Fixture& f, const Method& method, const std::vector<std::string>& texts) {
  tasks::CollateOptions options;
  options.pad_id = std::max(f.tokenizer().pad_id(), 0);
  return tasks::collate(render(f, method, texts), options);
}

// Checks that inputs_embeds holds prompt row i at soft position i and the token embeddings elsewhere.
void expect_placed(const Fixture& f, const PromptTuning& method, const tasks::Batch& batch,
                   const models::BackboneInput& input) {
  ASSERT_TRUE(input.inputs_embeds.defined());
  EXPECT_FALSE(input.input_ids.defined());
  const at::Tensor embeds = input.inputs_embeds.detach();
  const at::Tensor tokens = f.backbone().embed(batch.input_ids);  // [B, T, d]
  at::Tensor is_soft = at::zeros(batch.input_ids.sizes(), at::kBool);
  for (int64_t b = 0; b < batch.size(); ++b) {
    for (int64_t i = 0; i < batch.num_soft_tokens(); ++i) {
      const int64_t p = batch.soft_positions[b][i].item<int64_t>();
      EXPECT_TRUE(at::equal(embeds[b][p], method.prompt_embeddings()[i].detach())) << "row " << b << " slot " << i;
      is_soft[b][p] = true;
    }
  }
  const at::Tensor keep = is_soft.logical_not().unsqueeze(2).expand_as(embeds);
  EXPECT_TRUE(at::equal(embeds.masked_select(keep), tokens.masked_select(keep)));
  EXPECT_TRUE(at::equal(input.attention_mask, batch.attention_mask));
}

// ---- config --------------------------------------------------------------------------------------------

TEST(PromptTuningConfig, Defaults) {
  const PromptTuningConfig c = decode("{name: prompt_tuning}");
  EXPECT_EQ(c.length, 20);
  EXPECT_EQ(c.init, PromptInit::kSampledVocab);
  EXPECT_EQ(c.init_range, 0.5);
  EXPECT_EQ(c.init_std, 1.0);
  EXPECT_EQ(c.sample_top_k, 5000);
  EXPECT_FALSE(c.init_text.has_value());
  EXPECT_FALSE(c.init_file.has_value());
  EXPECT_EQ(c.where, "method");
  const PromptTuningConfig t = decode("{length: null, init: text, init_text: 'Classify:', init_range: 0.1}");
  EXPECT_FALSE(t.length.has_value());
  EXPECT_EQ(t.init, PromptInit::kText);
  EXPECT_EQ(*t.init_text, "Classify:");
  EXPECT_EQ(t.init_range, 0.1);
  EXPECT_THAT(prompt_init_names(), ElementsAre("uniform", "normal", "sampled_vocab", "text", "class_label", "file", "mask"));
}

TEST(PromptTuningConfig, Errors) {
  EXPECT_THAT(error_of([] { decode("{length: 0}"); }),
              HasSubstr("method.length: the prompt needs at least 1 virtual token, got 0"));
  EXPECT_THAT(error_of([] { decode("{length: -4}"); }), HasSubstr("got -4"));
  const std::string init = error_of([] { decode("{init: sampled_vocb}"); });
  EXPECT_THAT(init, HasSubstr("method.init: unknown prompt init 'sampled_vocb' (did you mean sampled_vocab?)"));
  EXPECT_THAT(init, HasSubstr("known: uniform, normal, sampled_vocab, text, class_label, file, mask"));
  EXPECT_THAT(error_of([] { decode("{init: text}"); }),
              HasSubstr("method.init_text: init text needs the words to start from; set method.init_text="));
  EXPECT_THAT(error_of([] { decode("{init: text, init_text: ''}"); }), HasSubstr("got an empty string"));
  EXPECT_THAT(error_of([] { decode("{init: file, init_file: null}"); }),
              HasSubstr("method.init_file: init file needs a prompt to start from"));
  EXPECT_THAT(error_of([] { decode("{init_range: 0}"); }), HasSubstr("method.init_range"));
  EXPECT_THAT(error_of([] { decode("{init_std: -1}"); }), HasSubstr("method.init_std"));
  EXPECT_THAT(error_of([] { decode("{sample_top_k: -1}"); }), HasSubstr("method.sample_top_k: must be >= 0"));
  const std::string key = error_of([] { decode("{lenght: 5}"); });
  EXPECT_THAT(key, HasSubstr("unknown key 'method.lenght' (configs/method/test.yaml)"));
  EXPECT_THAT(key, HasSubstr("did you mean method.length"));
  EXPECT_THAT(error_of([] { decode("{length: many}"); }), HasSubstr("method.length: expected an int, got 'many'"));
}

// ---- length ----------------------------------------------------------------------------------------------

TEST(PromptTuning, LengthComesFromTheTemplateOrGoesInFront) {
  PTLAB_METHOD_FIXTURE(f, "gpt2",
                       "{type: classification, template: '{soft:3} {text_a} {soft:2} It was {mask}.', "
                       "verbalizer: {label_words: {negative: [bad], positive: [good]}}}");
  auto method = testing::make_method_from("{name: prompt_tuning, length: null, init: uniform}", *f.context);
  EXPECT_EQ(as_prompt_tuning(*method).length(), 5);
  EXPECT_EQ(method->front_soft_tokens(f.task->prompt()), 0);
  EXPECT_EQ(method->front_soft_tokens(tasks::Template::parse("{text_a}")), 5);  // no slots: all in front
  auto same = testing::make_method_from("{name: prompt_tuning, length: 5, init: uniform}", *f.context);
  EXPECT_EQ(as_prompt_tuning(*same).length(), 5);
  const std::string e = error_of([&] { testing::make_method_from("{name: prompt_tuning, length: 20}", *f.context); });
  EXPECT_THAT(e, HasSubstr("method.length: is 20 but"));
  EXPECT_THAT(e, HasSubstr("has {soft:N} slots for 5 virtual tokens; set method.length=5"));
}

TEST(PromptTuning, NullLengthNeedsSoftSlots) {
  PTLAB_METHOD_FIXTURE(f, "gpt2", testing::kLmTask);
  auto method = testing::make_method_from("{name: prompt_tuning, length: 7, init: uniform}", *f.context);
  EXPECT_EQ(method->front_soft_tokens(f.task->prompt()), 7);
  EXPECT_THAT(error_of([&] { testing::make_method_from("{name: prompt_tuning, length: null}", *f.context); }),
              HasSubstr("method.length: null takes the prompt length from the template's {soft:N} slots, but"));
}

TEST(PromptTuning, LengthAndBatchMustFitTheModelsPositions) {
  PTLAB_METHOD_FIXTURE(f, "gpt2", testing::kLmTask);  // GPT-2: 256 positions
  EXPECT_THAT(error_of([&] { testing::make_method_from("{name: prompt_tuning, length: 300}", *f.context); }),
              HasSubstr("method.length: 300 virtual tokens do not fit the model's 256 positions (gpt2 max_positions)"));
  auto method = testing::make_method_from("{name: prompt_tuning, length: 8, init: normal}", *f.context);
  std::string long_text;
  for (int i = 0; i < 300; ++i) long_text += "word ";
  const tasks::Batch batch = render_batch(f, *method, {long_text});
  ASSERT_GT(batch.input_ids.size(1), 256);
  const std::string e = error_of([&] { method->prompt(batch); });
  EXPECT_THAT(e, HasSubstr("is longer than the model's 256 positions; lower task.max_length (to at most 248"));
}

TEST(PromptTuning, BatchMustHaveThePromptsSoftTokenCount) {
  PTLAB_METHOD_FIXTURE(f, "gpt2", testing::kLmTask);
  auto four = testing::make_method_from("{name: prompt_tuning, length: 4, init: normal}", *f.context);
  auto six = testing::make_method_from("{name: prompt_tuning, length: 6, init: normal}", *f.context);
  const tasks::Batch batch = render_batch(f, *four, {"a good film"});
  EXPECT_THAT(error_of([&] { six->prompt(batch); }),
              HasSubstr("prompt_tuning has 6 virtual tokens but the batch has 4 soft positions"));
}

// ---- initialisation --------------------------------------------------------------------------------------

TEST(PromptTuning, EveryInitGivesAFloat32ParameterOnTheBackbonesDevice) {
  PTLAB_METHOD_FIXTURE(f, "gpt2", testing::kSentimentTask);
  const std::string dir = std::filesystem::temp_directory_path() / ("ptlab_pt_inits_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  io::save_safetensors(dir + "/prompt.safetensors", {{"prompt", at::randn({6, 64})}});
  for (const std::string& init : prompt_init_names()) {
    SCOPED_TRACE(init);
    auto method = testing::make_method_from("{name: prompt_tuning, length: 6, init: " + init +
                                                ", init_text: 'a great movie', init_file: " + dir +
                                                "/prompt.safetensors, sample_top_k: 100}",
                                            *f.context);
    const NamedTensors params = method->trainable_parameters();
    ASSERT_EQ(params.size(), 1u);
    EXPECT_EQ(params[0].first, "prompt");
    EXPECT_EQ(params[0].second.sizes(), (std::vector<int64_t>{6, 64}));
    EXPECT_EQ(params[0].second.scalar_type(), at::kFloat);
    EXPECT_EQ(params[0].second.device(), f.backbone().device());
    EXPECT_TRUE(params[0].second.requires_grad());
    EXPECT_TRUE(params[0].second.isfinite().all().item<bool>());
    EXPECT_TRUE(method->trains());
    EXPECT_FALSE(method->trains_backbone());
    EXPECT_EQ(method->head(), nullptr);
  }
  std::filesystem::remove_all(dir);
}

TEST(PromptTuning, SampledVocabRowsAreAmongTheFirstKEmbeddings) {
  PTLAB_METHOD_FIXTURE(f, "gpt2", testing::kLmTask);
  auto method = testing::make_method_from("{name: prompt_tuning, length: 10, sample_top_k: 50}", *f.context);
  const at::Tensor p = as_prompt_tuning(*method).prompt_embeddings().detach();
  const at::Tensor first = f.backbone().word_embeddings().narrow(0, 0, 50);
  for (int64_t r = 0; r < 10; ++r) EXPECT_TRUE((first - p[r]).abs().sum(1).eq(0).any().item<bool>()) << r;
  // k beyond the vocabulary (the paper's 5,000 on a 512-token model) samples the whole vocabulary.
  auto whole = testing::make_method_from("{name: prompt_tuning, length: 10, sample_top_k: 5000}", *f.context);
  const at::Tensor q = as_prompt_tuning(*whole).prompt_embeddings().detach();
  const at::Tensor all = f.backbone().word_embeddings();
  for (int64_t r = 0; r < 10; ++r) EXPECT_TRUE((all - q[r]).abs().sum(1).eq(0).any().item<bool>()) << r;
  EXPECT_THAT(error_of([&] { testing::make_method_from("{name: prompt_tuning, sample_top_k: -1}", *f.context); }),
              HasSubstr("method.sample_top_k"));
}

TEST(PromptTuning, ClassLabelInitStartsFromTheLabelWords) {
  PTLAB_METHOD_FIXTURE(f, "gpt2", testing::kSentimentTask);
  auto method =
      testing::make_method_from("{name: prompt_tuning, length: 5, init: class_label, sample_top_k: 100}", *f.context);
  const at::Tensor expected = f.task->verbalizer()->class_label_embeddings(f.backbone().word_embeddings());  // [2, d]
  EXPECT_TRUE(at::allclose(as_prompt_tuning(*method).prompt_embeddings().detach().narrow(0, 0, 2), expected));

  Fixture lm = testing::fixture("gpt2", testing::kLmTask);
  EXPECT_THAT(error_of([&] {
                testing::make_method_from("{name: prompt_tuning, init: class_label, sample_top_k: 0}", *lm.context);
              }),
              HasSubstr("method.init: class_label init takes the label words of a classification task's verbalizer, "
                        "but task test is of type lm"));
}

TEST(PromptTuning, SameSeedSamePromptOtherSeedOtherPrompt) {
  PTLAB_METHOD_FIXTURE(f, "gpt2", testing::kSentimentTask);
  for (const std::string init : {"uniform", "normal", "sampled_vocab", "class_label"}) {
    SCOPED_TRACE(init);
    const std::string yaml = "{name: prompt_tuning, length: 12, sample_top_k: 400, init: " + std::string(init) + "}";
    MethodContext seven{f.backbone(), f.tokenizer(), *f.task, 7};
    MethodContext eight{f.backbone(), f.tokenizer(), *f.task, 8};
    auto a = testing::make_method_from(yaml, seven);
    auto b = testing::make_method_from(yaml, seven);
    auto c = testing::make_method_from(yaml, eight);
    EXPECT_TRUE(at::equal(as_prompt_tuning(*a).prompt_embeddings(), as_prompt_tuning(*b).prompt_embeddings()));
    EXPECT_FALSE(at::equal(as_prompt_tuning(*a).prompt_embeddings(), as_prompt_tuning(*c).prompt_embeddings()));
  }
}

TEST(PromptTuning, FileInitTransfersAnExportedPromptAndAPeftAdapter) {
  PTLAB_METHOD_FIXTURE(f, "gpt2", testing::kLmTask);
  auto trained = testing::make_method_from("{name: prompt_tuning, length: 8, init: normal}", *f.context);
  const auto state = trained->export_state();
  ASSERT_EQ(state.size(), 1u);
  const std::string path =
      std::filesystem::temp_directory_path() / ("ptlab_pt_transfer_" + std::to_string(::getpid()) + ".safetensors");
  io::save_safetensors(path, {{"prompt", state.at("prompt")}});
  auto loaded =
      testing::make_method_from("{name: prompt_tuning, length: 8, init: file, init_file: " + path + "}", *f.context);
  EXPECT_TRUE(at::equal(as_prompt_tuning(*loaded).prompt_embeddings(), state.at("prompt")));
  const std::string e = error_of([&] {
    testing::make_method_from("{name: prompt_tuning, length: 4, init: file, init_file: " + path + "}", *f.context);
  });
  EXPECT_THAT(e, HasSubstr("method.init_file: tensor 'prompt' of " + path +
                           " holds a prompt of shape [8, 64], but "
                           "this prompt is [4, 64]"));
  std::filesystem::remove(path);
  EXPECT_THAT(error_of([&] {
                testing::make_method_from("{name: prompt_tuning, length: 8, init: file, init_file: " + path + "}",
                                          *f.context);
              }),
              HasSubstr("does not exist"));

  const std::string adapter = testing::shared_path("golden/peft/gpt2/prompt_text/adapter_final");
  auto peft =
      testing::make_method_from("{name: prompt_tuning, length: 8, init: file, init_file: " + adapter + "}", *f.context);
  EXPECT_TRUE(at::equal(as_prompt_tuning(*peft).prompt_embeddings(),
                        io::load_safetensors(adapter + "/adapter_model.safetensors").at("prompt_embeddings")));
}

// TEXT init reproduces PEFT's initial prompt exactly, for every golden run that has one.
TEST(PromptTuning, TextInitIsPeftsTextInit) {
  const std::string init_text = "Decide if the review is positive or negative:";
  int checked = 0;
  for (const std::string run : {"gpt2", "gpt_neox", "llama", "stories260K", "t5", "bert_seqcls", "bert_mlm"}) {
    SCOPED_TRACE(run);
    const std::string dir = testing::shared_path("golden/peft/" + run + "/prompt_text");
    if (!std::filesystem::exists(dir + "/result.json")) continue;
    std::ifstream in(dir + "/result.json");
    const nlohmann::json result = nlohmann::json::parse(in);
    testing::SharedModel* model =
        testing::shared_model(testing::shared_path(result.at("base_model").get<std::string>()));
    if (model == nullptr) continue;
    const auto task = testing::make_task(testing::kLmTask, *model->tokenizer, model->backbone->info());
    const MethodContext context{*model->backbone, *model->tokenizer, *task, 0};
    auto method = testing::make_method_from(
        "{name: prompt_tuning, length: 8, init: text, init_text: '" + init_text + "'}", context);
    const auto& pt = as_prompt_tuning(*method);
    EXPECT_EQ(pt.init_token_ids(), result.at("init_text_token_ids").get<std::vector<int64_t>>());
    const at::Tensor peft =
        io::load_safetensors(dir + "/adapter_init/adapter_model.safetensors").at("prompt_embeddings");
    EXPECT_TRUE(at::equal(pt.prompt_embeddings(), peft.narrow(0, 0, 8)));
    if (model->backbone->info().is_encoder_decoder) {
      // PEFT's seq2seq table has 16 rows, from the same ids continued: the rule is the same for 2n.
      const auto ids16 = text_init_ids(*model->tokenizer, init_text, 16, "t5");
      EXPECT_TRUE(at::equal(embedding_rows(model->backbone->word_embeddings(), ids16, "t5"), peft));
      EXPECT_EQ(pt.peft_prompt_embeddings().sizes(), (std::vector<int64_t>{16, 64}));
    }
    ++checked;
  }
  if (checked == 0) GTEST_SKIP() << "../shared not found: no golden/peft/*/prompt_text";
  EXPECT_EQ(checked, 7);
}

// ---- prompt() ----------------------------------------------------------------------------------------------

TEST(PromptTuning, FrontPromptIsPeftsLayout) {
  PTLAB_METHOD_FIXTURE(f, "gpt2", testing::kLmTask);
  auto method = testing::make_method_from("{name: prompt_tuning, length: 4, init: normal}", *f.context);
  const tasks::Batch batch = render_batch(f, *method, {"a good film", "the plot was rather dull and slow"});
  EXPECT_TRUE(at::equal(batch.soft_positions, at::arange(4).expand({2, 4})));
  const models::BackboneInput input = method->prompt(batch);
  expect_placed(f, as_prompt_tuning(*method), batch, input);
  // [prompt][tokens][pads]: the prompt is at 0..n-1 with attention 1.
  EXPECT_TRUE(at::equal(input.attention_mask.narrow(1, 0, 4), at::ones({2, 4}, at::kLong)));
  EXPECT_TRUE(at::equal(batch.token_labels.narrow(1, 0, 4), at::full({2, 4}, tasks::kIgnoreIndex, at::kLong)));
  EXPECT_FALSE(input.token_type_ids.defined());  // GPT-2 has none
}

TEST(PromptTuning, RowsGoToMiddleAndSeveralGroups) {
  for (const std::string tmpl : {"{text_a} {soft:3} It was {mask}.", "{soft:2} {text_a} {soft:3} It was {mask}."}) {
    SCOPED_TRACE(tmpl);
    PTLAB_METHOD_FIXTURE(f, "gpt2",
                         "{type: classification, template: '" + tmpl +
                             "', verbalizer: {label_words: {negative: [bad], positive: [good]}}}");
    auto method = testing::make_method_from("{name: prompt_tuning, length: null, init: uniform}", *f.context);
    const tasks::Batch batch = render_batch(f, *method, {"a good film", "the plot was rather dull and slow"});
    ASSERT_EQ(batch.num_soft_tokens(), as_prompt_tuning(*method).length());
    EXPECT_GT(batch.soft_positions.max().item<int64_t>(), 2);  // not a front prompt
    expect_placed(f, as_prompt_tuning(*method), batch, method->prompt(batch));
  }
}

TEST(PromptTuning, GradientsReachOnlyThePrompt) {
  PTLAB_METHOD_FIXTURE(f, "gpt2",
                       "{type: classification, template: '{text_a} {soft:3} It was {mask}.', "
                       "verbalizer: {label_words: {negative: [bad], positive: [good]}}}");
  auto method = testing::make_method_from("{name: prompt_tuning, length: null, init: normal}", *f.context);
  auto& pt = as_prompt_tuning(*method);
  const tasks::Batch batch = render_batch(f, *method, {"a good film", "the plot was rather dull and slow"});
  // A linear read-out R: d(sum(embeds * R)) / d(prompt row i) = sum over rows b of R[b, position of i].
  const models::BackboneInput input = method->prompt(batch);
  const at::Tensor r = at::randn(input.inputs_embeds.sizes());
  (input.inputs_embeds * r).sum().backward();
  at::Tensor expected = at::zeros({3, 64});
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t i = 0; i < 3; ++i) expected[i] += r[b][batch.soft_positions[b][i].item<int64_t>()];
  EXPECT_TRUE(at::allclose(pt.prompt_embeddings().grad(), expected, 1e-5, 1e-6));
  pt.prompt_embeddings().mutable_grad().reset();

  // Through the frozen model and the task's loss: the prompt gets a gradient, the backbone none.
  tasks::Objective objective(*f.task, f.backbone().info());
  const tasks::Batch scored = objective.collate(render(f, *method, {"a good film", "the plot was rather dull"}));
  models::BackboneInput in = method->prompt(scored);
  objective.request(scored, in);
  const models::BackboneOutput out = f.backbone().forward(in);
  objective.loss(out, scored).backward();
  ASSERT_TRUE(pt.prompt_embeddings().grad().defined());
  EXPECT_GT(pt.prompt_embeddings().grad().abs().sum().item<double>(), 0.0);
  for (const auto& p : f.backbone().parameters()) {
    EXPECT_FALSE(p.requires_grad());
    EXPECT_FALSE(p.grad().defined());
  }
}

// Mixed-task batches: num_tasks 2 gives each row its own task's prompt, so a batch mixing the tasks gives
// each example exactly what it gets alone.
TEST(PromptTuning, MixedTaskBatchGivesEachExampleItsTasksPrompt) {
  PTLAB_METHOD_FIXTURE(f, "gpt2",
                       "{type: classification, template: '{text_a} It was {mask}.', task_names: [sentiment, topic], "
                       "verbalizer: {label_words: {negative: [bad], positive: [good]}}}");
  auto method = testing::make_method_from("{name: prompt_tuning, length: 4, init: normal, num_tasks: null}", *f.context);
  auto& pt = as_prompt_tuning(*method);
  ASSERT_EQ(pt.num_tasks(), 2);
  ASSERT_EQ(pt.length(), 4);
  EXPECT_THAT(pt.prompt_embeddings().sizes(), ElementsAre(8, 64));
  EXPECT_FALSE(at::equal(pt.task_prompt(0), pt.task_prompt(1)));  // each task draws its own prompt

  const std::vector<std::pair<std::string, std::string>> rows = {
      {"a good film", "sentiment"}, {"the plot was rather dull and slow", "topic"}, {"fun", "topic"}};
  tasks::Objective objective(*f.task, f.backbone().info());
  auto encode = [&](const std::vector<std::pair<std::string, std::string>>& texts) {
    std::vector<tasks::RenderedExample> rendered;
    for (const auto& [text, task] : texts) {
      data::Example example;
      example.text_a = text;
      example.label_name = "positive";
      example.meta["task"] = task;
      tasks::RenderedExample r = f.task->encode(example, tasks::Purpose::kTrain);
      tasks::prepend_soft_tokens(r, method->front_soft_tokens(f.task->prompt()),
                                 tasks::Template::placeholder_id(f.tokenizer()));
      rendered.push_back(std::move(r));
    }
    return objective.collate(rendered);
  };
  auto loss_of = [&](const tasks::Batch& batch) {
    at::NoGradGuard no_grad;
    models::BackboneInput in = method->prompt(batch);
    objective.request(batch, in);
    return objective.loss(f.backbone().forward(in), batch).item<double>();
  };
  const tasks::Batch mixed = encode(rows);
  ASSERT_TRUE(mixed.task_ids.defined());
  EXPECT_TRUE(at::equal(mixed.task_ids, at::tensor(std::vector<int64_t>{0, 1, 1}, at::kLong)));
  {
    at::NoGradGuard no_grad;
    const at::Tensor embeds = method->prompt(mixed).inputs_embeds;
    for (int64_t b = 0; b < 3; ++b)
      EXPECT_TRUE(at::equal(embeds[b].narrow(0, 0, 4), pt.task_prompt(mixed.task_ids[b].item<int64_t>())))
          << "row " << b;
  }
  double alone = 0;
  for (const auto& row : rows) alone += loss_of(encode({row})) / 3.0;
  EXPECT_NEAR(loss_of(mixed), alone, 1e-5 * std::abs(alone));
  // The task decides: the same texts all as `sentiment` score differently.
  EXPECT_GT(std::abs(loss_of(encode({{rows[0].first, "sentiment"}, {rows[1].first, "sentiment"},
                                     {rows[2].first, "sentiment"}})) - loss_of(mixed)), 1e-4);

  // Bad inputs: an unknown task name, a batch without task ids, an id out of range, num_tasks 0.
  EXPECT_THAT(testing::error_of([&] { encode({{"a", "sentimnt"}}); }),
              HasSubstr("task test: an example is of task 'sentimnt' (did you mean sentiment?), which task.task_names "
                        "does not list (it has sentiment, topic)"));
  tasks::Batch bare = mixed;
  bare.task_ids = at::Tensor();
  EXPECT_THAT(testing::error_of([&] { method->prompt(bare); }),
              HasSubstr("method.num_tasks is 2 but the batch carries no task ids"));
  tasks::Batch wrong = mixed;
  wrong.task_ids = at::tensor(std::vector<int64_t>{0, 2, 1}, at::kLong);
  EXPECT_EQ(testing::error_of([&] { method->prompt(wrong); }),
            "batch row 1 has task id 2 but method.num_tasks is 2; task ids run from 0 to 1");
  // num_tasks 1 shares one prompt across the tasks of a mixed batch.
  auto shared = testing::make_method_from("{name: prompt_tuning, length: 4, init: normal, num_tasks: 1}", *f.context);
  {
    at::NoGradGuard no_grad;
    const at::Tensor embeds = shared->prompt(mixed).inputs_embeds;
    for (int64_t b = 0; b < 3; ++b)
      EXPECT_TRUE(at::equal(embeds[b].narrow(0, 0, 4), as_prompt_tuning(*shared).prompt_embeddings()));
  }
  EXPECT_THAT(testing::error_of([] { decode("{name: prompt_tuning, num_tasks: 0}"); }),
              HasSubstr("method.num_tasks: needs at least 1 task"));
  EXPECT_THAT(testing::error_of([&] {
                testing::make_method_from("{name: prompt_tuning, length: 4, num_tasks: 3}", *f.context);
              }),
              HasSubstr("method.num_tasks: is 3 but task.task_names lists 2 tasks (sentiment, topic)"));

  // One PEFT adapter per task, named by the task.
  const auto dir = std::filesystem::temp_directory_path() / "ptlab_pt_mixed_export";
  std::filesystem::remove_all(dir);
  method->save_exports(dir.string());
  EXPECT_TRUE(std::filesystem::exists(dir / "adapter" / "sentiment" / "adapter_model.safetensors"));
  EXPECT_TRUE(std::filesystem::exists(dir / "adapter" / "topic" / "adapter_config.json"));
  auto single = testing::make_method_from("{name: prompt_tuning, length: 4, init: normal}", *f.context);
  single->load_state((dir / "adapter" / "topic").string());
  EXPECT_TRUE(at::equal(as_prompt_tuning(*single).prompt_embeddings(), pt.task_prompt(1)));
  EXPECT_THAT(testing::error_of([&] { method->load_state((dir / "adapter" / "topic").string()); }),
              HasSubstr("a PEFT prompt-tuning adapter holds one prompt but method.num_tasks is 2"));
  std::filesystem::remove_all(dir);
}

TEST(PromptTuning, EncoderDecoderAndBertInputs) {
  {
    PTLAB_METHOD_FIXTURE(f, "t5", testing::kLmTask);
    auto method = testing::make_method_from("{name: prompt_tuning, length: 4, init: normal}", *f.context);
    tasks::Batch batch = render_batch(f, *method, {"a good film"});
    batch.decoder_input_ids = at::tensor({0, 5, 6}, at::kLong).view({1, 3});
    batch.decoder_attention_mask = at::ones({1, 3}, at::kLong);
    const models::BackboneInput input = method->prompt(batch);
    EXPECT_TRUE(at::equal(input.decoder_input_ids, batch.decoder_input_ids));
    EXPECT_TRUE(at::equal(input.decoder_attention_mask, batch.decoder_attention_mask));
    EXPECT_FALSE(input.token_type_ids.defined());  // T5 rejects token types
    expect_placed(f, as_prompt_tuning(*method), batch, input);
    const at::Tensor peft = as_prompt_tuning(*method).peft_prompt_embeddings();  // [2n, d]
    EXPECT_EQ(peft.sizes(), (std::vector<int64_t>{8, 64}));
    EXPECT_TRUE(at::equal(peft.narrow(0, 0, 4), as_prompt_tuning(*method).prompt_embeddings().detach()));
    EXPECT_TRUE(at::equal(peft.narrow(0, 4, 4), at::zeros({4, 64})));
    EXPECT_NO_THROW(f.backbone().forward(input));
  }
  {
    PTLAB_METHOD_FIXTURE(f, "bert", testing::kSentimentTask);
    auto method = testing::make_method_from("{name: prompt_tuning, length: 4, init: normal}", *f.context);
    const tasks::Batch batch = render_batch(f, *method, {"a good film"});
    const models::BackboneInput input = method->prompt(batch);
    ASSERT_TRUE(input.token_type_ids.defined());
    EXPECT_TRUE(at::equal(input.token_type_ids, batch.token_type_ids));
    EXPECT_EQ(as_prompt_tuning(*method).peft_prompt_embeddings().size(0), 4);
  }
}

}  // namespace
}  // namespace ptlab::methods
