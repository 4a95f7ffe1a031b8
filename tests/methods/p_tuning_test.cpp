// P-Tuning (methods/p_tuning): config errors, the encoder's shapes and seeded init, placement in front and at
// {soft:N} groups, the interleaved-slot reference of transformers (loss and every encoder gradient),
// mixed-task batches, prompt.safetensors round trips and mismatches, and PEFT adapters loaded as frozen
// output tables.
#include "methods/p_tuning/p_tuning.h"

#include "framework/io/safetensors.h"
#include "tasks/batch.h"
#include "tasks/objective.h"
#include "tests/methods/methods_test_support.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

namespace ptlab::methods {
namespace {

using testing::error_of;
using testing::Fixture;
using ::testing::HasSubstr;
using testing::make_method_from;

PTuningConfig decode(const std::string& yaml) {
  static config::Origins origins;
  YAML::Node node = YAML::Load(yaml);
  origins.set_subtree("method", node, "configs/method/test.yaml");
  return PTuningConfig::decode(config::Reader(node, "method", origins));
}

PTuning& as_p_tuning(Method& method) {
  auto* pt = dynamic_cast<PTuning*>(&method);
  EXPECT_NE(pt, nullptr);
  return *pt;
}

std::vector<tasks::RenderedExample> render(const Fixture& f, const Method& method,
                                           const std::vector<std::string>& texts,
                                           const std::vector<int64_t>& task_ids = {}) {
  std::vector<tasks::RenderedExample> rendered;
  const int64_t front = method.front_soft_tokens(f.task->prompt());
  for (std::size_t i = 0; i < texts.size(); ++i) {
    data::Example example;
    example.text_a = texts[i];
    example.label_name = "positive";
    tasks::RenderedExample r = f.task->encode(example, tasks::Purpose::kTrain);
    if (front > 0) tasks::prepend_soft_tokens(r, front, tasks::Template::placeholder_id(f.tokenizer()));
    if (!task_ids.empty()) r.task_id = task_ids[i];
    rendered.push_back(std::move(r));
  }
  return rendered;
}

tasks::Batch render_batch(const Fixture& f, const Method& method, const std::vector<std::string>& texts,
                          const std::vector<int64_t>& task_ids = {}) {
  tasks::CollateOptions options;
  options.pad_id = std::max(f.tokenizer().pad_id(), 0);
  return tasks::collate(render(f, method, texts, task_ids), options);
}

double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  EXPECT_EQ(a.sizes(), b.sizes());
  if (a.sizes() != b.sizes()) return 1e30;
  return (a.detach().to(at::kDouble) - b.detach().to(at::kDouble)).abs().max().item<double>();
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("ptlab_ptuning_" + name + "_" + std::to_string(::getpid())))
      .string();
}

constexpr const char* kInterleavedTask =
    "{type: classification, template: '{soft:2} {text_a} {soft:3} It was {mask}.', "
    "verbalizer: {label_words: {negative: [bad], positive: [good]}}}";

// ---- config --------------------------------------------------------------------------------------------

TEST(PTuningConfig, Defaults) {
  const PTuningConfig c = decode("{name: p_tuning}");
  EXPECT_EQ(c.length, 20);
  EXPECT_EQ(c.encoder, PromptEncoderType::kMlp);
  EXPECT_FALSE(c.encoder_hidden_size.has_value());
  EXPECT_EQ(c.lstm_layers(), 2);
  EXPECT_EQ(c.lstm_dropout(), 0.0);
  EXPECT_EQ(c.num_tasks, 1);
  EXPECT_EQ(c.init, "normal");
  const PTuningConfig lstm =
      decode("{encoder: lstm, encoder_hidden_size: 8, encoder_num_layers: 3, encoder_dropout: 0.1, num_tasks: 4}");
  EXPECT_EQ(lstm.encoder, PromptEncoderType::kLstm);
  EXPECT_EQ(lstm.encoder_hidden_size, 8);
  EXPECT_EQ(lstm.lstm_layers(), 3);
  EXPECT_EQ(lstm.lstm_dropout(), 0.1);
  EXPECT_EQ(lstm.num_tasks, 4);
}

TEST(PTuningConfig, Errors) {
  auto error = [](const std::string& yaml) { return error_of([&] { decode(yaml); }); };
  EXPECT_THAT(error("{length: 0}"), HasSubstr("method.length: the prompt needs at least 1 virtual token, got 0"));
  EXPECT_THAT(error("{encoder: lstn}"),
              HasSubstr("method.encoder: unknown prompt encoder 'lstn' (did you mean lstm?); known: mlp, lstm"));
  EXPECT_THAT(error("{encoder_hidden_size: 0}"),
              HasSubstr("method.encoder_hidden_size: the encoder's hidden size must be >= 1, got 0"));
  EXPECT_THAT(error("{num_tasks: 0}"), HasSubstr("method.num_tasks: must be >= 1"));
  EXPECT_THAT(error("{encoder_num_layers: 3}"),
              HasSubstr("method.encoder_num_layers: only the lstm encoder has it; the mlp is always"));
  EXPECT_THAT(error("{encoder_dropout: 0.1}"), HasSubstr("method.encoder_dropout: only the lstm encoder has it"));
  EXPECT_THAT(error("{encoder: lstm, encoder_num_layers: 0}"),
              HasSubstr("method.encoder_num_layers: the LSTM needs at least 1 layer, got 0"));
  EXPECT_THAT(error("{encoder: lstm, encoder_dropout: 1.0}"),
              HasSubstr("method.encoder_dropout: a dropout probability in [0, 1), got 1"));
  EXPECT_THAT(error("{init: fil}"), HasSubstr("method.init: unknown p_tuning init 'fil' (did you mean file?)"));
  EXPECT_THAT(error("{init: file}"), HasSubstr("method.init_file: init file needs a p_tuning prompt.safetensors"));
  EXPECT_THAT(error("{init_file: x.safetensors}"), HasSubstr("method.init_file: is set but method.init is 'normal'"));
  EXPECT_THAT(error("{lenght: 3}"), HasSubstr("lenght"));  // unknown keys (reader.finish)
}

TEST(PTuning, LengthComesFromTheTemplate) {
  PTLAB_METHOD_FIXTURE(f, "gpt2", kInterleavedTask);
  EXPECT_EQ(as_p_tuning(*make_method_from("{name: p_tuning, length: null}", *f.context)).length(), 5);
  EXPECT_EQ(make_method_from("{name: p_tuning, length: 5}", *f.context)->front_soft_tokens(f.task->prompt()), 0);
  EXPECT_THAT(error_of([&] { make_method_from("{name: p_tuning, length: 4}", *f.context); }),
              HasSubstr("has {soft:N} slots for 5 virtual tokens; set method.length=5"));
  PTLAB_METHOD_FIXTURE(lm, "gpt2", testing::kLmTask);
  EXPECT_THAT(error_of([&] { make_method_from("{name: p_tuning, length: null}", *lm.context); }),
              HasSubstr("method.length: null takes the prompt length from the template's {soft:N} slots"));
  EXPECT_EQ(make_method_from("{name: p_tuning, length: 7}", *lm.context)->front_soft_tokens(lm.task->prompt()), 7);
}

// ---- parameters and init -------------------------------------------------------------------------------

TEST(PTuning, ParametersArePeftsPromptEncoder) {
  PTLAB_METHOD_FIXTURE(f, "gpt2", testing::kLmTask);  // d = 64
  auto shapes = [&](const std::string& yaml) {
    std::map<std::string, std::vector<int64_t>> out;
    for (const auto& [name, p] : make_method_from(yaml, *f.context)->trainable_parameters()) {
      EXPECT_EQ(p.scalar_type(), at::kFloat) << name;
      EXPECT_TRUE(p.requires_grad()) << name;
      out[name] = p.sizes().vec();
    }
    return out;
  };
  using V = std::vector<int64_t>;
  EXPECT_EQ(shapes("{name: p_tuning, length: 6, encoder_hidden_size: 16}"),
            (std::map<std::string, V>{{"embedding", {6, 64}},
                                      {"mlp_head.0.weight", {16, 64}},
                                      {"mlp_head.0.bias", {16}},
                                      {"mlp_head.2.weight", {16, 16}},
                                      {"mlp_head.2.bias", {16}},
                                      {"mlp_head.4.weight", {64, 16}},
                                      {"mlp_head.4.bias", {64}}}));
  EXPECT_EQ(shapes("{name: p_tuning, length: 6}").at("mlp_head.2.weight"), (V{64, 64}));  // h defaults to d
  const auto lstm = shapes("{name: p_tuning, length: 6, encoder: lstm, encoder_hidden_size: 8, num_tasks: 3}");
  EXPECT_EQ(lstm.size(), 1u + 2 * 8 + 4);  // embedding, 2 layers x 2 directions x 4 tensors, 2 Linear layers
  EXPECT_EQ(lstm.at("embedding"), (V{18, 64}));
  EXPECT_EQ(lstm.at("lstm_head.weight_ih_l0"), (V{32, 64}));
  EXPECT_EQ(lstm.at("lstm_head.weight_ih_l1_reverse"), (V{32, 16}));
  EXPECT_EQ(lstm.at("lstm_head.weight_hh_l1"), (V{32, 8}));
  EXPECT_EQ(lstm.at("mlp_head.0.weight"), (V{16, 16}));
  EXPECT_EQ(lstm.at("mlp_head.2.weight"), (V{64, 16}));
}

TEST(PTuning, SameSeedSameEncoderOtherSeedOther) {
  PTLAB_METHOD_FIXTURE(f, "gpt2", testing::kLmTask);
  for (const std::string yaml : {"{name: p_tuning, length: 4, encoder_hidden_size: 8}",
                                 "{name: p_tuning, length: 4, encoder: lstm, encoder_hidden_size: 8}"}) {
    SCOPED_TRACE(yaml);
    MethodContext seven{f.backbone(), f.tokenizer(), *f.task, 7}, eight{f.backbone(), f.tokenizer(), *f.task, 8};
    auto a = make_method_from(yaml, seven)->export_state(), b = make_method_from(yaml, seven)->export_state(),
         c = make_method_from(yaml, eight)->export_state();
    for (const auto& [name, t] : a) {
      EXPECT_TRUE(at::equal(t, b.at(name))) << name;
      EXPECT_FALSE(at::equal(t, c.at(name))) << name;
    }
  }
}

// Seed 0 draws PEFT's initial embedding and encoder bit for bit (torch.manual_seed(0) before get_peft_model),
// tensor by tensor, for both encoders.
TEST(PTuning, SeededInitIsPeftsTensorByTensor) {
  PTLAB_METHOD_FIXTURE(f, "gpt2", testing::kLmTask);
  for (const std::string kind : {"mlp", "lstm"}) {
    SCOPED_TRACE(kind);
    const std::string golden =
        testing::shared_path("golden/peft/gpt2/ptuning_" + kind + "/init_full_state.safetensors");
    if (!std::filesystem::exists(golden)) GTEST_SKIP() << "no " << golden;
    const auto peft = io::load_safetensors(golden);
    auto method =
        make_method_from("{name: p_tuning, length: 8, encoder_hidden_size: 32, encoder: " + kind + "}", *f.context);
    int compared = 0;
    for (const auto& [name, p] : method->trainable_parameters()) {
      const std::string key =
          "prompt_encoder.default." + (name == "embedding" ? std::string("embedding.weight") : name);
      ASSERT_TRUE(peft.count(key)) << key;
      EXPECT_TRUE(at::equal(p, peft.at(key))) << name << " differs by " << max_abs_diff(p, peft.at(key));
      ++compared;
    }
    EXPECT_EQ(compared, static_cast<int>(peft.size()));
  }
}

// ---- placement -----------------------------------------------------------------------------------------

// Row i of the encoder's output sits at soft position i of every row; the token embeddings elsewhere.
void expect_placed(const Fixture& f, PTuning& method, const tasks::Batch& batch) {
  const models::BackboneInput input = method.prompt(batch);
  const at::Tensor embeds = input.inputs_embeds.detach();
  const at::Tensor prompt = method.encoded_prompts().detach()[0];  // [P, d]
  const at::Tensor tokens = f.backbone().embed(batch.input_ids);
  at::Tensor is_soft = at::zeros(batch.input_ids.sizes(), at::kBool);
  for (int64_t b = 0; b < batch.size(); ++b) {
    for (int64_t i = 0; i < batch.num_soft_tokens(); ++i) {
      const int64_t p = batch.soft_positions[b][i].item<int64_t>();
      // The encoder runs per batch row (as PEFT's), so rows agree up to GEMM rounding.
      EXPECT_LE(max_abs_diff(embeds[b][p], prompt[i]), 1e-6) << "row " << b << " slot " << i;
      is_soft[b][p] = true;
    }
  }
  const at::Tensor keep = is_soft.logical_not().unsqueeze(2).expand_as(embeds);
  EXPECT_TRUE(at::equal(embeds.masked_select(keep), tokens.masked_select(keep)));
  EXPECT_TRUE(at::equal(input.attention_mask, batch.attention_mask));
}

TEST(PTuning, PromptGoesInFrontOrIntoTheSlotGroups) {
  {
    PTLAB_METHOD_FIXTURE(f, "gpt2", testing::kLmTask);
    auto method = make_method_from("{name: p_tuning, length: 4, encoder: lstm, encoder_hidden_size: 8}", *f.context);
    const tasks::Batch batch = render_batch(f, *method, {"a good film", "the plot was rather dull and slow"});
    EXPECT_TRUE(at::equal(batch.soft_positions, at::arange(4).expand({2, 4})));
    expect_placed(f, as_p_tuning(*method), batch);
  }
  PTLAB_METHOD_FIXTURE(f, "gpt2", kInterleavedTask);
  auto method = make_method_from("{name: p_tuning, length: null, encoder_hidden_size: 8}", *f.context);
  const tasks::Batch batch = render_batch(f, *method, {"a good film", "the plot was rather dull and slow"});
  EXPECT_GT(batch.soft_positions[1][2].item<int64_t>(), batch.soft_positions[1][1].item<int64_t>() + 1);  // 2 groups
  expect_placed(f, as_p_tuning(*method), batch);
  const std::string e = error_of([&] {
    PTLAB_METHOD_FIXTURE(lm, "gpt2", testing::kLmTask);
    make_method_from("{name: p_tuning, length: 3}", *lm.context)->prompt(batch);
  });
  EXPECT_THAT(e, HasSubstr("p_tuning has 3 virtual tokens but the batch has 5 soft positions"));
}

// The paper's interleaved placement against transformers (make_p_tuning_interleaved_reference.py): the
// reference's encoder weights, its two anchored slot groups, GPT-2's causal LM loss; loss within 1e-5
// relative and every encoder gradient, for the MLP and the LSTM encoder.
TEST(PTuning, InterleavedSlotsMatchTheTransformersReference) {
  PTLAB_METHOD_FIXTURE(f, "gpt2", kInterleavedTask);
  const auto ref = io::load_safetensors(std::string(PTLAB_SOURCE_DIR) +
                                        "/tests/fixtures/references/p_tuning_interleaved.safetensors");
  const at::Tensor ids = ref.at("input_ids"), mask = ref.at("attention_mask"), labels = ref.at("labels"),
                   soft = ref.at("soft_positions");
  std::vector<tasks::RenderedExample> rendered;
  for (int64_t b = 0; b < ids.size(0); ++b) {
    const int64_t length = mask[b].sum().item<int64_t>();
    tasks::RenderedExample r;
    const at::Tensor row = ids[b].narrow(0, 0, length).contiguous(), lab = labels[b].narrow(0, 0, length).contiguous();
    r.input_ids.assign(row.data_ptr<int64_t>(), row.data_ptr<int64_t>() + length);
    r.token_labels.assign(lab.data_ptr<int64_t>(), lab.data_ptr<int64_t>() + length);
    r.token_type_ids.assign(length, 0);
    r.length = length;
    const at::Tensor s = soft[b].contiguous();
    const int64_t* p = s.data_ptr<int64_t>();
    r.soft_positions = {{p[0], p[1]}, {p[2], p[3], p[4]}};  // the template's two groups
    rendered.push_back(std::move(r));
  }
  tasks::CollateOptions options;
  options.pad_id = 0;
  const tasks::Batch batch = tasks::collate(rendered, options);
  ASSERT_TRUE(at::equal(batch.attention_mask, mask));
  ASSERT_TRUE(at::equal(batch.soft_positions, soft));

  for (const std::string kind : {"mlp", "lstm"}) {
    SCOPED_TRACE(kind);
    auto method = make_method_from(kind == "mlp" ? "{name: p_tuning, length: null, encoder_hidden_size: 16}"
                                                 : "{name: p_tuning, length: null, encoder: lstm, "
                                                   "encoder_hidden_size: 8, encoder_num_layers: 2}",
                                   *f.context);
    std::map<std::string, at::Tensor> state;
    for (const auto& [name, t] : ref)
      if (name.rfind(kind + ".", 0) == 0 && name.find(".grad.") == std::string::npos && name != kind + ".loss")
        state.emplace(name.substr(kind.size() + 1), t);
    method->import_state(state, "reference");
    models::BackboneInput input = method->prompt(batch);
    input.logits.mode = models::LogitsRequest::Mode::kAll;
    const at::Tensor loss = tasks::causal_lm_loss(f.backbone().forward(input).logits, batch.token_labels);
    loss.backward();
    const double want = ref.at(kind + ".loss").item<double>();
    EXPECT_LE(std::abs(loss.item<double>() - want) / want, 1e-5) << loss.item<double>() << " vs " << want;
    double worst = 0;
    for (const auto& [name, p] : method->trainable_parameters()) {
      const at::Tensor expected = ref.at(kind + ".grad." + name);
      ASSERT_TRUE(p.grad().defined()) << name;
      const double diff = max_abs_diff(p.grad(), expected);
      EXPECT_LE(diff, 1e-6 + 1e-4 * expected.abs().max().item<double>()) << name;
      worst = std::max(worst, diff);
    }
    std::cout << "[interleaved] " << kind << ": loss rel error " << std::abs(loss.item<double>() - want) / want
              << ", max grad diff " << worst << "\n";
  }
}

// ---- mixed-task batches --------------------------------------------------------------------------------

TEST(PTuning, MixedTaskBatchGivesEachExampleItsOwnPrompt) {
  PTLAB_METHOD_FIXTURE(f, "gpt2", kInterleavedTask);
  for (const std::string yaml :
       {"{name: p_tuning, length: null, encoder_hidden_size: 8, num_tasks: 3}",
        "{name: p_tuning, length: null, encoder: lstm, encoder_hidden_size: 8, num_tasks: 3}"}) {
    SCOPED_TRACE(yaml);
    auto method = make_method_from(yaml, *f.context);
    method->eval();
    const std::vector<std::string> texts = {"a good film", "the plot was rather dull and slow", "fun", "a good film"};
    const std::vector<int64_t> tasks_of = {0, 2, 1, 1};
    const tasks::Objective objective(*f.task, f.backbone().info());
    auto run = [&](const std::vector<tasks::RenderedExample>& rendered, at::Tensor* loss) {
      const tasks::Batch batch = objective.collate(rendered);
      models::BackboneInput input = method->prompt(batch);
      input.logits.mode = models::LogitsRequest::Mode::kAll;
      const models::BackboneOutput out = f.backbone().forward(input);
      if (loss != nullptr) {
        models::BackboneInput scored = method->prompt(batch);
        objective.request(batch, scored);
        *loss = objective.loss(f.backbone().forward(scored), batch);
      }
      return std::make_pair(out.logits.detach(), batch);
    };
    at::Tensor mixed_loss;
    const auto [mixed, batch] = run(render(f, *method, texts, tasks_of), &mixed_loss);
    ASSERT_TRUE(batch.task_ids.defined());
    double alone_sum = 0;
    for (std::size_t b = 0; b < texts.size(); ++b) {
      at::Tensor alone_loss;
      const auto [alone, one] = run(render(f, *method, {texts[b]}, {tasks_of[b]}), &alone_loss);
      const int64_t length = one.input_ids.size(1);
      EXPECT_LE(max_abs_diff(mixed[b].narrow(0, 0, length), alone[0]), 1e-4) << "row " << b;
      alone_sum += alone_loss.item<double>();
    }
    // The classification loss is the mean over rows: the mixed batch's is the mean of the rows' own losses.
    const double mean_alone = alone_sum / static_cast<double>(texts.size());
    EXPECT_NEAR(mixed_loss.item<double>(), mean_alone, 1e-5 * mean_alone);
    // Rows 0 and 3 have the same text but tasks 0 and 1: different prompts, different logits — and with task
    // 0 for row 3, another loss than the one above.
    EXPECT_GT(max_abs_diff(mixed[0], mixed[3]), 1e-3);
    at::Tensor swapped_loss;
    run(render(f, *method, texts, {0, 2, 1, 0}), &swapped_loss);
    EXPECT_GT(std::abs(swapped_loss.item<double>() - mixed_loss.item<double>()), 1e-4);
    // Ids outside [0, num_tasks) and a batch without ids are Errors naming the key.
    EXPECT_THAT(error_of([&] { run(render(f, *method, {"a good film"}, {3}), nullptr); }),
                HasSubstr("batch row 0 has task id 3 but method.num_tasks is 3"));
    EXPECT_THAT(error_of([&] { run(render(f, *method, {"a good film"}), nullptr); }),
                HasSubstr("method.num_tasks is 3 but the batch carries no task ids"));
  }
  // num_tasks 1 ignores the task ids: one prompt for every example (PEFT's P_TUNING).
  auto single = make_method_from("{name: p_tuning, length: null, encoder_hidden_size: 8}", *f.context);
  const tasks::Batch batch = render_batch(f, *single, {"a good film", "a good film"}, {0, 5});
  const at::Tensor embeds = single->prompt(batch).inputs_embeds.detach();
  EXPECT_LE(max_abs_diff(embeds[0], embeds[1]), 1e-6);
}

// ---- state: prompt.safetensors, transfer, mismatches, PEFT adapters -------------------------------------

TEST(PTuning, StateRoundTripsAndTransfers) {
  PTLAB_METHOD_FIXTURE(f, "gpt2", testing::kLmTask);
  const std::string yaml = "{name: p_tuning, length: 4, encoder: lstm, encoder_hidden_size: 8";
  auto trained = make_method_from(yaml + "}", *f.context);
  const auto state = trained->export_state();
  const std::string path = temp_path("state") + ".safetensors";
  io::save_safetensors(path, NamedTensors(state.begin(), state.end()));
  MethodContext other{f.backbone(), f.tokenizer(), *f.task, 5};
  auto loaded = make_method_from(yaml + "}", other);
  loaded->load_state(path);
  auto transferred = make_method_from(yaml + ", init: file, init_file: " + path + "}", other);
  for (const auto& [name, t] : state) {
    EXPECT_TRUE(at::equal(loaded->export_state().at(name), t)) << name;
    EXPECT_TRUE(at::equal(transferred->export_state().at(name), t)) << name;
  }
  // Another encoder, hidden size or length: one Error naming both.
  auto mlp = make_method_from("{name: p_tuning, length: 4, encoder_hidden_size: 8}", *f.context);
  EXPECT_THAT(error_of([&] { mlp->load_state(path); }),
              HasSubstr(path + ": holds an lstm encoder (2 layers, hidden size 8) over 4 rows of width 64 but this "
                               "p_tuning has an mlp encoder (hidden size 8) over 4 rows of width 64; load it into a "
                               "p_tuning with the same method.encoder"));
  auto wider = make_method_from(yaml + ", encoder_num_layers: 1}", *f.context);
  EXPECT_THAT(error_of([&] { wider->load_state(path); }),
              HasSubstr("holds an lstm encoder (2 layers, hidden size 8) over 4 rows of width 64 but this p_tuning "
                        "has an lstm encoder (1 layers, hidden size 8)"));
  const auto mlp_state = mlp->export_state();
  io::save_safetensors(path, NamedTensors(mlp_state.begin(), mlp_state.end()));
  EXPECT_THAT(error_of([&] { loaded->load_state(path); }),
              HasSubstr("holds an mlp encoder (hidden size 8) over 4 rows of width 64 but this p_tuning has an lstm"));
  std::filesystem::remove(path);
}

TEST(PTuning, PeftAdapterLoadsAsAFrozenOutputTable) {
  PTLAB_METHOD_FIXTURE(f, "gpt2", testing::kLmTask);
  const std::string adapter = testing::shared_path("golden/peft/gpt2/ptuning_lstm/adapter_final");
  auto method = make_method_from("{name: p_tuning, length: 8, encoder: lstm, encoder_hidden_size: 32}", *f.context);
  auto& pt = as_p_tuning(*method);
  method->load_state(adapter);
  EXPECT_TRUE(pt.frozen_output());
  const at::Tensor stored = io::load_safetensors(adapter + "/adapter_model.safetensors").at("prompt_embeddings");
  EXPECT_TRUE(at::equal(pt.encoded_prompts()[0], stored));
  const tasks::Batch batch = render_batch(f, *method, {"a good film"});
  EXPECT_THAT(error_of([&] { method->prompt(batch); }),  // train mode
              HasSubstr("p_tuning was loaded from a PEFT adapter, which holds the encoder's output but not its "
                        "weights, so it evaluates and generates but cannot train"));
  method->eval();
  const at::Tensor embeds = method->prompt(batch).inputs_embeds.detach();
  EXPECT_TRUE(at::equal(embeds[0].narrow(0, 0, 8), stored));
  // A prompt.safetensors brings the encoder back.
  const std::string path = temp_path("frozen") + ".safetensors";
  auto fresh = make_method_from("{name: p_tuning, length: 8, encoder: lstm, encoder_hidden_size: 32}", *f.context);
  const auto state = fresh->export_state();
  io::save_safetensors(path, NamedTensors(state.begin(), state.end()));
  method->load_state(path);
  EXPECT_FALSE(pt.frozen_output());
  std::filesystem::remove(path);

  auto other = make_method_from("{name: p_tuning, length: 6}", *f.context);
  EXPECT_THAT(error_of([&] { other->load_state(adapter); }),
              HasSubstr("the adapter's prompt is 8 x 64 but this p_tuning has 6 x 64"));
  EXPECT_THAT(
      error_of([&] { make_method_from("{name: p_tuning, length: 8, num_tasks: 2}", *f.context)->load_state(adapter); }),
      HasSubstr("a PEFT P_TUNING adapter holds one prompt, but method.num_tasks is 2"));
  EXPECT_THAT(error_of([&] {
                make_method_from("{name: p_tuning, length: 8}", *f.context)
                    ->load_state(testing::shared_path("golden/peft/gpt2/prompt_random/adapter_final"));
              }),
              HasSubstr("peft_type is PROMPT_TUNING, but p_tuning loads P_TUNING adapters"));
  EXPECT_THAT(error_of([&] {
                make_method_from("{name: p_tuning, length: 8, init: file, init_file: " + adapter + "}", *f.context);
              }),
              HasSubstr("is not a file; init file takes a p_tuning prompt.safetensors (a PEFT P_TUNING adapter holds "
                        "only the encoder's output"));
}

// num_tasks null takes task.task_names' count; another count is an Error; each task's folded prompt is a
// PEFT adapter of its own (dir/adapter/<task name>/) that a num_tasks-1 p_tuning loads and places.
TEST(PTuning, PerTaskPromptsExportOnePeftAdapterPerTask) {
  PTLAB_METHOD_FIXTURE(f, "gpt2",
                       "{type: classification, template: '{text_a} It was {mask}.', task_names: [sentiment, topic], "
                       "verbalizer: {label_words: {negative: [bad], positive: [good]}}}");
  auto method = make_method_from("{name: p_tuning, length: 4, encoder_hidden_size: 8, num_tasks: null}", *f.context);
  auto& pt = as_p_tuning(*method);
  EXPECT_EQ(pt.num_tasks(), 2);
  EXPECT_THAT(error_of([&] { make_method_from("{name: p_tuning, length: 4, num_tasks: 3}", *f.context); }),
              HasSubstr("method.num_tasks: is 3 but task.task_names lists 2 tasks (sentiment, topic); set it to 2"));
  EXPECT_EQ(as_p_tuning(*make_method_from("{name: p_tuning, length: 4, num_tasks: 1}", *f.context)).num_tasks(), 1);

  const std::string dir = temp_path("tasks");
  method->save_exports(dir);
  const at::Tensor prompts = pt.encoded_prompts().detach();  // [2, 4, d]
  int64_t t = 0;
  for (const std::string name : {"sentiment", "topic"}) {
    SCOPED_TRACE(name);
    const std::string adapter = dir + "/adapter/" + name;
    const at::Tensor saved = io::load_safetensors(adapter + "/adapter_model.safetensors").at("prompt_embeddings");
    EXPECT_LE(max_abs_diff(saved, prompts[t]), 1e-6);
    auto single = make_method_from("{name: p_tuning, length: 4, encoder_hidden_size: 8, num_tasks: 1}", *f.context);
    single->load_state(adapter);
    EXPECT_TRUE(at::equal(as_p_tuning(*single).encoded_prompts()[0], saved));
    ++t;
  }
  EXPECT_GT(max_abs_diff(prompts[0], prompts[1]), 1e-3);
  EXPECT_THAT(error_of([&] { method->load_state(dir + "/adapter/topic"); }),
              HasSubstr("a PEFT P_TUNING adapter holds one prompt, but method.num_tasks is 2"));
  std::filesystem::remove_all(dir);
}

TEST(PTuning, GradientsReachTheEncoderOnly) {
  PTLAB_METHOD_FIXTURE(f, "gpt2", testing::kSentimentTask);
  auto method = make_method_from("{name: p_tuning, length: 3, encoder: lstm, encoder_hidden_size: 8}", *f.context);
  const tasks::Objective objective(*f.task, f.backbone().info());
  const tasks::Batch batch = objective.collate(render(f, *method, {"a good film", "the plot was rather dull"}));
  models::BackboneInput in = method->prompt(batch);
  objective.request(batch, in);
  objective.loss(f.backbone().forward(in), batch).backward();
  for (const auto& [name, p] : method->trainable_parameters()) {
    ASSERT_TRUE(p.grad().defined()) << name;
    EXPECT_GT(p.grad().abs().sum().item<double>(), 0.0) << name;
  }
  for (const auto& p : f.backbone().parameters()) EXPECT_FALSE(p.grad().defined());
}

}  // namespace
}  // namespace ptlab::methods
