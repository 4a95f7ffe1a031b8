// Loss parity of Prefix Tuning with Hugging Face PEFT 0.10.0: for every golden run under
// ../shared/golden/peft/<run>/prefix{,_proj}{,_kvfix}/ that PEFT could train, the method built from its
// config (seed 0) must start from PEFT's initial encoder, and 5 AdamW steps (lr 1e-2, betas (0.9, 0.999),
// eps 1e-8, no decay) on PEFT's batch — collated as the trainer does, fed through method.prompt(), the
// frozen backbone and the task losses — must give PEFT's per-step losses within 1e-5 relative, its step-0
// gradients and its final parameters. Plus PEFT adapter interchange (prefix_tuning_peft.cpp,
// framework/io/peft_prefix_adapter.h) and the one-line errors for bad inputs.
#include "methods/prefix_tuning/prefix_tuning.h"

#include "framework/io/peft_prefix_adapter.h"
#include "framework/io/safetensors.h"
#include "framework/train/optimizer.h"
#include "tasks/batch.h"
#include "tasks/linear_head.h"
#include "tasks/objective.h"
#include "tests/methods/methods_test_support.h"

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

constexpr const char* kPeftPrefix = "prompt_encoder.default.";
constexpr const char* kClassifierWeight = "base_model.classifier.modules_to_save.default.weight";
constexpr const char* kClassifierBias = "base_model.classifier.modules_to_save.default.bias";

struct PeftCase {
  std::string run, method;
};

void PrintTo(const PeftCase& c, std::ostream* os) { *os << c.run << "/" << c.method; }

std::string case_name(const ::testing::TestParamInfo<PeftCase>& info) {
  return info.param.run + "_" + info.param.method;
}

double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  EXPECT_EQ(a.sizes(), b.sizes());
  if (a.sizes() != b.sizes()) return 1e30;
  return (a.detach().to(at::kDouble) - b.detach().to(at::kDouble)).abs().max().item<double>();
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// PEFT's batch as a tasks::Batch, built the way the trainer builds one (no virtual tokens in the input:
// the prefix lives in the layers), padded on the right by tasks::collate.
tasks::Batch peft_batch(const std::map<std::string, at::Tensor>& file, const std::string& flavour) {
  const at::Tensor ids = file.at("input_ids"), mask = file.at("attention_mask");  // [B, T]
  const int64_t rows = ids.size(0), width = ids.size(1);
  int64_t pad_id = 0;
  std::vector<tasks::RenderedExample> rendered;
  for (int64_t b = 0; b < rows; ++b) {
    const int64_t length = mask[b].sum().item<int64_t>();
    if (length < width) pad_id = ids[b][length].item<int64_t>();
    tasks::RenderedExample r;
    const at::Tensor row = ids[b].narrow(0, 0, length).contiguous();
    r.input_ids.assign(row.data_ptr<int64_t>(), row.data_ptr<int64_t>() + length);
    r.length = length;
    r.token_type_ids.assign(length, 0);
    if (file.count("token_type_ids")) {
      const at::Tensor types = file.at("token_type_ids")[b].narrow(0, 0, length).contiguous();
      r.token_type_ids.assign(types.data_ptr<int64_t>(), types.data_ptr<int64_t>() + length);
    }
    if (flavour == "causal") {
      const at::Tensor labels = file.at("labels")[b].narrow(0, 0, length).contiguous();
      r.token_labels.assign(labels.data_ptr<int64_t>(), labels.data_ptr<int64_t>() + length);
    } else if (flavour == "seqcls") {
      r.label = file.at("labels")[b].item<int64_t>();
    }
    rendered.push_back(std::move(r));
  }
  tasks::CollateOptions options;
  options.pad_id = pad_id;
  tasks::Batch batch = tasks::collate(rendered, options);
  EXPECT_TRUE(at::equal(batch.input_ids, ids));
  EXPECT_TRUE(at::equal(batch.attention_mask, mask));
  if (flavour == "causal") {
    EXPECT_TRUE(at::equal(batch.token_labels, file.at("labels")));
  }
  if (flavour == "seq2seq") {
    // transformers' T5 shift_right: decoder input = [start] + labels[:-1], -100 read as the pad id (0).
    const at::Tensor labels = file.at("labels");  // [B, T_dec]
    at::Tensor shifted = at::cat({at::zeros({rows, 1}, at::kLong), labels.narrow(1, 0, labels.size(1) - 1)}, 1);
    batch.decoder_input_ids = shifted.masked_fill(shifted.eq(tasks::kIgnoreIndex), 0);
    batch.decoder_attention_mask = at::ones_like(labels);  // transformers passes none: all ones
    batch.decoder_labels = labels;
  }
  return batch;
}

// The method's parameter name for a PEFT prompt_encoder key ("embedding.weight" -> "embedding").
std::string ptlab_name(const std::string& peft_key) {
  std::string name = peft_key.substr(std::string(kPeftPrefix).size());
  return name == "embedding.weight" ? "embedding" : name;
}

class PrefixPeftParity : public ::testing::TestWithParam<PeftCase> {};

TEST_P(PrefixPeftParity, FiveAdamWStepsMatchPeft) {
  const PeftCase& c = GetParam();
  const std::string dir = testing::shared_path("golden/peft/" + c.run + "/" + c.method);
  if (!fs::exists(dir + "/result.json")) GTEST_SKIP() << "../shared not found (or PEFT could not run it): " << dir;
  std::ifstream in(dir + "/result.json");
  const nlohmann::json result = nlohmann::json::parse(in);
  testing::SharedModel* model = testing::shared_model(testing::shared_path(result.at("base_model").get<std::string>()));
  if (model == nullptr) GTEST_SKIP() << "model of " << dir << " unavailable (SentencePiece?)";
  models::Backbone& backbone = *model->backbone;
  const std::string flavour = result.at("flavour");
  const int64_t n = result.at("num_virtual_tokens");
  const nlohmann::json& peft_config = result.at("adapter_init").at("adapter_config");
  const bool projection = peft_config.at("prefix_projection");
  const auto batch_file = io::load_safetensors(dir + "/batch.safetensors");
  const auto init = io::load_safetensors(dir + "/init_full_state.safetensors");
  const auto grads0 = io::load_safetensors(dir + "/grads_step0.safetensors");
  const auto final_state = io::load_safetensors(dir + "/final_full_state.safetensors");

  const auto task = testing::make_task(testing::kLmTask, *model->tokenizer, backbone.info());
  const MethodContext context{backbone, *model->tokenizer, *task, /*seed=*/0};
  const std::string yaml = projection ? "{name: prefix_tuning, length: " + std::to_string(n) +
                                            ", prefix_projection: true, "
                                            "encoder_hidden_size: " +
                                            std::to_string(peft_config.at("encoder_hidden_size").get<int64_t>()) + "}"
                                      : "{name: prefix_tuning, length: " + std::to_string(n) + "}";
  auto method = testing::make_method_from(yaml, context);
  auto& pt = dynamic_cast<PrefixTuning&>(*method);
  EXPECT_EQ(pt.kv_dim(), peft_config.at("token_dim").get<int64_t>());
  EXPECT_EQ(pt.kv_heads(), peft_config.at("num_attention_heads").get<int64_t>());

  // Every PEFT encoder tensor maps onto a parameter of the same shape; the seeded init is PEFT's.
  std::map<std::string, at::Tensor> peft_init;
  bool same_init = true;
  train::NamedParameters params = method->trainable_parameters();
  std::map<std::string, at::Tensor> by_name(params.begin(), params.end());
  for (const auto& [key, value] : init) {
    if (key.rfind(kPeftPrefix, 0) != 0) continue;
    const std::string name = ptlab_name(key);
    ASSERT_TRUE(by_name.count(name)) << "no parameter for PEFT's " << key;
    ASSERT_EQ(by_name.at(name).sizes(), value.sizes()) << name;
    same_init = same_init && at::equal(by_name.at(name), value);
    peft_init.emplace(name, value);
  }
  EXPECT_EQ(peft_init.size(), by_name.size());
  EXPECT_TRUE(same_init) << "the seeded init differs from PEFT's";
  method->import_state(peft_init, dir + "/init_full_state.safetensors");

  // bert_seqcls: the pooler / classifier sequence of the prompt-tuning test (prompt_tuning_peft_test.cpp).
  tasks::LinearHead classifier{nullptr};
  at::Tensor pooler_weight, pooler_bias;
  if (flavour == "seqcls") {
    at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(0);
    const int64_t d = backbone.info().hidden_size;
    const auto options = at::TensorOptions().dtype(at::kFloat);
    pooler_weight = at::normal(0.0, 0.02, {d, d}, generator, options);  // [d, d]
    pooler_bias = at::zeros({d});
    const at::Tensor drawn_classifier = at::normal(0.0, 0.02, {2, d}, generator, options);
    EXPECT_TRUE(at::equal(drawn_classifier, init.at(kClassifierWeight))) << "the pooler could not be reproduced";
    classifier = tasks::LinearHead(d, 2, /*dropout=*/0.0);
    {
      at::NoGradGuard no_grad;
      classifier->weight().copy_(init.at(kClassifierWeight));
      classifier->bias().copy_(init.at(kClassifierBias));
    }
    params.emplace_back("classifier.weight", classifier->weight());
    params.emplace_back("classifier.bias", classifier->bias());
  }

  train::OptimizerConfig adamw;
  adamw.name = "adamw";
  adamw.lr = result.at("optimizer").at("lr");
  adamw.beta1 = result.at("optimizer").at("betas")[0];
  adamw.beta2 = result.at("optimizer").at("betas")[1];
  adamw.eps = result.at("optimizer").at("eps");
  adamw.weight_decay = result.at("optimizer").at("weight_decay");
  auto optimizer = train::make_optimizer(adamw, params);

  const tasks::Batch batch = peft_batch(batch_file, flavour);
  const std::vector<double> losses = result.at("losses");
  double worst = 0;
  for (std::size_t step = 0; step < losses.size(); ++step) {
    optimizer->zero_grad();
    models::BackboneInput input = method->prompt(batch);
    input.logits.mode = flavour == "seqcls" ? models::LogitsRequest::Mode::kNone : models::LogitsRequest::Mode::kAll;
    const models::BackboneOutput out = backbone.forward(input);
    at::Tensor loss;
    if (flavour == "causal") {
      loss = tasks::causal_lm_loss(out.logits, batch.token_labels);
    } else if (flavour == "seq2seq") {
      loss = tasks::token_loss(out.logits, batch.decoder_labels);
    } else {  // seqcls: pooler (tanh(W h[:, 0] + b)) -> classifier -> cross-entropy
      const at::Tensor first = out.last_hidden_state.select(1, 0);                        // [B, d]
      const at::Tensor pooled = at::tanh(at::linear(first, pooler_weight, pooler_bias));  // [B, d]
      loss = at::cross_entropy_loss(classifier->forward(pooled), batch.labels);
    }
    const double value = loss.item<double>();
    const double relative = std::abs(value - losses[step]) / std::abs(losses[step]);
    worst = std::max(worst, relative);
    EXPECT_LE(relative, 1e-5) << "step " << step << ": ptlab " << value << " vs PEFT " << losses[step];
    loss.backward();
    if (step == 0) {
      for (const auto& [key, peft_grad] : grads0) {
        const std::string name = key.rfind(kPeftPrefix, 0) == 0 ? ptlab_name(key) : "";
        const at::Tensor grad = !name.empty()              ? by_name.at(name).grad()
                                : key == kClassifierWeight ? classifier->weight().grad()
                                                           : classifier->bias().grad();
        EXPECT_LE(max_abs_diff(grad, peft_grad), 1e-6 + 1e-4 * peft_grad.abs().max().item<double>()) << key;
      }
    }
    optimizer->step();
  }
  double state_error = 0;
  for (const auto& [key, expected] : final_state) {
    const std::string name = key.rfind(kPeftPrefix, 0) == 0 ? ptlab_name(key) : "";
    const at::Tensor actual = !name.empty()              ? by_name.at(name)
                              : key == kClassifierWeight ? classifier->weight()
                                                         : classifier->bias();
    state_error = std::max(state_error, max_abs_diff(actual, expected));
  }
  EXPECT_LE(state_error, 1e-4);

  // What PEFT saved after training is the flat prefix (the projection's output).
  const at::Tensor saved =
      io::load_safetensors(dir + "/adapter_final/adapter_model.safetensors").at("prompt_embeddings");
  method->eval();
  const at::Tensor flat = [&] {
    at::NoGradGuard no_grad;
    return pt.flat_prefix();
  }();
  EXPECT_LE(max_abs_diff(flat, saved), 1e-4);  // as the final state
  std::cout << "[ parity ] " << c.run << "/" << c.method << ": max relative loss error " << worst
            << ", final state max |diff| " << state_error << "\n";
  RecordProperty("max_relative_loss_error", std::to_string(worst));
}

INSTANTIATE_TEST_SUITE_P(Golden, PrefixPeftParity,
                         ::testing::Values(PeftCase{"gpt2", "prefix"}, PeftCase{"gpt2", "prefix_proj"},
                                           PeftCase{"gpt_neox", "prefix"}, PeftCase{"gpt_neox", "prefix_proj"},
                                           PeftCase{"llama", "prefix_kvfix"}, PeftCase{"llama", "prefix_proj_kvfix"},
                                           PeftCase{"stories260K", "prefix_kvfix"},
                                           PeftCase{"stories260K", "prefix_proj_kvfix"},
                                           PeftCase{"bert_seqcls", "prefix"}, PeftCase{"bert_seqcls", "prefix_proj"},
                                           PeftCase{"t5", "prefix"}, PeftCase{"t5", "prefix_proj"}),
                         case_name);

// ---- PEFT adapters ------------------------------------------------------------------------------------------

std::string temp_dir(const std::string& name) {
  auto dir = fs::temp_directory_path() / ("ptlab_prefix_peft_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  return dir.string();
}

// import + export reproduces PEFT's adapter_config.json and adapter_model.safetensors byte for byte.
TEST(PrefixTuningPeft, PeftAdaptersRoundTripByteForByte) {
  int checked = 0;
  for (const std::string run : {"gpt2", "gpt_neox", "llama", "stories260K", "t5", "bert_seqcls"}) {
    for (const std::string method : {"prefix", "prefix_proj", "prefix_kvfix", "prefix_proj_kvfix"}) {
      const std::string adapter = testing::shared_path("golden/peft/" + run + "/" + method + "/adapter_final");
      if (!fs::exists(adapter)) continue;
      SCOPED_TRACE(adapter);
      const std::string out = temp_dir("roundtrip");
      io::export_peft_prefix_adapter(out, io::import_peft_prefix_adapter(adapter));
      for (const std::string file : {"adapter_config.json", "adapter_model.safetensors"})
        EXPECT_EQ(read_bytes(out + "/" + file), read_bytes(adapter + "/" + file)) << file;
      fs::remove_all(out);
      ++checked;
    }
  }
  if (checked == 0) GTEST_SKIP() << "../shared not found";
}

TEST(PrefixTuningPeft, LoadsPeftsAdapterAndExportsItBack) {
  const std::string adapter = testing::shared_path("golden/peft/llama/prefix_proj_kvfix/adapter_final");
  if (!fs::exists(adapter)) GTEST_SKIP() << "../shared not found";
  PTLAB_METHOD_FIXTURE(f, "llama", testing::kLmTask);
  // A projected adapter holds the MLP's output: it loads as the flat table of a method without projection.
  auto method = testing::make_method_from("{name: prefix_tuning, length: 8}", *f.context);
  method->load_state(adapter);
  auto& pt = dynamic_cast<PrefixTuning&>(*method);
  const at::Tensor stored = io::load_safetensors(adapter + "/adapter_model.safetensors").at("prompt_embeddings");
  EXPECT_TRUE(at::equal(pt.flat_prefix(), stored));
  const std::string dir = temp_dir("llama");
  method->save_exports(dir);
  const io::PeftPrefixAdapter back = io::import_peft_prefix_adapter(dir + "/adapter");
  EXPECT_TRUE(at::equal(back.prompt_embeddings, stored));
  EXPECT_EQ(back.config.token_dim, 32);           // 2 KV heads x 16
  EXPECT_EQ(back.config.num_attention_heads, 2);  // KV heads, as PEFT's kvfix runs
  EXPECT_EQ(back.config.num_layers, 2);
  EXPECT_EQ(back.config.task_type, "CAUSAL_LM");
  EXPECT_FALSE(back.config.prefix_projection);
  // prompt.safetensors round trip through export_state / load_state.
  io::save_safetensors(dir + "/prompt.safetensors", {{"embedding", pt.export_state().at("embedding")}});
  auto fresh = testing::make_method_from("{name: prefix_tuning, length: 8, init: zero}", *f.context);
  fresh->load_state(dir + "/prompt.safetensors");
  EXPECT_TRUE(at::equal(dynamic_cast<PrefixTuning&>(*fresh).flat_prefix(), stored));

  auto projected = testing::make_method_from("{name: prefix_tuning, length: 8, prefix_projection: true}", *f.context);
  EXPECT_THAT(testing::error_of([&] { projected->load_state(adapter); }),
              ::testing::HasSubstr("loads only into method.prefix_projection=false"));
  fs::remove_all(dir);
}

TEST(PrefixTuningPeft, AdapterOfAnotherModelIsAnError) {
  const std::string adapter = testing::shared_path("golden/peft/gpt2/prefix/adapter_final");
  if (!fs::exists(adapter)) GTEST_SKIP() << "../shared not found";
  PTLAB_METHOD_FIXTURE(f, "llama", testing::kLmTask);
  auto method = testing::make_method_from("{name: prefix_tuning, length: 8}", *f.context);
  const std::string e = testing::error_of([&] { method->load_state(adapter); });
  EXPECT_THAT(e, ::testing::HasSubstr("8 positions x 2 layers x key/value width 64"));
  EXPECT_THAT(e, ::testing::HasSubstr("has 8 x 2 x 32 (2 key/value heads of 16)"));
  EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  const std::string prompt_adapter = testing::shared_path("golden/peft/llama/prompt_random/adapter_final");
  EXPECT_THAT(testing::error_of([&] { method->load_state(prompt_adapter); }),
              ::testing::HasSubstr("peft_type is 'PROMPT_TUNING'"));
}

}  // namespace
}  // namespace ptlab::methods
