#include "methods/prefix_tuning/prefix_tuning.h"

#include "framework/core/error.h"
#include "framework/core/suggest.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/linear.h>

#include <algorithm>
#include <cmath>
#include <utility>

namespace ptlab::methods {
namespace {

const std::vector<std::string> kInitNames = {"normal", "zero", "text"};
const std::vector<std::string> kStackNames = {"encoder", "decoder", "cross"};

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

const char* prefix_stack_name(PrefixStack stack) {
  switch (stack) {
    case PrefixStack::kSelf:
      return "self";
    case PrefixStack::kEncoder:
      return "encoder";
    case PrefixStack::kDecoder:
      return "decoder";
    case PrefixStack::kCross:
      return "cross";
  }
  return "?";
}

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
  const std::string init = reader.get<std::string>("init", c.init == PrefixInit::kZero   ? "zero"
                                                           : c.init == PrefixInit::kText ? "text"
                                                                                         : "normal");
  PTLAB_CHECK(init == "normal" || init == "zero" || init == "text", "{}: unknown prefix init '{}'{}; known: {}",
              c.at("init"), init, did_you_mean(init, kInitNames), join_names(kInitNames));
  c.init = init == "zero" ? PrefixInit::kZero : init == "text" ? PrefixInit::kText : PrefixInit::kNormal;
  const std::optional<std::string> text = reader.get<std::optional<std::string>>("init_text", std::nullopt);
  PTLAB_CHECK(!text || c.init == PrefixInit::kText,
              "{}: is set but {} is '{}'; the text only initialises init=text (set {}=text, or init_text=null)",
              c.at("init_text"), c.at("init"), init, c.at("init"));
  if (c.init == PrefixInit::kText) {
    PTLAB_CHECK(text && text->find_first_not_of(" \t\n") != std::string::npos,
                "{}: init=text needs a non-empty text whose keys/values become the prefix (e.g. {}='Classify the "
                "sentiment of the review.')",
                c.at("init_text"), c.at("init_text"));
    PTLAB_CHECK(!c.prefix_projection,
                "{}: init=text sets the prefix itself, which needs {}=false (with the projection the prefix is an "
                "MLP's output; PEFT has the same rule)",
                c.at("init"), c.at("prefix_projection"));
    c.init_text = *text;
  }
  c.prefix_dropout = reader.get<double>("prefix_dropout", c.prefix_dropout);
  PTLAB_CHECK(c.prefix_dropout >= 0 && c.prefix_dropout < 1, "{}: a dropout probability in [0, 1), got {}",
              c.at("prefix_dropout"), c.prefix_dropout);
  if (auto stacks = reader.get<std::optional<std::vector<std::string>>>("stacks", std::nullopt)) {
    PTLAB_CHECK(!stacks->empty(), "{}: an empty list gives no prefix; list some of {} (or null: PEFT's decoder-only)",
                c.at("stacks"), join_names(kStackNames));
    for (const std::string& name : *stacks) {
      PTLAB_CHECK(std::find(kStackNames.begin(), kStackNames.end(), name) != kStackNames.end(),
                  "{}: unknown attention stack '{}'{}; known: {}", c.at("stacks"), name,
                  did_you_mean(name, kStackNames), join_names(kStackNames));
      PTLAB_CHECK(std::count(stacks->begin(), stacks->end(), name) == 1, "{}: '{}' is listed twice", c.at("stacks"),
                  name);
    }
    // The flat prefix's order is encoder, decoder, cross whatever the list's order.
    for (const auto& [name, stack] :
         {std::pair{"encoder", PrefixStack::kEncoder}, std::pair{"decoder", PrefixStack::kDecoder},
          std::pair{"cross", PrefixStack::kCross}}) {
      if (std::find(stacks->begin(), stacks->end(), name) != stacks->end()) c.stacks.push_back(stack);
    }
  }
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
  PTLAB_CHECK(config_.stacks.empty() || info.is_encoder_decoder,
              "{}: {} has one attention stack (its self-attention), so there is nothing to choose; stacks is for "
              "encoder-decoder models (T5); remove it (or set it to null)",
              config_.at("stacks"), info.model_type);
  if (!info.is_encoder_decoder) {
    segments_.push_back({PrefixStack::kSelf, info.num_layers, 0});
  } else if (config_.stacks.empty()) {
    segments_.push_back({PrefixStack::kDecoder, info.num_decoder_layers, 0});  // PEFT's (see the top)
  } else {
    for (PrefixStack stack : config_.stacks) {
      const int64_t layers = stack == PrefixStack::kEncoder ? info.num_layers : info.num_decoder_layers;
      segments_.push_back({stack, layers, 2 * layers_});
      layers_ += layers;
    }
  }
  if (layers_ == 0) layers_ = segments_.front().layers;
  kv_heads_ = info.num_kv_heads > 0 ? info.num_kv_heads : info.num_heads;
  head_dim_ = info.head_dim;
  const int64_t d_kv = kv_dim(), flat = 2 * layers_ * d_kv;

  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(context.seed);
  const bool zero = config_.init == PrefixInit::kZero;
  const at::Device device = backbone_->device();
  if (!config_.prefix_projection) {
    at::Tensor table = config_.init == PrefixInit::kText ? text_prefix(config_.init_text, context.tokenizer)
                       : zero                            ? at::zeros({P, flat})
                              : at::empty({P, flat}).normal_(0.0, 1.0, generator);  // [P, 2L d_kv]
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

std::vector<PrefixStack> PrefixTuning::stacks() const {
  std::vector<PrefixStack> out;
  for (const Segment& s : segments_) out.push_back(s.stack);
  return out;
}

const PrefixTuning::Segment& PrefixTuning::segment(PrefixStack stack) const {
  for (const Segment& s : segments_) {
    if (s.stack == stack) return s;
  }
  PTLAB_ASSERT(false, "prefix_tuning has no {} stack", prefix_stack_name(stack));
  return segments_.front();
}

models::KVPrefix split_flat_prefix(const at::Tensor& flat, int64_t kv_heads, int64_t head_dim, int64_t first,
                                   int64_t layers, bool peft_seq2seq) {
  const int64_t P = flat.size(0);
  // [P, n d_kv] -> [P, n, H_kv, d_head] -> [n, 1, H_kv, P, d_head]
  const at::Tensor kv = flat.view({P, -1, kv_heads, head_dim}).permute({1, 2, 0, 3}).unsqueeze(1);
  // PEFT's encoder-decoder layout concatenates the 2L slices with themselves and splits by 4 (self K, V,
  // cross K, V per layer), so decoder layer l reads slices 4l and 4l + 1 of the doubled axis: (4l) mod 2L.
  models::KVPrefix prefix;
  for (int64_t l = 0; l < layers; ++l) {
    const int64_t slice = first + (peft_seq2seq ? (4 * l) % (2 * layers) : 2 * l);
    prefix.keys.push_back(kv[slice]);        // [1, H_kv, P, d_head]
    prefix.values.push_back(kv[slice + 1]);  // [1, H_kv, P, d_head]
  }
  return prefix;
}

at::Tensor join_prefix_slices(const std::vector<at::Tensor>& slices) {
  const at::Tensor all = at::cat(slices, 0);  // [n, H_kv, P, d_head]
  // -> [P, n, H_kv, d_head] -> [P, n d_kv]
  return all.permute({2, 0, 1, 3}).reshape({all.size(2), -1});
}

models::KVPrefix PrefixTuning::split(const at::Tensor& flat, PrefixStack stack) const {
  PTLAB_ASSERT(flat.dim() == 2 && flat.size(0) == length() && flat.size(1) == 2 * layers_ * kv_dim(),
               "flat prefix of the wrong shape");
  const Segment& s = segment(stack);
  return split_flat_prefix(flat, kv_heads_, head_dim_, s.first_slice, s.layers,
                           peft_layout() && backbone_->info().is_encoder_decoder);
}

at::Tensor PrefixTuning::text_prefix(const std::string& text, const text::Tokenizer& tokenizer) const {
  const models::BackboneInfo& info = backbone_->info();
  const int64_t P = length();
  PTLAB_CHECK(!(peft_layout() && info.is_encoder_decoder && segments_.front().layers > 1),
              "{}: PEFT's T5 layout gives decoder layers shared slices (see configs/method/prefix_tuning.yaml), so "
              "no text can set each layer's keys; use {}=[decoder] (ptlab's layout: a prefix of its own per layer)",
              config_.at("init"), config_.at("stacks"));
  for (const Segment& s : segments_) {
    PTLAB_CHECK(s.stack != PrefixStack::kEncoder,
                "{}: init=text cannot fill the T5 encoder stack (the encoder's keys are not cached); drop encoder "
                "from {} or use init=normal",
                config_.at("init"), config_.at("stacks"));
  }
  const std::vector<int> encoded = tokenizer.encode(text).ids;
  const int64_t T = static_cast<int64_t>(encoded.size());
  PTLAB_CHECK(info.max_positions == 0 || T <= info.max_positions,
              "{}: the text is {} tokens, more than the model's {} positions; shorten it", config_.at("init_text"), T,
              info.max_positions);
  const at::Device device = backbone_->device();
  models::BackboneInput in;
  in.input_ids = at::tensor(std::vector<int64_t>(encoded.begin(), encoded.end()), at::kLong).view({1, T}).to(device);
  in.logits.mode = models::LogitsRequest::Mode::kNone;
  if (info.is_encoder_decoder) {
    std::vector<int64_t> decoder = {info.decoder_start_token_id};
    decoder.insert(decoder.end(), encoded.begin(), encoded.end());
    in.decoder_input_ids = at::tensor(decoder, at::kLong).view({1, T + 1}).to(device);
  }
  models::KVCache cache;
  {
    at::NoGradGuard no_grad;
    const bool was_training = backbone_->is_training();
    backbone_->eval();
    backbone_->forward(in, &cache);
    backbone_->train(was_training);
  }
  // Slices in the flat prefix's order: per segment, layer l's keys then values, each [1, H_kv, P, d_head].
  std::vector<at::Tensor> slices;
  for (const Segment& s : segments_) {
    const bool cross = s.stack == PrefixStack::kCross;
    const std::vector<at::Tensor>& keys = cross ? cache.cross_keys : cache.keys;
    const std::vector<at::Tensor>& values = cross ? cache.cross_values : cache.values;
    PTLAB_ASSERT(static_cast<int64_t>(keys.size()) == s.layers && static_cast<int64_t>(values.size()) == s.layers,
                 "text init: the cache of the {} stack has {} layers, expected {}", prefix_stack_name(s.stack),
                 keys.size(), s.layers);
    for (int64_t l = 0; l < s.layers; ++l) {
      PTLAB_CHECK(keys[l].size(2) >= P,
                  "{}: the text gives the {} stack {} positions but the prefix needs {}; use a longer text or {}={}",
                  config_.at("init_text"), prefix_stack_name(s.stack), keys[l].size(2), P, config_.at("length"),
                  keys[l].size(2));
      slices.push_back(keys[l].narrow(2, 0, P));
      slices.push_back(values[l].narrow(2, 0, P));
    }
  }
  return join_prefix_slices(slices).to(at::kCPU, at::kFloat).contiguous();  // [P, 2L d_kv]: split()'s inverse
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
  const at::Tensor flat = flat_prefix().to(backbone_->dtype());
  for (const Segment& s : segments_) {
    models::KVPrefix prefix = split(flat, s.stack);
    switch (s.stack) {
      case PrefixStack::kSelf:
      case PrefixStack::kEncoder:
        input.prefix = std::move(prefix);
        break;
      case PrefixStack::kDecoder:
        input.decoder_prefix = std::move(prefix);
        break;
      case PrefixStack::kCross:
        input.cross_prefix = std::move(prefix);
        break;
    }
  }
  return input;
}

}  // namespace ptlab::methods
