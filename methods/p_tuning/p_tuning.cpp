#include "methods/p_tuning/p_tuning.h"

#include "framework/core/error.h"
#include "framework/core/suggest.h"
#include "framework/io/safetensors.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/grad_mode.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/linear.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <tuple>
#include <utility>

namespace ptlab::methods {
namespace {

const std::vector<std::string> kEncoderNames = {"mlp", "lstm"};
const std::vector<std::string> kInitNames = {"normal", "file"};

// nn.Linear's default init in PEFT's order: weight U(+-1/sqrt(fan_in)) (kaiming_uniform_ with a = sqrt(5)),
// then bias with the same bound.
torch::nn::Linear make_linear(int64_t in, int64_t out, at::Generator& generator) {
  torch::nn::Linear linear(torch::nn::LinearOptions(in, out));
  at::NoGradGuard no_grad;
  const double bound = 1.0 / std::sqrt(static_cast<double>(in));
  linear->weight.uniform_(-bound, bound, generator);  // [out, in]
  linear->bias.uniform_(-bound, bound, generator);    // [out]
  return linear;
}

// What a p_tuning state holds, read off its tensor names and shapes, for messages.
struct StateShape {
  bool p_tuning = false;  // has "embedding" and an "mlp_head"
  bool lstm = false;
  int64_t layers = 0, hidden = 0, rows = 0, width = 0;

  static StateShape of(const std::map<std::string, at::Tensor>& state) {
    StateShape s;
    auto get = [&](const std::string& name) -> const at::Tensor* {
      auto it = state.find(name);
      return it == state.end() || !it->second.defined() ? nullptr : &it->second;
    };
    const at::Tensor* embedding = get("embedding");
    const at::Tensor* first = get("mlp_head.0.weight");
    if (embedding == nullptr || embedding->dim() != 2 || first == nullptr || first->dim() != 2) return s;
    s.p_tuning = true;
    s.rows = embedding->size(0);
    s.width = embedding->size(1);
    if (const at::Tensor* hh = get("lstm_head.weight_hh_l0")) {
      s.lstm = true;
      s.hidden = hh->dim() == 2 ? hh->size(1) : 0;
      while (get("lstm_head.weight_ih_l" + std::to_string(s.layers))) ++s.layers;
    } else {
      s.hidden = first->size(0);
    }
    return s;
  }

  bool operator==(const StateShape& o) const {
    return lstm == o.lstm && layers == o.layers && hidden == o.hidden && rows == o.rows && width == o.width;
  }

  std::string text() const {
    return lstm ? fmt::format("an lstm encoder ({} layers, hidden size {}) over {} rows of width {}", layers, hidden,
                              rows, width)
                : fmt::format("an mlp encoder (hidden size {}) over {} rows of width {}", hidden, rows, width);
  }
};

}  // namespace

const char* prompt_encoder_name(PromptEncoderType type) { return type == PromptEncoderType::kLstm ? "lstm" : "mlp"; }

PTuningConfig PTuningConfig::decode(config::Reader reader) {
  PTuningConfig c;
  c.where = reader.path();
  reader.has("name");  // make_method's key
  c.length = reader.get<std::optional<int64_t>>("length", c.length);
  PTLAB_CHECK(!c.length || *c.length >= 1,
              "{}: the prompt needs at least 1 virtual token, got {} (null takes the template's {{soft:N}} total)",
              c.at("length"), c.length.value_or(0));

  const std::string encoder = reader.get<std::string>("encoder", prompt_encoder_name(c.encoder));
  PTLAB_CHECK(encoder == "mlp" || encoder == "lstm", "{}: unknown prompt encoder '{}'{}; known: {}", c.at("encoder"),
              encoder, did_you_mean(encoder, kEncoderNames), join_names(kEncoderNames));
  c.encoder = encoder == "lstm" ? PromptEncoderType::kLstm : PromptEncoderType::kMlp;

  c.encoder_hidden_size = reader.get<std::optional<int64_t>>("encoder_hidden_size", std::nullopt);
  PTLAB_CHECK(!c.encoder_hidden_size || *c.encoder_hidden_size >= 1,
              "{}: the encoder's hidden size must be >= 1, got {} (null = the model's hidden size)",
              c.at("encoder_hidden_size"), c.encoder_hidden_size.value_or(0));
  c.encoder_num_layers = reader.get<std::optional<int64_t>>("encoder_num_layers", std::nullopt);
  c.encoder_dropout = reader.get<std::optional<double>>("encoder_dropout", std::nullopt);
  if (c.encoder == PromptEncoderType::kMlp) {
    for (const auto& [key, set] : {std::pair<std::string, bool>{"encoder_num_layers", c.encoder_num_layers.has_value()},
                                   std::pair<std::string, bool>{"encoder_dropout", c.encoder_dropout.has_value()}}) {
      PTLAB_CHECK(!set,
                  "{}: only the lstm encoder has it; the mlp is always Linear-ReLU-Linear-ReLU-Linear without "
                  "dropout (PEFT ignores it with a warning); remove it, or set {}=lstm",
                  c.at(key), c.at("encoder"));
    }
  }
  PTLAB_CHECK(!c.encoder_num_layers || *c.encoder_num_layers >= 1, "{}: the LSTM needs at least 1 layer, got {}",
              c.at("encoder_num_layers"), c.encoder_num_layers.value_or(0));
  PTLAB_CHECK(!c.encoder_dropout || (*c.encoder_dropout >= 0 && *c.encoder_dropout < 1),
              "{}: a dropout probability in [0, 1), got {}", c.at("encoder_dropout"), c.encoder_dropout.value_or(0));

  c.num_tasks = reader.get<std::optional<int64_t>>("num_tasks", c.num_tasks);
  PTLAB_CHECK(!c.num_tasks || *c.num_tasks >= 1,
              "{}: must be >= 1 (the number of tasks with their own prompt; 1 = one prompt for every example), got {}",
              c.at("num_tasks"), c.num_tasks.value_or(0));

  c.init = reader.get<std::string>("init", c.init);
  PTLAB_CHECK(c.init == "normal" || c.init == "file", "{}: unknown p_tuning init '{}'{}; known: {}", c.at("init"),
              c.init, did_you_mean(c.init, kInitNames), join_names(kInitNames));
  c.init_file = reader.get<std::optional<std::string>>("init_file", std::nullopt);
  if (c.init == "file") {
    PTLAB_CHECK(c.init_file.has_value() && !c.init_file->empty(),
                "{}: init file needs a p_tuning prompt.safetensors to start from; set {}=PATH", c.at("init_file"),
                c.at("init_file"));
  } else {
    PTLAB_CHECK(!c.init_file, "{}: is set but {} is '{}'; the file only initialises init=file (set {}=file)",
                c.at("init_file"), c.at("init"), c.init, c.at("init"));
  }
  reader.finish();
  return c;
}

PTuning::PTuning(PTuningConfig config, const MethodContext& context)
    : config_(std::move(config)), backbone_(&context.backbone) {
  const models::BackboneInfo& info = backbone_->info();
  config_.length = resolve_soft_length(config_.length, context.task.prompt(), info, config_.at("length"));
  const int64_t P = *config_.length;
  const std::vector<std::string>& names = context.task.config().task_names;
  num_tasks_ = resolve_num_tasks(config_.num_tasks, context.task.config(), config_.at("num_tasks"),
                                 "one prompt per task");
  if (static_cast<int64_t>(names.size()) == num_tasks_) task_names_ = names;
  const int64_t d = info.hidden_size, T = num_tasks_;
  hidden_ = config_.encoder_hidden_size.value_or(d);
  submodules_ = info.is_encoder_decoder ? 2 : 1;  // PEFT's num_transformer_submodules (see the top)
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(context.seed);
  embedding_ = register_parameter("embedding", at::empty({T * submodules_ * P, d}).normal_(0.0, 1.0, generator),
                                  /*requires_grad=*/true);  // [T S P, d]
  if (config_.encoder == PromptEncoderType::kLstm) {
    const int64_t h = hidden_;
    lstm_ = register_module("lstm_head", torch::nn::LSTM(torch::nn::LSTMOptions(d, h)
                                                             .num_layers(config_.lstm_layers())
                                                             .dropout(config_.lstm_dropout())
                                                             .bidirectional(true)
                                                             .batch_first(true)));
    // PyTorch's LSTM.reset_parameters: every tensor U(+-1/sqrt(h)) in registration order (layer, direction,
    // then w_ih, w_hh, b_ih, b_hh), which LibTorch's parameters() keeps.
    at::NoGradGuard no_grad;
    const double bound = 1.0 / std::sqrt(static_cast<double>(h));
    for (at::Tensor& p : lstm_->parameters()) p.uniform_(-bound, bound, generator);
    // One statement per draw: the order of a call's arguments is unspecified in C++.
    torch::nn::Linear first = make_linear(2 * h, 2 * h, generator);
    torch::nn::Linear last = make_linear(2 * h, d, generator);
    mlp_ = register_module("mlp_head", torch::nn::Sequential(first, torch::nn::ReLU(), last));
  } else {
    torch::nn::Linear first = make_linear(d, hidden_, generator);
    torch::nn::Linear second = make_linear(hidden_, hidden_, generator);
    torch::nn::Linear last = make_linear(hidden_, d, generator);
    mlp_ =
        register_module("mlp_head", torch::nn::Sequential(first, torch::nn::ReLU(), second, torch::nn::ReLU(), last));
  }
  to(backbone_->device());
  if (config_.init == "file") {
    const std::string& path = *config_.init_file;
    PTLAB_CHECK(std::filesystem::is_regular_file(path),
                "{}: '{}' is not a file; init file takes a p_tuning prompt.safetensors (a PEFT P_TUNING adapter holds "
                "only the encoder's output, so it cannot start an encoder)",
                config_.at("init_file"), path);
    import_state(io::load_safetensors(path), config_.at("init_file") + " (" + path + ")");
  }
}

int64_t PTuning::front_soft_tokens(const tasks::Template& tmpl) const {
  return tmpl.num_soft_tokens() == 0 ? length() : 0;
}

at::Tensor PTuning::encode(const at::Tensor& indices) {
  at::Tensor x = at::embedding(embedding_, indices);  // [N, S P, d]: one sequence per row, in template order
  if (lstm_) x = std::get<0>(lstm_->forward(x));      // [N, S P, 2h]
  return mlp_->forward(x);                            // [N, S P, d]
}

at::Tensor PTuning::task_rows(const at::Tensor& tasks) const {
  const int64_t rows = submodules_ * length();
  const at::Tensor offsets = at::arange(rows, tasks.options());  // [S P]
  return tasks.unsqueeze(1) * rows + offsets.unsqueeze(0);       // [N, S P]: task t's rows t*SP ..
}

at::Tensor PTuning::encoded_prompts() {
  if (folded_.defined()) return folded_.unsqueeze(0);  // [1, S P, d]
  return encode(task_rows(at::arange(num_tasks(), at::TensorOptions().dtype(at::kLong).device(embedding_.device()))));
}

models::BackboneInput PTuning::prompt(const tasks::Batch& batch) {
  const int64_t n = length();
  PTLAB_CHECK(!(folded_.defined() && is_training()),
              "p_tuning was loaded from a PEFT adapter, which holds the encoder's output but not its weights, so it "
              "evaluates and generates but cannot train; train from a p_tuning prompt.safetensors instead");
  check_soft_batch(batch, n, backbone_->info(), "p_tuning", config_.at("length"));
  const int64_t rows = batch.size();

  const at::Device device = backbone_->device();
  models::BackboneInput input = batch_input(batch, *backbone_, /*with_ids=*/false);
  const at::Tensor embeds = backbone_->embed(batch.input_ids.to(device));  // [B, T, d], backbone dtype
  const int64_t d = embeds.size(2);
  at::Tensor per_row;  // [B, n, d]
  if (folded_.defined()) {
    per_row = folded_.narrow(0, 0, n).unsqueeze(0).expand({rows, n, d});
  } else {
    // As PEFT: the encoder runs once per batch row (PEFT's prompt_encoder(prompt_tokens [B, S P])). The same
    // prompt as once per task, in PEFT's floating-point summation order: AdamW turns rounding differences in
    // near-zero gradients into visible weight differences, and the parity replay compares weights at 1e-4.
    const at::Tensor tasks = num_tasks() == 1
                                 ? at::zeros({rows}, at::TensorOptions().dtype(at::kLong).device(device))
                                 : batch_task_ids(batch, num_tasks(), config_.at("num_tasks"), device);  // [B]
    per_row = encode(task_rows(tasks)).narrow(1, 0, n);  // [B, n, d]: rows 0..n-1 (PEFT's seq2seq forward too)
  }
  input.inputs_embeds = place_soft_rows(embeds, batch.soft_positions, per_row);  // [B, T, d]
  return input;
}

void PTuning::import_state(const std::map<std::string, at::Tensor>& state, const std::string& where) {
  std::map<std::string, at::Tensor> mine;
  for (const auto& item : named_parameters(/*recurse=*/true)) mine.emplace(item.key(), item.value());
  const StateShape expected = StateShape::of(mine), found = StateShape::of(state);
  PTLAB_CHECK(!found.p_tuning || found == expected,
              "{}: holds {} but this p_tuning has {}; load it into a p_tuning with the same {}, encoder_hidden_size, "
              "encoder_num_layers, length and num_tasks",
              where, found.text(), expected.text(), config_.at("encoder"));
  Method::import_state(state, where);  // every tensor present, of its shape, and nothing else
  folded_ = at::Tensor();
}

at::Tensor PTuning::peft_prompt_embeddings(int64_t task) {
  PTLAB_ASSERT(task >= 0 && task < num_tasks(), "task {} of {}", task, num_tasks());
  at::NoGradGuard no_grad;
  const bool was_training = is_training();
  eval();  // the folded prompt is the one inference sees: no LSTM dropout
  const at::Tensor folded = encoded_prompts()[task].to(at::kCPU, at::kFloat).contiguous();  // [S P, d]
  train(was_training);
  return folded;
}

}  // namespace ptlab::methods
