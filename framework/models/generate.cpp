#include "framework/models/generate.h"

#include "framework/core/error.h"
#include "framework/models/attention.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/grad_mode.h>

#include <limits>

namespace ptlab::models {
namespace {

void check_config(const GenerationConfig& c) {
  PTLAB_CHECK(c.max_new_tokens >= 0, "generation: max_new_tokens must be >= 0, got {}", c.max_new_tokens);
  PTLAB_CHECK(c.temperature > 0, "generation: temperature must be > 0, got {} (use greedy decoding instead of 0)",
              c.temperature);
  PTLAB_CHECK(c.top_k >= 0, "generation: top_k must be >= 0 (0 = off), got {}", c.top_k);
  PTLAB_CHECK(c.top_p > 0 && c.top_p <= 1, "generation: top_p must be in (0, 1], got {}", c.top_p);
}

// The last-position logits request: [B, 1] of position len - 1.
LogitsRequest last_position(int64_t batch, int64_t len, at::Device device) {
  LogitsRequest r;
  r.mode = LogitsRequest::Mode::kPositions;
  r.positions = at::full({batch, 1}, len - 1, at::TensorOptions().dtype(at::kLong).device(device));
  return r;
}

}  // namespace

at::Tensor choose_next_tokens(const at::Tensor& logits, const GenerationConfig& config, at::Generator& generator) {
  at::Tensor scores = logits.to(at::kFloat);  // [B, V]
  if (!config.do_sample) return scores.argmax(-1);
  const double neg_inf = -std::numeric_limits<double>::infinity();
  if (config.temperature != 1.0) scores = scores / config.temperature;
  const int64_t vocab = scores.size(-1);
  if (config.top_k > 0 && config.top_k < vocab) {
    at::Tensor kth = std::get<0>(scores.topk(config.top_k, -1)).narrow(-1, config.top_k - 1, 1);  // [B, 1]
    scores = scores.masked_fill(scores < kth, neg_inf);
  }
  if (config.top_p < 1.0) {
    // Ascending sort; drop the low tail whose cumulative probability is <= 1 - top_p (keep at least one).
    auto [sorted, order] = scores.sort(-1, /*descending=*/false);  // [B, V]
    at::Tensor cumulative = at::softmax(sorted, -1).cumsum(-1);
    at::Tensor drop = cumulative <= (1.0 - config.top_p);
    drop.narrow(-1, vocab - 1, 1).fill_(false);
    scores = scores.masked_fill(drop.scatter(-1, order, drop), neg_inf);
  }
  at::Tensor probs = at::softmax(scores, -1).to(at::kCPU);                   // [B, V]
  return at::multinomial(probs, 1, false, generator).squeeze(-1).to(logits.device());  // [B]
}

GenerationOutput generate(Backbone& backbone, const BackboneInput& prompt, const GenerationConfig& config) {
  check_config(config);
  at::NoGradGuard no_grad;
  const BackboneInfo& info = backbone.info();
  const at::Device device = backbone.device();
  PTLAB_CHECK(prompt.input_ids.defined() != prompt.inputs_embeds.defined(),
              "generation needs exactly one of input_ids and inputs_embeds as the prompt (got {})",
              prompt.input_ids.defined() ? "both" : "neither");
  const at::Tensor& first = prompt.input_ids.defined() ? prompt.input_ids : prompt.inputs_embeds;
  PTLAB_CHECK(first.dim() >= 2 && first.size(1) > 0, "generation: the prompt is empty");
  const int64_t batch = first.size(0), len = first.size(1);
  auto long_opts = at::TensorOptions().dtype(at::kLong).device(device);
  at::Tensor mask = prompt.attention_mask.defined() ? prompt.attention_mask.to(long_opts) : at::ones({batch, len}, long_opts);

  std::vector<int64_t> eos = config.eos_token_ids;
  if (eos.empty() && info.eos_token_id >= 0) eos.push_back(info.eos_token_id);
  int64_t pad = config.pad_token_id >= 0 ? config.pad_token_id
                : info.pad_token_id >= 0 ? info.pad_token_id
                : !eos.empty()           ? eos[0]
                                         : 0;
  at::Tensor eos_ids = at::tensor(eos, at::kLong).to(device);
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(config.seed);

  KVCache cache;
  BackboneInput step;
  step.input_ids = prompt.input_ids;
  step.inputs_embeds = prompt.inputs_embeds;
  step.attention_mask = mask;
  step.prefix = prompt.prefix;
  at::Tensor start;  // encoder-decoder: [B, 1] decoder_start_token_id
  if (info.is_encoder_decoder) {
    int64_t start_id = info.decoder_start_token_id >= 0 ? info.decoder_start_token_id
                       : info.pad_token_id >= 0       ? info.pad_token_id
                                                      : 0;
    start = at::full({batch, 1}, start_id, long_opts);
    step.decoder_input_ids = start;
    step.decoder_prefix = prompt.decoder_prefix;
    step.cross_prefix = prompt.cross_prefix;
    step.logits = last_position(batch, 1, device);
  } else {
    // Positions count real tokens only, after the prefix: cumsum over [prefix ones ; mask] - 1.
    at::Tensor full_mask = at::cat({at::ones({batch, prompt.prefix.length()}, long_opts), mask}, 1);
    step.position_ids = position_ids_from_mask(full_mask, len);  // [B, T]
    step.logits = last_position(batch, len, device);
  }

  std::vector<at::Tensor> tokens;  // each [B]
  at::Tensor finished = at::zeros({batch}, at::TensorOptions().dtype(at::kBool).device(device));
  at::Tensor encoder_states;
  for (int64_t i = 0; i < config.max_new_tokens; ++i) {
    BackboneOutput out = backbone.forward(step, &cache);
    if (info.is_encoder_decoder && i == 0) {
      encoder_states = out.encoder_last_hidden_state;
      PTLAB_ASSERT(encoder_states.defined(), "{} forward returned no encoder_last_hidden_state", info.family);
    }
    at::Tensor next = choose_next_tokens(out.logits.select(1, out.logits.size(1) - 1), config, generator);  // [B]
    next = at::where(finished, at::full_like(next, pad), next);
    tokens.push_back(next);
    if (!eos.empty()) finished = finished | at::isin(next, eos_ids);
    if (finished.all().item<bool>() || i + 1 == config.max_new_tokens) break;

    // The next call feeds the chosen token alone; the cache holds everything before it.
    step = BackboneInput();
    if (info.is_encoder_decoder) {
      step.encoder_hidden_states = encoder_states;
      step.attention_mask = mask;
      step.cross_prefix = prompt.cross_prefix;
      step.decoder_input_ids = next.unsqueeze(1);
    } else {
      step.input_ids = next.unsqueeze(1);                            // [B, 1]
      step.attention_mask = at::ones({batch, 1}, long_opts);
      step.position_ids = cache.mask.sum(1, /*keepdim=*/true);       // [B, 1]: real tokens so far
    }
    step.logits = last_position(batch, 1, device);
  }

  GenerationOutput result;
  result.new_tokens = tokens.empty() ? at::empty({batch, 0}, long_opts) : at::stack(tokens, 1);  // [B, N]
  result.finished = finished;
  if (info.is_encoder_decoder) {
    result.sequences = at::cat({start.defined() ? start : at::empty({batch, 0}, long_opts), result.new_tokens}, 1);
  } else if (prompt.input_ids.defined()) {
    result.sequences = at::cat({prompt.input_ids.to(long_opts), result.new_tokens}, 1);
  } else {
    result.sequences = result.new_tokens;
  }
  return result;
}

}  // namespace ptlab::models
