// P-Tuning v2 (methods/p_tuning_v2/): config decoding and its one-line errors, the parameters (Prefix
// Tuning's encoder + the shared task head), training a token-classification head through the Objective,
// loss parity with PEFT's prefix tuning on BertForSequenceClassification (= P-Tuning v2 with the head on the
// pooler output), and the PEFT adapter with the classifier where PEFT keeps it.
#include "methods/p_tuning_v2/p_tuning_v2.h"

#include "framework/io/peft_prefix_adapter.h"
#include "framework/io/safetensors.h"
#include "framework/train/optimizer.h"
#include "tasks/objective.h"
#include "tests/methods/methods_test_support.h"
#include "tests/models/temp_dir.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

namespace ptlab::methods {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using testing::error_of;
using ::testing::HasSubstr;
using testing::make_method_from;

constexpr const char* kHeadTask =
    "{type: classification, template: '{text_a}', "
    "verbalizer: {mode: linear_head, pooling: cls, dropout: 0.0, labels: [negative, positive]}}";
constexpr const char* kTokenTask = "{type: token_classification}";

std::vector<std::string> names_of(Method& method) {
  std::vector<std::string> out;
  for (const auto& [name, tensor] : method.trainable_parameters()) out.push_back(name);
  return out;
}

void expect_one_line(const std::string& message, const std::string& needle) {
  EXPECT_THAT(message, HasSubstr(needle));
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
}

// ---- config and construction ------------------------------------------------------------------------------

TEST(PTuningV2, DefaultsAreThudmsDeepPrefixWithALinearHead) {
  PTLAB_METHOD_FIXTURE(f, "bert", kHeadTask);
  auto method = make_method_from("{name: p_tuning_v2}", *f.context);
  auto& v2 = dynamic_cast<PTuningV2&>(*method);
  EXPECT_EQ(v2.name(), "p_tuning_v2");
  EXPECT_EQ(v2.length(), 8);
  EXPECT_DOUBLE_EQ(v2.config().prefix_dropout, 0.1);
  EXPECT_FALSE(v2.config().prefix_projection);
  EXPECT_THAT(names_of(*method), ElementsAre("embedding", "head.weight", "head.bias"));
  ASSERT_NE(method->head(), nullptr);
  EXPECT_EQ(method->head()->weight().sizes(), (std::vector<int64_t>{2, 64}));
  // The prefix is Prefix Tuning's, drawn the same from the same seed.
  auto prefix = make_method_from("{name: prefix_tuning}", *f.context);
  v2.eval();  // no prefix dropout
  prefix->eval();
  EXPECT_TRUE(at::equal(v2.flat_prefix(), dynamic_cast<PrefixTuning&>(*prefix).flat_prefix()));
  // The head is the linear_head baseline's (methods/task_head.h): same seed, same values.
  auto probe = make_method_from("{name: linear_head}", *f.context);
  EXPECT_TRUE(at::equal(probe->head()->weight(), method->head()->weight()));
  // The prefix keys decode as prefix_tuning's; head=verbalizer has no head.
  auto projected = make_method_from(
      "{name: p_tuning_v2, length: 4, prefix_projection: true, encoder_hidden_size: 16, prefix_dropout: 0.0}",
      *f.context);
  EXPECT_THAT(names_of(*projected), ElementsAre("embedding", "transform.0.weight", "transform.0.bias",
                                                "transform.2.weight", "transform.2.bias", "head.weight", "head.bias"));
  PTLAB_METHOD_FIXTURE(mlm, "bert", testing::kSentimentTask);
  auto scored = make_method_from("{name: p_tuning_v2, head: verbalizer}", *mlm.context);
  EXPECT_EQ(scored->head(), nullptr);
  EXPECT_THAT(names_of(*scored), ElementsAre("embedding"));
}

TEST(PTuningV2, BadConfigsAreOneLineErrors) {
  PTLAB_METHOD_FIXTURE(f, "bert", kHeadTask);
  expect_one_line(error_of([&] { make_method_from("{name: p_tuning_v2, head: lineer}", *f.context); }),
                  "method.head: unknown head 'lineer' (did you mean linear?); known: linear, verbalizer");
  expect_one_line(error_of([&] { make_method_from("{name: p_tuning_v2, length: 1000}", *f.context); }),
                  "method.length: a prefix of 1000 positions does not fit the model's 256 positions");
  expect_one_line(error_of([&] { make_method_from("{name: p_tuning_v2, prefix_dropout: 1.0}", *f.context); }),
                  "method.prefix_dropout");
  expect_one_line(error_of([&] { make_method_from("{name: p_tuning_v2, heads: linear}", *f.context); }), "heads");
  // head=linear needs verbalizer mode linear_head; head=verbalizer must not have it.
  PTLAB_METHOD_FIXTURE(mlm, "bert", testing::kSentimentTask);
  expect_one_line(error_of([&] { make_method_from("{name: p_tuning_v2}", *mlm.context); }),
                  "method p_tuning_v2 trains a classification head, so task test needs verbalizer mode linear_head "
                  "(task.verbalizer_name=linear_head), but its verbalizer scores with mode mlm");
  expect_one_line(error_of([&] { make_method_from("{name: p_tuning_v2, head: verbalizer}", *f.context); }),
                  "method.head=verbalizer scores with the task's label words, but task test's verbalizer is in mode "
                  "linear_head");
  // Token and lm tasks.
  PTLAB_METHOD_FIXTURE(tokens, "bert", kTokenTask);
  tokens.task->learn_labels({data::Example{}});  // no tags at all
  expect_one_line(error_of([&] { make_method_from("{name: p_tuning_v2}", *tokens.context); }), "has no tag set yet");
  expect_one_line(error_of([&] { make_method_from("{name: p_tuning_v2, head: verbalizer}", *tokens.context); }),
                  "has no verbalizer; use method.head=linear");
  PTLAB_METHOD_FIXTURE(lm, "bert", testing::kLmTask);
  expect_one_line(error_of([&] { make_method_from("{name: p_tuning_v2}", *lm.context); }),
                  "is of type lm (nothing for a head to predict)");
}

// ---- token classification ----------------------------------------------------------------------------------

data::Example tagged(std::vector<std::string> tokens, std::vector<std::string> tags) {
  data::Example ex;
  ex.tokens = std::move(tokens);
  ex.tags = std::move(tags);
  return ex;
}

TEST(PTuningV2, TrainsAPerTokenHeadWithThePrefix) {
  PTLAB_METHOD_FIXTURE(f, "bert", kTokenTask);
  const std::vector<data::Example> examples = {
      tagged({"the", "film", "was", "fun", "."}, {"at", "nn", "bedz", "jj", "."}),
      tagged({"the", "plot", "was", "awful"}, {"at", "nn", "bedz", "jj"})};
  f.task->learn_labels(examples);
  auto method = make_method_from("{name: p_tuning_v2, prefix_dropout: 0.0}", *f.context);
  ASSERT_NE(method->head(), nullptr);
  EXPECT_EQ(method->head()->num_classes(), 5);  // ., at, bedz, jj, nn
  const tasks::Objective objective(*f.task, f.backbone().info(), method->head());
  std::vector<tasks::RenderedExample> rendered;
  for (const auto& ex : examples) rendered.push_back(f.task->encode(ex, tasks::Purpose::kTrain));
  const tasks::Batch batch = objective.collate(rendered);

  train::OptimizerConfig adamw;
  adamw.name = "adamw";
  adamw.lr = 1e-2;
  auto optimizer = train::make_optimizer(adamw, method->trainable_parameters());
  std::vector<double> losses;
  for (int step = 0; step < 20; ++step) {
    optimizer->zero_grad();
    models::BackboneInput input = method->prompt(batch);
    objective.request(batch, input);
    const models::BackboneOutput out = f.backbone().forward(input);
    // The prefix is in the keys only: one hidden state per input token, lined up with the labels.
    ASSERT_EQ(out.last_hidden_state.size(1), batch.token_labels.size(1));
    at::Tensor loss = objective.loss(out, batch);
    loss.backward();
    if (step == 0) {
      for (const auto& [name, p] : method->trainable_parameters())
        EXPECT_GT(p.grad().abs().sum().item<double>(), 0) << name << " gets no gradient";
    }
    losses.push_back(loss.item<double>());
    optimizer->step();
  }
  EXPECT_NEAR(losses.front(), std::log(5.0), 0.3);  // a fresh head is near uniform over 5 tags
  EXPECT_LT(losses.back(), 0.5 * losses.front());
  method->eval();
  tasks::MetricSet metrics(std::vector<std::string>{"token_accuracy", "macro_f1"}, 5);
  models::BackboneInput input = method->prompt(batch);
  objective.request(batch, input);
  objective.score(f.backbone().forward(input), batch, metrics);
  EXPECT_DOUBLE_EQ(metrics.values().at("token_accuracy"), 1.0);  // 9 labelled words, memorised
  EXPECT_DOUBLE_EQ(metrics.values().at("macro_f1"), 1.0);
}

// ---- PEFT parity: prefix tuning on BertForSequenceClassification = P-Tuning v2 with a pooler head ----------

constexpr const char* kClassifierWeight = "base_model.classifier.modules_to_save.default.weight";
constexpr const char* kClassifierBias = "base_model.classifier.modules_to_save.default.bias";

double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  EXPECT_EQ(a.sizes(), b.sizes());
  if (a.sizes() != b.sizes()) return 1e30;
  return (a.detach().to(at::kDouble) - b.detach().to(at::kDouble)).abs().max().item<double>();
}

// Token classification against transformers 5.24 (tests/fixtures/references/make_bert_token_prefix_reference.py:
// a deep prefix written on BERT's own attention, positions from P, BertForTokenClassification's head and loss;
// PEFT 0.21 refuses prefixes on BERT): from the reference's prefix and head, the method's loss and the gradients
// of its prefix and head, on a padded batch with an ignored sub-token.
TEST(PTuningV2, TokenClassificationMatchesTheTransformersReference) {
  PTLAB_METHOD_FIXTURE(f, "bert", kTokenTask);
  const auto ref =
      io::load_safetensors(std::string(PTLAB_SOURCE_DIR) + "/tests/fixtures/references/bert_token_prefix.safetensors");
  f.task->learn_labels({tagged({"a", "b", "c", "d", "e"}, {"t0", "t1", "t2", "t3", "t4"})});
  auto method = make_method_from("{name: p_tuning_v2, length: 3, prefix_dropout: 0.0}", *f.context);
  auto& pt = dynamic_cast<PTuningV2&>(*method);
  method->eval();  // no head dropout: the reference has none
  const int64_t layers = pt.num_layers();
  auto flat_of = [&](const std::string& prefix) {  // per-layer [1, H, P, D] -> the method's flat [P, 2L d_kv]
    std::vector<at::Tensor> slices;
    for (int64_t l = 0; l < layers; ++l) {
      slices.push_back(ref.at(fmt::format("{}keys.{}", prefix, l)));
      slices.push_back(ref.at(fmt::format("{}values.{}", prefix, l)));
    }
    return join_prefix_slices(slices);
  };
  at::Tensor embedding = method->named_parameters()["embedding"];
  {
    at::NoGradGuard no_grad;
    embedding.copy_(flat_of(""));
    method->head()->weight().copy_(ref.at("classifier.weight"));
    method->head()->bias().copy_(ref.at("classifier.bias"));
  }
  const at::Tensor ids = ref.at("input_ids"), mask = ref.at("attention_mask"), labels = ref.at("labels");
  std::vector<tasks::RenderedExample> rendered;
  for (int64_t b = 0; b < ids.size(0); ++b) {
    const int64_t length = mask[b].sum().item<int64_t>();
    tasks::RenderedExample r;
    const at::Tensor row = ids[b].narrow(0, 0, length).contiguous(), tags = labels[b].narrow(0, 0, length).contiguous();
    r.input_ids.assign(row.data_ptr<int64_t>(), row.data_ptr<int64_t>() + length);
    r.token_labels.assign(tags.data_ptr<int64_t>(), tags.data_ptr<int64_t>() + length);
    r.token_type_ids.assign(length, 0);
    r.length = length;
    rendered.push_back(std::move(r));
  }
  const tasks::Objective objective(*f.task, f.backbone().info(), method->head());
  const tasks::Batch batch = objective.collate(rendered);
  ASSERT_TRUE(at::equal(batch.attention_mask, mask));
  models::BackboneInput input = method->prompt(batch);
  objective.request(batch, input);
  at::Tensor loss = objective.loss(f.backbone().forward(input), batch);
  loss.backward();
  const double want = ref.at("loss").item<double>();
  EXPECT_NEAR(loss.item<double>(), want, 1e-5 * want);
  EXPECT_LT(max_abs_diff(embedding.grad(), flat_of("grad.")), 1e-5);
  EXPECT_LT(max_abs_diff(method->head()->weight().grad(), ref.at("grad.classifier.weight")), 1e-5);
  EXPECT_LT(max_abs_diff(method->head()->bias().grad(), ref.at("grad.classifier.bias")), 1e-5);
}

// ../shared's tiny BERT (BertForMaskedLM: no pooler) with the pooler BertForSequenceClassification drew in
// PEFT's run: after torch.manual_seed(0), N(0, 0.02) for pooler.dense.weight [d, d], then the classifier.
// Written to `dir` as a model directory; the classifier draw is checked against PEFT's init.
std::string bert_with_pooler(const std::string& dir, const at::Tensor& peft_classifier) {
  const std::string golden = testing::model_dir("bert");
  for (const auto& entry : fs::directory_iterator(golden)) {
    const std::string file = entry.path().filename().string();
    if (file != "model.safetensors" && file.rfind("golden", 0) != 0) fs::copy_file(entry.path(), fs::path(dir) / file);
  }
  auto weights = io::load_safetensors(golden + "/model.safetensors");
  const int64_t d = weights.at("bert.embeddings.word_embeddings.weight").size(1);
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(0);
  const auto options = at::TensorOptions().dtype(at::kFloat);
  weights["bert.pooler.dense.weight"] = at::normal(0.0, 0.02, {d, d}, generator, options);  // [d, d]
  weights["bert.pooler.dense.bias"] = at::zeros({d});
  EXPECT_TRUE(at::equal(at::normal(0.0, 0.02, {2, d}, generator, options), peft_classifier))
      << "the pooler could not be reproduced";
  std::vector<std::pair<std::string, at::Tensor>> tensors(weights.begin(), weights.end());
  io::save_safetensors(dir + "/model.safetensors", tensors, {{"format", "pt"}});
  return dir;
}

// PEFT's batch as the trainer sees it: rendered rows collated by the objective (right padding).
tasks::Batch peft_batch(const std::map<std::string, at::Tensor>& file, const tasks::Objective& objective) {
  const at::Tensor ids = file.at("input_ids"), mask = file.at("attention_mask");  // [B, T]
  std::vector<tasks::RenderedExample> rendered;
  for (int64_t b = 0; b < ids.size(0); ++b) {
    const int64_t length = mask[b].sum().item<int64_t>();
    tasks::RenderedExample r;
    const at::Tensor row = ids[b].narrow(0, 0, length).contiguous();
    r.input_ids.assign(row.data_ptr<int64_t>(), row.data_ptr<int64_t>() + length);
    r.length = length;
    const at::Tensor types = file.at("token_type_ids")[b].narrow(0, 0, length).contiguous();
    r.token_type_ids.assign(types.data_ptr<int64_t>(), types.data_ptr<int64_t>() + length);
    r.label = file.at("labels")[b].item<int64_t>();
    rendered.push_back(std::move(r));
  }
  tasks::Batch batch = objective.collate(rendered);
  EXPECT_TRUE(at::equal(batch.input_ids, ids));
  EXPECT_TRUE(at::equal(batch.attention_mask, mask));
  return batch;
}

TEST(PTuningV2Peft, ReplaysPeftsPrefixTuningOnBertForSequenceClassification) {
  const std::string dir = testing::shared_path("golden/peft/bert_seqcls/prefix");
  if (!fs::exists(dir + "/result.json")) GTEST_SKIP() << "../shared not found: " << dir;
  std::ifstream in(dir + "/result.json");
  const nlohmann::json result = nlohmann::json::parse(in);
  const auto init = io::load_safetensors(dir + "/init_full_state.safetensors");
  const auto final_state = io::load_safetensors(dir + "/final_full_state.safetensors");
  models::testing::TempDir tmp;
  const std::string model_dir = bert_with_pooler(tmp.sub("bert", /*make_dir=*/true), init.at(kClassifierWeight));
  auto backbone = models::load_backbone(model_dir);
  auto tokenizer = text::load_tokenizer(model_dir);
  const auto task = testing::make_task(
      "{type: classification, template: '{text_a}', "
      "verbalizer: {mode: linear_head, pooling: pooler, dropout: 0.0, labels: [negative, positive]}}",
      *tokenizer, backbone->info());
  const MethodContext context{*backbone, *tokenizer, *task, /*seed=*/0};
  auto method = make_method_from("{name: p_tuning_v2, length: 8, prefix_dropout: 0.0}", context);
  const int64_t n = result.at("num_virtual_tokens");
  ASSERT_EQ(dynamic_cast<PTuningV2&>(*method).length(), n);
  // PEFT's initial state: its prefix table and its classifier (modules_to_save) are the method's parameters.
  EXPECT_TRUE(at::equal(method->export_state().at("embedding"), init.at("prompt_encoder.default.embedding.weight")))
      << "the seeded prefix differs from PEFT's";
  method->import_state({{"embedding", init.at("prompt_encoder.default.embedding.weight")},
                        {"head.weight", init.at(kClassifierWeight)},
                        {"head.bias", init.at(kClassifierBias)}},
                       dir + "/init_full_state.safetensors");

  const tasks::Objective objective(*task, backbone->info(), method->head());
  const tasks::Batch batch = peft_batch(io::load_safetensors(dir + "/batch.safetensors"), objective);
  train::OptimizerConfig adamw;
  adamw.name = "adamw";
  adamw.lr = result.at("optimizer").at("lr");
  adamw.beta1 = result.at("optimizer").at("betas")[0];
  adamw.beta2 = result.at("optimizer").at("betas")[1];
  adamw.eps = result.at("optimizer").at("eps");
  adamw.weight_decay = result.at("optimizer").at("weight_decay");
  auto optimizer = train::make_optimizer(adamw, method->trainable_parameters());
  const std::vector<double> losses = result.at("losses");
  ASSERT_EQ(losses.size(), 5u);
  double worst = 0;
  for (std::size_t step = 0; step < losses.size(); ++step) {
    optimizer->zero_grad();
    models::BackboneInput input = method->prompt(batch);
    objective.request(batch, input);
    const at::Tensor loss = objective.loss(backbone->forward(input), batch);  // pooler -> head -> CE
    const double relative = std::abs(loss.item<double>() - losses[step]) / std::abs(losses[step]);
    worst = std::max(worst, relative);
    EXPECT_LE(relative, 1e-5) << "step " << step << ": ptlab " << loss.item<double>() << " vs PEFT " << losses[step];
    loss.backward();
    optimizer->step();
  }
  const auto state = method->export_state();
  EXPECT_LE(max_abs_diff(state.at("embedding"), final_state.at("prompt_encoder.default.embedding.weight")), 1e-4);
  EXPECT_LE(max_abs_diff(state.at("head.weight"), final_state.at(kClassifierWeight)), 1e-4);
  EXPECT_LE(max_abs_diff(state.at("head.bias"), final_state.at(kClassifierBias)), 1e-4);
  std::cout << "[ parity ] bert_seqcls/prefix as p_tuning_v2: max relative loss error " << worst << "\n";

  // PEFT's saved adapter loads into the method (prefix and classifier) and is written back as PEFT wrote
  // it: the same tensors byte for byte, the same config but for the base model's path.
  auto fresh = make_method_from("{name: p_tuning_v2, length: 8, prefix_dropout: 0.0, init: zero}", context);
  fresh->load_state(dir + "/adapter_final");
  EXPECT_LE(max_abs_diff(fresh->head()->weight(), final_state.at(kClassifierWeight)), 1e-6);
  fresh->save_exports(tmp.str());
  auto bytes = [](const std::string& path) {
    std::ifstream file(path, std::ios::binary);
    std::ostringstream s;
    s << file.rdbuf();
    return s.str();
  };
  EXPECT_EQ(bytes(tmp.sub("adapter/adapter_model.safetensors")),
            bytes(dir + "/adapter_final/adapter_model.safetensors"));
  nlohmann::json ours = nlohmann::json::parse(bytes(tmp.sub("adapter/adapter_config.json")));
  nlohmann::json peft = nlohmann::json::parse(bytes(dir + "/adapter_final/adapter_config.json"));
  ours.erase("base_model_name_or_path");
  peft.erase("base_model_name_or_path");
  EXPECT_EQ(ours, peft);
  // An adapter without a classifier is an Error for a method with a head, and changes nothing.
  io::PeftPrefixAdapter no_head = io::import_peft_prefix_adapter(dir + "/adapter_final");
  no_head.extra.clear();
  io::export_peft_prefix_adapter(tmp.sub("no_head"), no_head);
  const at::Tensor before = fresh->head()->weight().clone();
  expect_one_line(error_of([&] { fresh->load_state(tmp.sub("no_head")); }),
                  "the adapter has no classifier (base_model.classifier.weight, base_model.classifier.bias)");
  EXPECT_TRUE(at::equal(fresh->head()->weight(), before));
}

TEST(PTuningV2Peft, TokenTaskAdapterRoundTrips) {
  PTLAB_METHOD_FIXTURE(f, "bert", kTokenTask);
  f.task->learn_labels({tagged({"the", "film"}, {"at", "nn"})});
  auto method = make_method_from("{name: p_tuning_v2}", *f.context);
  models::testing::TempDir tmp;
  method->save_exports(tmp.str());
  const io::PeftPrefixAdapter adapter = io::import_peft_prefix_adapter(tmp.sub("adapter"));
  EXPECT_EQ(adapter.config.task_type, "TOKEN_CLS");
  ASSERT_EQ(adapter.extra.count("base_model.classifier.weight"), 1u);
  EXPECT_TRUE(at::equal(adapter.extra.at("base_model.classifier.weight"), method->head()->weight()));
  EXPECT_TRUE(at::equal(adapter.extra.at("base_model.classifier.bias"), method->head()->bias()));
  // It loads back (prefix and head) into a method drawn otherwise, as does prompt.safetensors.
  auto fresh = make_method_from("{name: p_tuning_v2, init: zero}", *f.context);
  fresh->load_state(tmp.sub("adapter"));
  method->eval();
  fresh->eval();
  auto& a = dynamic_cast<PTuningV2&>(*method);
  auto& b = dynamic_cast<PTuningV2&>(*fresh);
  EXPECT_TRUE(at::equal(a.flat_prefix(), b.flat_prefix()));
  EXPECT_TRUE(at::equal(a.head()->weight(), b.head()->weight()));
  std::vector<std::pair<std::string, at::Tensor>> state;
  for (const auto& [name, t] : method->export_state()) state.emplace_back(name, t);
  io::save_safetensors(tmp.sub("prompt.safetensors"), state, {{"format", "pt"}});
  auto third = make_method_from("{name: p_tuning_v2, init: zero}", *f.context);
  third->load_state(tmp.sub("prompt.safetensors"));
  EXPECT_TRUE(at::equal(third->head()->bias(), method->head()->bias()));
  third->eval();
  EXPECT_TRUE(at::equal(dynamic_cast<PTuningV2&>(*third).flat_prefix(), a.flat_prefix()));
}

}  // namespace
}  // namespace ptlab::methods
