// Multitask Prompt Tuning (methods/mpt/mpt.h): config errors, mixed-task batches (each row gets exactly
// the loss it gets alone), bad task ids, the target-adaptation inits from a source checkpoint, and the
// distillation loss and gradients against transformers (tests/fixtures/references/make_mpt_distill_reference.py).
#include "methods/mpt/mpt.h"

#include "framework/io/safetensors.h"
#include "tasks/batch.h"
#include "tasks/objective.h"
#include "tasks/template.h"
#include "tests/methods/methods_test_support.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

namespace ptlab::methods {
namespace {

using testing::error_of;
using ::testing::HasSubstr;

MptConfig decode(const std::string& yaml) {
  static config::Origins origins;
  YAML::Node node = YAML::Load(yaml);
  origins.set_subtree("method", node, "configs/method/test.yaml");
  return MptConfig::decode(config::Reader(node, "method", origins));
}

MultitaskPromptTuning& as_mpt(Method& method) { return dynamic_cast<MultitaskPromptTuning&>(method); }

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("ptlab_mpt_" + name + "_" + std::to_string(::getpid()))).string();
}

// Rows of token ids (0 = right padding after `lengths`), labels = the ids, each row's task id, N virtual
// tokens in front: the trainer's layout (prepend_soft_tokens + collate).
tasks::Batch make_batch(const at::Tensor& ids, const std::vector<int64_t>& lengths, const std::vector<int64_t>& tasks,
                        int64_t n, int64_t placeholder) {
  std::vector<tasks::RenderedExample> rendered;
  for (std::size_t b = 0; b < lengths.size(); ++b) {
    tasks::RenderedExample r;
    const at::Tensor row = ids[b].narrow(0, 0, lengths[b]).contiguous();
    r.input_ids.assign(row.data_ptr<int64_t>(), row.data_ptr<int64_t>() + lengths[b]);
    r.length = lengths[b];
    r.token_type_ids.assign(lengths[b], 0);
    r.token_labels = r.input_ids;
    r.task_id = tasks.empty() ? -1 : tasks[b];
    tasks::prepend_soft_tokens(r, n, placeholder);
    rendered.push_back(std::move(r));
  }
  tasks::CollateOptions options;
  options.pad_id = 0;
  return tasks::collate(rendered, options);
}

// ---- config -------------------------------------------------------------------------------------------

TEST(MptConfig, BadValuesAreOneLineErrors) {
  EXPECT_THAT(error_of([] { decode("{name: mpt, rank: 0}"); }),
              HasSubstr("method.rank: the rank r of the task factors U [T, N, r] and V [T, r, d] must be >= 1, got 0"));
  EXPECT_THAT(error_of([] { decode("{name: mpt, rank: -2}"); }), HasSubstr("method.rank"));
  EXPECT_THAT(error_of([] { decode("{name: mpt, num_tasks: 0}"); }),
              HasSubstr("method.num_tasks: MPT needs at least 1 task"));
  EXPECT_THAT(error_of([] { decode("{name: mpt, num_tasks: 2, teachers: [a.safetensors, b.safetensors, c]}"); }),
              HasSubstr("method.teachers: distillation needs one teacher prompt per task: method.num_tasks is 2 but 3 "
                        "teachers are given"));
  EXPECT_THAT(error_of([] { decode("{name: mpt, init: average_source}"); }),
              HasSubstr("unknown MPT init 'average_source'"));
  EXPECT_THAT(error_of([] { decode("{name: mpt, init: exact_source_task}"); }),
              HasSubstr("method.init_file: init exact_source_task starts from a source checkpoint"));
  EXPECT_THAT(error_of([] { decode("{name: mpt, lenght: 4}"); }), HasSubstr("lenght"));
  const MptConfig c = decode("{name: mpt, length: 4, num_tasks: 3, rank: 2, init: text, init_text: hi}");
  EXPECT_EQ(c.length, 4);
  EXPECT_EQ(c.num_tasks.value_or(0), 3);
  EXPECT_FALSE(decode("{name: mpt, num_tasks: null}").num_tasks.has_value());
  EXPECT_EQ(c.rank, 2);
  EXPECT_EQ(c.init, MptInit::kText);
}

// ---- prompts and mixed-task batches --------------------------------------------------------------------

TEST(Mpt, ShapesAndTheRowPrompt) {
  PTLAB_METHOD_FIXTURE(f, "gpt2", testing::kLmTask);
  auto method = testing::make_method_from("{name: mpt, length: 4, num_tasks: 3, rank: 2}", *f.context);
  auto& mpt = as_mpt(*method);
  EXPECT_EQ(mpt.shared_prompt().sizes(), (std::vector<int64_t>{4, 64}));
  EXPECT_EQ(mpt.task_cols().sizes(), (std::vector<int64_t>{3, 4, 2}));
  EXPECT_EQ(mpt.task_rows().sizes(), (std::vector<int64_t>{3, 2, 64}));
  EXPECT_EQ(method->trainable_parameters().size(), 3u);
  const at::Tensor ids = at::tensor({2, 0}, at::kLong);
  const at::Tensor rows = mpt.task_prompts(ids).detach();  // [2, 4, 64]
  EXPECT_TRUE(at::allclose(rows[0], mpt.shared_prompt() * at::mm(mpt.task_cols()[2], mpt.task_rows()[2])));
  EXPECT_TRUE(at::allclose(rows[1], mpt.shared_prompt() * at::mm(mpt.task_cols()[0], mpt.task_rows()[0])));
  // T5: PEFT's 2N rows, the decoder's half in front of the decoder input.
  PTLAB_METHOD_FIXTURE(t5, "t5", testing::kLmTask);
  auto seq2seq = testing::make_method_from("{name: mpt, length: 4, num_tasks: 2}", *t5.context);
  EXPECT_EQ(as_mpt(*seq2seq).shared_prompt().sizes(), (std::vector<int64_t>{8, 64}));
}

TEST(Mpt, EachRowOfAMixedBatchGetsTheLossItGetsAlone) {
  PTLAB_METHOD_FIXTURE(f, "gpt2", testing::kLmTask);
  at::manual_seed(7);  // the draws below: the same in every process, whatever ran before
  auto method = testing::make_method_from("{name: mpt, length: 3, num_tasks: 3, rank: 2}", *f.context);
  {  // factors far from PEFT's ~0 init, so that the tasks' prompts differ a lot
    at::NoGradGuard no_grad;
    for (auto& [name, param] : method->trainable_parameters()) param.normal_(0.0, 0.7);
  }
  const int64_t placeholder = tasks::Template::placeholder_id(f.tokenizer());
  at::Tensor ids = at::randint(5, 500, {4, 7}, at::kLong);
  const std::vector<int64_t> lengths = {7, 5, 6, 7};
  const std::vector<int64_t> task_of = {2, 0, 1, 0};
  const tasks::Batch mixed = make_batch(ids, lengths, task_of, 3, placeholder);
  models::BackboneInput input = method->prompt(mixed);
  const at::Tensor logits = f.backbone().forward(input).logits;  // [4, 10, V]
  for (int64_t b = 0; b < 4; ++b) {
    const double in_batch =
        tasks::causal_lm_loss(logits.narrow(0, b, 1), mixed.token_labels.narrow(0, b, 1)).item<double>();
    auto alone_loss = [&](int64_t task) {
      const tasks::Batch alone = make_batch(ids.narrow(0, b, 1), {lengths[b]}, {task}, 3, placeholder);
      const models::BackboneInput one = method->prompt(alone);
      return tasks::causal_lm_loss(f.backbone().forward(one).logits, alone.token_labels).item<double>();
    };
    EXPECT_NEAR(in_batch, alone_loss(task_of[b]), 1e-5 * std::abs(in_batch)) << "row " << b;
    EXPECT_GT(std::abs(in_batch - alone_loss((task_of[b] + 1) % 3)), 1e-3) << "row " << b << ": tasks look alike";
  }
}

TEST(Mpt, BadTaskIdsAreOneLineErrors) {
  PTLAB_METHOD_FIXTURE(f, "gpt2", testing::kLmTask);
  auto method = testing::make_method_from("{name: mpt, length: 2, num_tasks: 2}", *f.context);
  const int64_t placeholder = tasks::Template::placeholder_id(f.tokenizer());
  const at::Tensor ids = at::randint(5, 500, {2, 4}, at::kLong);
  EXPECT_THAT(error_of([&] { method->prompt(make_batch(ids, {4, 4}, {1, 2}, 2, placeholder)); }),
              HasSubstr("batch row 1 has task id 2 but method.num_tasks is 2; task ids run from 0 to 1"));
  EXPECT_THAT(error_of([&] { method->prompt(make_batch(ids, {4, 4}, {}, 2, placeholder)); }),
              HasSubstr("method.num_tasks is 2 but the batch carries no task ids"));
  auto single = testing::make_method_from("{name: mpt, length: 2}", *f.context);  // 1 task: ids optional
  EXPECT_TRUE(single->prompt(make_batch(ids, {4, 4}, {}, 2, placeholder)).inputs_embeds.defined());
}

// ---- target adaptation ---------------------------------------------------------------------------------

TEST(Mpt, SourceInits) {
  PTLAB_METHOD_FIXTURE(f, "gpt2", testing::kLmTask);
  auto source = testing::make_method_from("{name: mpt, length: 4, num_tasks: 3, rank: 2}", *f.context);
  {
    at::NoGradGuard no_grad;
    for (auto& [name, param] : source->trainable_parameters()) param.normal_(0.0, 1.0);
  }
  const std::string path = temp_path("source.safetensors");
  NamedTensors state;  // what the trainer writes as prompt.safetensors
  for (const auto& [name, tensor] : source->export_state()) state.emplace_back(name, tensor);
  io::save_safetensors(path, state);
  const auto& src = as_mpt(*source);

  auto average = testing::make_method_from(
      "{name: mpt, length: 4, rank: 2, init: average_source_tasks, init_file: '" + path + "'}", *f.context);
  EXPECT_TRUE(at::equal(as_mpt(*average).shared_prompt(), src.shared_prompt()));
  EXPECT_TRUE(at::allclose(as_mpt(*average).task_cols()[0], src.task_cols().mean(0)));
  EXPECT_TRUE(at::allclose(as_mpt(*average).task_rows()[0], src.task_rows().mean(0)));
  EXPECT_EQ(as_mpt(*average).task_cols().size(0), 1);

  auto exact = testing::make_method_from(
      "{name: mpt, length: 4, rank: 2, init: exact_source_task, init_task: 2, init_file: '" + path + "'}", *f.context);
  EXPECT_TRUE(at::equal(as_mpt(*exact).task_cols()[0], src.task_cols()[2]));
  EXPECT_TRUE(at::equal(as_mpt(*exact).task_rows()[0], src.task_rows()[2]));

  auto shared = testing::make_method_from(
      "{name: mpt, length: 4, rank: 2, init: only_source_shared, init_file: '" + path + "'}", *f.context);
  auto fresh = testing::make_method_from("{name: mpt, length: 4, rank: 2}", *f.context);
  EXPECT_TRUE(at::equal(as_mpt(*shared).shared_prompt(), src.shared_prompt()));
  EXPECT_TRUE(at::equal(as_mpt(*shared).task_cols(), as_mpt(*fresh).task_cols()));  // the fresh N(0, 0.02^2)

  EXPECT_THAT(error_of([&] {
                testing::make_method_from(
                    "{name: mpt, length: 5, rank: 2, init: average_source_tasks, init_file: '" + path + "'}", *f.context);
              }),
              HasSubstr("method.init_file: the source prompt in " + path + " is [4, 64] but this mpt needs [5, 64]"));
  EXPECT_THAT(error_of([&] {
                testing::make_method_from(
                    "{name: mpt, length: 4, rank: 1, init: average_source_tasks, init_file: '" + path + "'}", *f.context);
              }),
              HasSubstr("but this mpt has rank 1"));
  EXPECT_THAT(error_of([&] {
                testing::make_method_from(
                    "{name: mpt, length: 4, rank: 2, init: exact_source_task, init_task: 3, init_file: '" + path + "'}",
                    *f.context);
              }),
              HasSubstr("method.init_task: is 3 but the source checkpoint " + path + " has 3 tasks (0..2)"));
  EXPECT_THAT(error_of([&] {
                testing::make_method_from("{name: mpt, length: 4, init: only_source_shared, init_file: /nonexistent}",
                                          *f.context);
              }),
              HasSubstr("method.init_file: no MPT checkpoint at /nonexistent"));
  std::filesystem::remove(path);
}

// A PEFT MULTITASK_PROMPT_TUNING adapter is a source too (PEFT's own, 2 tasks, rank 1).
TEST(Mpt, SourceFromAPeftAdapter) {
  PTLAB_METHOD_FIXTURE(f, "gpt2", testing::kLmTask);
  const std::string adapter = testing::shared_path("golden/peft/gpt2/multitask/adapter_final");
  const auto stored = io::load_safetensors(adapter + "/adapter_model.safetensors");
  auto method = testing::make_method_from(
      "{name: mpt, length: 8, init: average_source_tasks, init_file: '" + adapter + "'}", *f.context);
  EXPECT_TRUE(at::equal(as_mpt(*method).shared_prompt(), stored.at("prompt_embeddings")));
  EXPECT_TRUE(at::allclose(as_mpt(*method).task_cols(), stored.at("prefix_task_cols").mean(0, true)));
  EXPECT_TRUE(at::allclose(as_mpt(*method).task_rows(), stored.at("prefix_task_rows").mean(0, true)));
}

// Distillation teachers are encoder prompts: refused on T5, whose MPT prompt has a decoder half.
TEST(Mpt, NoDistillationOnEncoderDecoderModels) {
  PTLAB_METHOD_FIXTURE(f, "t5", testing::kLmTask);
  EXPECT_THAT(error_of([&] { testing::make_method_from("{name: mpt, length: 2, teachers: [t.safetensors]}", *f.context); }),
              HasSubstr("method.teachers: prompt distillation runs on decoder-only and encoder-only models"));
}

// ---- source training: prompt distillation --------------------------------------------------------------

TEST(Mpt, DistillationMatchesTransformers) {
  PTLAB_METHOD_FIXTURE(f, "gpt2", testing::kLmTask);
  const auto ref =
      io::load_safetensors(std::string(PTLAB_SOURCE_DIR) + "/tests/fixtures/references/mpt_distill.safetensors");
  std::vector<std::string> teachers;
  for (int64_t t = 0; t < 2; ++t) {
    teachers.push_back(temp_path("teacher" + std::to_string(t) + ".safetensors"));
    io::save_safetensors(teachers.back(), {{"prompt", ref.at("teachers")[t].contiguous()}});
  }
  const double lambda = ref.at("distill_weight").item<double>();
  auto method = testing::make_method_from("{name: mpt, length: 3, num_tasks: 2, rank: 2, distill_weight: " +
                                              std::to_string(lambda) + ", teachers: ['" + teachers[0] + "', '" +
                                              teachers[1] + "']}",
                                          *f.context);
  method->import_state({{"prompt", ref.at("prompt")}, {"task_cols", ref.at("task_cols")},
                        {"task_rows", ref.at("task_rows")}},
                       "mpt_distill.safetensors");
  const at::Tensor task_ids = ref.at("task_ids");
  const at::Tensor lengths_t = ref.at("attention_mask").sum(1);
  std::vector<int64_t> lengths, task_of;
  for (int64_t b = 0; b < 4; ++b) {
    lengths.push_back(lengths_t[b].item<int64_t>());
    task_of.push_back(task_ids[b].item<int64_t>());
  }
  const tasks::Batch batch =
      make_batch(ref.at("input_ids"), lengths, task_of, 3, tasks::Template::placeholder_id(f.tokenizer()));
  EXPECT_TRUE(at::equal(batch.input_ids.narrow(1, 3, 6), ref.at("input_ids")));

  models::BackboneInput input = method->prompt(batch);
  input.logits.mode = models::LogitsRequest::Mode::kAll;
  const models::BackboneOutput output = f.backbone().forward(input);
  const at::Tensor task = tasks::causal_lm_loss(output.logits, batch.token_labels);
  const at::Tensor extra = method->extra_loss(batch, input, output);
  ASSERT_TRUE(extra.defined());
  const at::Tensor loss = task + extra;
  auto rel = [](double a, double b) { return std::abs(a - b) / std::abs(b); };
  EXPECT_LE(rel(task.item<double>(), ref.at("loss_task").item<double>()), 1e-5);
  const double expected_extra = lambda * (ref.at("loss_logits").item<double>() + ref.at("loss_hidden").item<double>());
  EXPECT_LE(rel(extra.item<double>(), expected_extra), 1e-5) << extra.item<double>() << " vs " << expected_extra;
  EXPECT_LE(rel(loss.item<double>(), ref.at("loss").item<double>()), 1e-5);
  loss.backward();
  double worst = 0;
  for (auto& [name, param] : method->trainable_parameters()) {
    const at::Tensor expected = ref.at("grad." + name);
    const double diff = (param.grad() - expected).abs().max().item<double>();
    const double scale = expected.abs().max().item<double>();
    EXPECT_LE(diff, 1e-6 + 1e-4 * scale) << name;
    worst = std::max(worst, diff / scale);
  }
  std::cout << "[ distill ] loss " << loss.item<double>() << " vs " << ref.at("loss").item<double>()
            << ", max grad diff / max |grad| " << worst << "\n";

  // One prompt_tuning file of num_tasks 2 ([2 x 3, d], task t's rows 3t..3t+2) teaches the same.
  const std::string joint = temp_path("joint.safetensors");
  io::save_safetensors(joint, {{"prompt", ref.at("teachers").reshape({6, -1}).contiguous()}});
  auto from_one = testing::make_method_from("{name: mpt, length: 3, num_tasks: 2, rank: 2, distill_weight: " +
                                                std::to_string(lambda) + ", teachers: ['" + joint + "']}",
                                            *f.context);
  from_one->import_state({{"prompt", ref.at("prompt")}, {"task_cols", ref.at("task_cols")},
                          {"task_rows", ref.at("task_rows")}},
                         "mpt_distill.safetensors");
  {
    at::NoGradGuard no_grad;
    models::BackboneInput one_input = from_one->prompt(batch);
    one_input.logits.mode = models::LogitsRequest::Mode::kAll;
    const models::BackboneOutput one_output = f.backbone().forward(one_input);
    EXPECT_NEAR(from_one->extra_loss(batch, one_input, one_output).item<double>(), extra.item<double>(), 1e-6);
  }
  EXPECT_THAT(error_of([&] {
                testing::make_method_from("{name: mpt, length: 3, num_tasks: 3, teachers: ['" + joint + "']}",
                                          *f.context);
              }),
              HasSubstr("must hold a prompt_tuning 'prompt' of [3 x 3, 64]"));
  std::filesystem::remove(joint);

  // Without teachers there is nothing to add.
  auto plain = testing::make_method_from("{name: mpt, length: 3, num_tasks: 2, rank: 2}", *f.context);
  EXPECT_FALSE(plain->extra_loss(batch, input, output).defined());
  // A teacher of another length is an Error naming it.
  EXPECT_THAT(error_of([&] {
                testing::make_method_from("{name: mpt, length: 4, num_tasks: 2, teachers: ['" + teachers[0] + "', '" +
                                              teachers[1] + "']}",
                                          *f.context);
              }),
              HasSubstr("method.teachers[0]"));
  for (const auto& t : teachers) std::filesystem::remove(t);
}

}  // namespace
}  // namespace ptlab::methods
