#include "methods/p_tuning_v2/p_tuning_v2.h"

#include "framework/core/error.h"
#include "framework/core/suggest.h"
#include "framework/io/peft_adapter.h"
#include "methods/task_head.h"

#include <ATen/core/grad_mode.h>

#include <filesystem>

namespace ptlab::methods {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kHeadNames = {"linear", "verbalizer"};
// Where PEFT saves a SEQ_CLS / TOKEN_CLS model's classifier (modules_to_save, "modules_to_save.default"
// dropped from the key, as in ../shared/golden/peft/bert_seqcls/*/adapter_final).
constexpr const char* kClassifierWeight = "base_model.classifier.weight";
constexpr const char* kClassifierBias = "base_model.classifier.bias";

std::string shape_text(at::IntArrayRef shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

}  // namespace

PTuningV2Config PTuningV2Config::decode(config::Reader reader) {
  PTuningV2Config c;
  const std::string where = reader.key_path("head");
  const std::string head = reader.get<std::string>("head", "linear");
  PTLAB_CHECK(head == "linear" || head == "verbalizer", "{}: unknown head '{}'{}; known: {}", where, head,
              did_you_mean(head, kHeadNames), join_names(kHeadNames));
  c.head = head == "linear" ? PTuningV2Head::kLinear : PTuningV2Head::kVerbalizer;
  PrefixTuningConfig defaults;
  defaults.length = 8;
  defaults.prefix_dropout = 0.1;  // THUDM's hidden_dropout_prob
  c.prefix = PrefixTuningConfig::decode(reader, defaults);
  return c;
}

PTuningV2::PTuningV2(PTuningV2Config config, const MethodContext& context)
    : PrefixTuning(std::move(config.prefix), context, "p_tuning_v2"), head_kind_(config.head) {
  const tasks::Task& task = context.task;
  const std::string head_key = this->config().at("head");
  if (head_kind_ == PTuningV2Head::kLinear) {
    head_ = register_module("head", make_task_head(context, "p_tuning_v2"));
    peft_task_type_ = task.type() == "token_classification" ? "TOKEN_CLS" : "SEQ_CLS";
    return;
  }
  PTLAB_CHECK(task.verbalizer() != nullptr,
              "{}=verbalizer scores with the task's label words, but task {} of type {} has no verbalizer; use "
              "{}=linear (a per-token head for token_classification)",
              head_key, task.name(), task.type(), head_key);
  PTLAB_CHECK(!task_takes_head(task),
              "{}=verbalizer scores with the task's label words, but task {}'s verbalizer is in mode linear_head "
              "(a head this method would have to train); use {}=linear, or a verbalizer with label words",
              head_key, task.name(), head_key);
}

std::unique_ptr<Method> PTuningV2::make(config::Reader reader, const MethodContext& context) {
  return std::make_unique<PTuningV2>(PTuningV2Config::decode(reader), context);
}

void PTuningV2::save_exports(const std::string& dir) {
  if (!peft_layout()) return;  // ptlab's own T5 layout: prompt.safetensors only (prefix_tuning.h)
  io::PeftPrefixAdapter adapter = peft_adapter();
  if (head_) {
    adapter.config.task_type = peft_task_type_;
    at::NoGradGuard no_grad;
    adapter.extra.emplace(kClassifierWeight, head_->weight().detach().to(at::kCPU, at::kFloat).contiguous());  // [C, d]
    adapter.extra.emplace(kClassifierBias, head_->bias().detach().to(at::kCPU, at::kFloat).contiguous());      // [C]
  }
  io::export_peft_prefix_adapter((fs::path(dir) / "adapter").string(), adapter);
}

void PTuningV2::load_state(const std::string& path) {
  if (!fs::is_directory(path)) {
    Method::load_state(path);
    return;
  }
  check_peft_layout(path);
  const io::PeftPrefixAdapter adapter = io::import_peft_prefix_adapter(path);
  if (head_) {
    const auto weight = adapter.extra.find(kClassifierWeight);
    const auto bias = adapter.extra.find(kClassifierBias);
    PTLAB_CHECK(weight != adapter.extra.end() && bias != adapter.extra.end(),
                "{}: the adapter has no classifier ({}, {}), but this p_tuning_v2 trains a head; use an adapter "
                "saved with one (PEFT task_type SEQ_CLS / TOKEN_CLS), or {}=verbalizer",
                path, kClassifierWeight, kClassifierBias, config().at("head"));
    PTLAB_CHECK(weight->second.sizes() == head_->weight().sizes() && bias->second.sizes() == head_->bias().sizes(),
                "{}: the adapter's classifier is {} but this head is [{}, {}] (classes x hidden size); use an adapter "
                "trained for this task and model",
                path, shape_text(weight->second.sizes()), head_->num_classes(), head_->hidden_size());
    load_peft_prefix(adapter, path);  // checks the prefix before anything changes
    at::NoGradGuard no_grad;
    head_->weight().copy_(weight->second);
    head_->bias().copy_(bias->second);
    return;
  }
  load_peft_prefix(adapter, path);
}

}  // namespace ptlab::methods
