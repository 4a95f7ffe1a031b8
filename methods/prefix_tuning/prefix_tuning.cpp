#include "methods/prefix_tuning/prefix_tuning.h"

#include "framework/core/error.h"
#include "framework/core/suggest.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/linear.h>

#include <cmath>

namespace ptlab::methods {
namespace {

const std::vector<std::string> kInitNames = {"normal", "zero"};

// nn.Linear's default init in PEFT's order: weight U(+-1/sqrt(fan_in)) (kaiming_uniform_ with a = sqrt(5)),
// then bias with the same bound; or zeros.
torch::nn::Linear make_linear(int64_t in, int64_t out, bool zero, at::Generator& generator) {
  torch::nn::Linear linear(torch::nn::LinearOptions(in, out));
  at::NoGradGuard no_grad;
  const double bound = 1.0 / std::sqrt(static_cast<double>(in));
  if (zero) {
    linear->weight.zero_();
    linear->bias.zero_();
  } else {
    linear->weight.uniform_(-bound, bound, generator);  // [out, in]
    linear->bias.uniform_(-bound, bound, generator);    // [out]
  }
  return linear;
}

}  // namespace

PrefixTuningConfig PrefixTuningConfig::decode(config::Reader reader) { return decode(reader, PrefixTuningConfig{}); }

PrefixTuningConfig PrefixTuningConfig::decode(config::Reader reader, const PrefixTuningConfig& defaults) {
  PrefixTuningConfig c = defaults;
  c.where = reader.path();
  reader.has("name");  // make_method's key
  c.length = reader.get<int64_t>("length", c.length);
  PTLAB_CHECK(c.length >= 1, "{}: the prefix needs at least 1 virtual position, got {}", c.at("length"), c.length);
  c.prefix_projection = reader.get<bool>("prefix_projection", c.prefix_projection);
  c.encoder_hidden_size = reader.get<std::optional<int64_t>>("encoder_hidden_size", c.encoder_hidden_size);
  PTLAB_CHECK(!c.encoder_hidden_size || *c.encoder_hidden_size >= 1,
              "{}: the projection's hidden size must be >= 1, got {} (null = the key/value width)",
              c.at("encoder_hidden_size"), c.encoder_hidden_size.value_or(0));
  PTLAB_CHECK(!c.encoder_hidden_size || c.prefix_projection,
              "{}: is set but {} is false; the hidden size only exists with the projection (set {}=true, or "
              "encoder_hidden_size=null)",
              c.at("encoder_hidden_size"), c.at("prefix_projection"), c.at("prefix_projection"));
  const std::string init = reader.get<std::string>("init", c.init == PrefixInit::kZero ? "zero" : "normal");
  PTLAB_CHECK(init == "normal" || init == "zero", "{}: unknown prefix init '{}'{}; known: {}", c.at("init"), init,
              did_you_mean(init, kInitNames), join_names(kInitNames));
  c.init = init == "zero" ? PrefixInit::kZero : PrefixInit::kNormal;
  c.prefix_dropout = reader.get<double>("prefix_dropout", c.prefix_dropout);
  PTLAB_CHECK(c.prefix_dropout >= 0 && c.prefix_dropout < 1, "{}: a dropout probability in [0, 1), got {}",
              c.at("prefix_dropout"), c.prefix_dropout);
  reader.finish();
  return c;
}

PrefixTuning::PrefixTuning(PrefixTuningConfig config, const MethodContext& context, std::string method_name)
    : config_(std::move(config)), method_name_(std::move(method_name)), backbone_(&context.backbone) {
  const models::BackboneInfo& info = backbone_->info();
  const tasks::Template& tmpl = context.task.prompt();
  PTLAB_CHECK(tmpl.num_soft_tokens() == 0,
              "{}: {} puts its virtual positions in every attention layer, not in the input, but {} ('{}') has "
              "{{soft:N}} slots; use a template without them (or method=prompt_tuning)",
              config_.where, method_name_, tmpl.name(), tmpl.text());
  const int64_t P = config_.length;
  PTLAB_CHECK(info.max_positions == 0 || P < info.max_positions,
              "{}: a prefix of {} positions does not fit the model's {} positions ({} max_positions; real tokens "
              "start at position P); use fewer",
              config_.at("length"), P, info.max_positions, info.model_type);
  layers_ = info.is_encoder_decoder ? info.num_decoder_layers : info.num_layers;
  kv_heads_ = info.num_kv_heads > 0 ? info.num_kv_heads : info.num_heads;
  head_dim_ = info.head_dim;
  const int64_t d_kv = kv_dim(), flat = 2 * layers_ * d_kv;

  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(context.seed);
  const bool zero = config_.init == PrefixInit::kZero;
  const at::Device device = backbone_->device();
  if (!config_.prefix_projection) {
    at::Tensor table = zero ? at::zeros({P, flat}) : at::empty({P, flat}).normal_(0.0, 1.0, generator);  // [P, 2L d_kv]
    embedding_ = register_parameter("embedding", table.to(device), /*requires_grad=*/true);
  } else {
    const int64_t hidden = config_.encoder_hidden_size.value_or(d_kv);
    at::Tensor table = at::empty({P, d_kv}).normal_(0.0, 1.0, generator);  // [P, d_kv]
    embedding_ = register_parameter("embedding", table.to(device), /*requires_grad=*/true);
    torch::nn::Linear first = make_linear(d_kv, hidden, /*zero=*/false, generator);
    torch::nn::Linear last = make_linear(hidden, flat, zero, generator);
    transform_ = register_module("transform", torch::nn::Sequential(first, torch::nn::Tanh(), last));
    transform_->to(device);
  }
}

at::Tensor PrefixTuning::flat_prefix() {
  at::Tensor flat = config_.prefix_projection ? transform_->forward(embedding_) : embedding_;  // [P, 2L d_kv]
  if (config_.prefix_dropout > 0) flat = at::dropout(flat, config_.prefix_dropout, is_training());
  return flat;
}

models::KVPrefix PrefixTuning::split(const at::Tensor& flat) const {
  const int64_t P = length();
  PTLAB_ASSERT(flat.dim() == 2 && flat.size(0) == P && flat.size(1) == 2 * layers_ * kv_dim(),
               "flat prefix of the wrong shape");
  // [P, 2L d_kv] -> [P, 2L, H_kv, d_head] -> [2L, 1, H_kv, P, d_head]
  const at::Tensor kv = flat.view({P, 2 * layers_, kv_heads_, head_dim_}).permute({1, 2, 0, 3}).unsqueeze(1);
  // Encoder-decoder: PEFT concatenates the 2L slices with themselves and splits by 4 (self K, V, cross K,
  // V per layer), so decoder layer l reads slices 4l and 4l + 1 of the doubled axis: (4l) mod 2L.
  const int64_t stride = backbone_->info().is_encoder_decoder ? 4 : 2;
  models::KVPrefix prefix;
  for (int64_t l = 0; l < layers_; ++l) {
    const int64_t slice = (stride * l) % (2 * layers_);
    prefix.keys.push_back(kv[slice]);        // [1, H_kv, P, d_head]
    prefix.values.push_back(kv[slice + 1]);  // [1, H_kv, P, d_head]
  }
  return prefix;
}

models::BackboneInput PrefixTuning::prompt(const tasks::Batch& batch) {
  const int64_t P = length();
  PTLAB_CHECK(batch.num_soft_tokens() == 0,
              "{} places no virtual tokens in the input, but the batch has {} soft positions; use a template "
              "without {{soft:N}} slots",
              method_name_, batch.num_soft_tokens());
  const int64_t width = batch.input_ids.size(1);
  const models::BackboneInfo& info = backbone_->info();
  PTLAB_CHECK(info.is_encoder_decoder || info.max_positions == 0 || P + width <= info.max_positions,
              "a batch of {} tokens after a prefix of {} does not fit the model's {} positions; lower "
              "task.max_length (to at most {}) or {}",
              width, P, info.max_positions, info.max_positions - P, config_.at("length"));
  models::BackboneInput input = batch_input(batch, *backbone_, /*with_ids=*/true);
  models::KVPrefix prefix = split(flat_prefix().to(backbone_->dtype()));
  if (info.is_encoder_decoder) {
    input.decoder_prefix = std::move(prefix);
  } else {
    input.prefix = std::move(prefix);
  }
  return input;
}

}  // namespace ptlab::methods
