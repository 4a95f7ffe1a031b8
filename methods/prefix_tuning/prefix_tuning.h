// Prefix Tuning (Li & Liang 2021, "Prefix-Tuning: Optimizing Continuous Prompts for Generation"; Hugging
// Face PEFT's PREFIX_TUNING, whose PrefixEncoder comes from P-tuning-v2): P trained key/value positions
// in front of every attention layer (hook point 2 of DESIGN.md). The backbone stays frozen; the input
// tokens pass through unchanged.
//
//   method:                     # configs/method/prefix_tuning.yaml
//     name: prefix_tuning
//     length: 8                 # P virtual positions per layer
//     prefix_projection: false  # true: the MLP reparameterisation
//     encoder_hidden_size: null # projection: the MLP's hidden size; null = d_kv (PEFT's default)
//     init: normal              # normal (PEFT: nn.Embedding / nn.Linear defaults) | zero | text
//     init_text: null           # init=text: the text whose keys/values become the prefix
//     prefix_dropout: 0.0       # dropout on the prefix while training (P-tuning-v2; PEFT has none)
//     stacks: null              # T5 only: which attention stacks get a prefix (null = PEFT's)
//
// Parameters, exactly PEFT's PrefixEncoder (L layers, d_kv = H_kv * d_head, the key/value width: under
// grouped-query attention H_kv = num_key_value_heads; `_kvfix` goldens):
//  - no projection: "embedding" [P, 2 * L * d_kv];
//  - projection:    "embedding" [P, d_kv] -> "transform.0" Linear(d_kv, h) -> Tanh -> "transform.2"
//                   Linear(h, 2 * L * d_kv).
// The flat prefix [P, 2 * L * d_kv] is split as PEFT does: view [P, 2L, H_kv, d_head], permute to
// [2L, H_kv, P, d_head]; layer l's keys are slice 2l and its values slice 2l + 1 (flat column
// ((2l + kv) * H_kv + h) * d_head + j; T5: see below).
//
// Where it goes. Decoder-only models and BERT: BackboneInput::prefix (self-attention). T5, `stacks: null`:
// decoder_prefix only — PEFT feeds past_key_values to the decoder and the encoder gets no prefix. PEFT's
// seq2seq layout (num_transformer_submodules 2) is reproduced exactly, quirk included: it concatenates the
// 2L slices with themselves and splits by 4, so decoder layer l reads slices (4l mod 2L) and (4l mod 2L) + 1
// — with L = 2 both layers share slices 0 and 1 and slices 2, 3 never train. The cross-attention half PEFT
// builds is ignored by transformers' T5 whenever the encoder length differs from P (it would *replace* the
// encoder keys when equal, a case ptlab does not copy: the cross-attention always sees the encoder).
// T5, `stacks: [encoder, decoder, cross]` (any non-empty subset; Li & Liang prefix encoder and decoder):
// ptlab's own layout, where ptlab deliberately differs from PEFT — one block of 2 * layers slices per
// chosen stack, in the order encoder (its L_enc self-attention layers), decoder (self-attention), cross
// (the decoder's cross-attention: P keys/values before the encoder's), every layer its own slices 2l, 2l + 1
// of its block. PEFT cannot express this layout, so such a run writes no PEFT adapter (prompt.safetensors
// holds it) and loads none. The backbone prepends P ones to the attention mask of each prefixed stack and
// starts real positions at P (backbone.h). Templates with {soft:N} slots are an Error: prefix tuning places
// no virtual tokens in the input.
//
// Inits: normal draws, in PEFT's order, the embedding N(0, 1) and each Linear's default U(+-1/sqrt(fan_in))
// weight then bias, from a CPU generator seeded with the run's seed (bit-identical to PEFT after
// torch.manual_seed(seed)). zero (PEFT's init_weights "zero"): the embedding (no projection) or the last
// Linear (projection) starts at 0, so K = V = 0 ("near no-op"). text (PEFT's initialize_kv_prefix_from_text;
// Li & Liang's "init from real-word activations"): the frozen backbone runs `init_text` (encoded with the
// model's special tokens, as the tokenizer adds them) with a KV cache and the first P cached keys/values of
// every layer become the prefix — so on a causal model the prefixed input sees exactly what it would see
// after those P tokens. T5: the decoder stack takes the decoder's self-attention keys of
// [decoder_start] + text, the cross stack the cross-attention keys of the encoded text; the encoder's
// keys are not cached, so the encoder stack cannot be text-initialised, nor can PEFT's shared-slice decoder
// layout (use stacks: [decoder]). Needs no projection (as PEFT) and a text of at least P tokens.
#pragma once

#include "framework/io/peft_prefix_adapter.h"
#include "methods/method.h"

#include <ATen/ATen.h>
#include <torch/nn/modules/container/sequential.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace ptlab::methods {

enum class PrefixInit { kNormal, kZero, kText };

/// An attention stack a prefix can precede: the self-attention of a decoder-only model or BERT (kSelf), or
/// T5's encoder self-attention, decoder self-attention and decoder cross-attention.
enum class PrefixStack { kSelf, kEncoder, kDecoder, kCross };
const char* prefix_stack_name(PrefixStack stack);

/// The layer-l keys/values of a flat prefix [P, n_slices * H_kv * d_head] (PEFT's row layout: view
/// [P, n_slices, H_kv, d_head], slice k = column block k), for `layers` layers from slice `first`: layer l
/// reads slices first + s and first + s + 1 with s = 2l, or, in PEFT's seq2seq layout (`peft_seq2seq`),
/// s = (4l mod 2 * layers). Each [1, H_kv, P, d_head], views of `flat`.
models::KVPrefix split_flat_prefix(const at::Tensor& flat, int64_t kv_heads, int64_t head_dim, int64_t first,
                                   int64_t layers, bool peft_seq2seq);
/// The inverse layout: slices [1, H_kv, P, d_head] each, in flat order -> the flat prefix [P, n * H_kv * d_head].
at::Tensor join_prefix_slices(const std::vector<at::Tensor>& slices);

struct PrefixTuningConfig {
  int64_t length = 8;
  bool prefix_projection = false;
  std::optional<int64_t> encoder_hidden_size;  ///< nullopt: d_kv
  PrefixInit init = PrefixInit::kNormal;
  std::string init_text;  ///< init=text only
  double prefix_dropout = 0.0;
  std::vector<PrefixStack> stacks;  ///< T5: encoder/decoder/cross, in that order; empty = the model's default
  std::string where = "method";

  /// Decodes the `method:` mapping and calls reader.finish(); absent keys take their value from `defaults`
  /// (P-Tuning v2 passes its own). Errors name the key path: length < 1, encoder_hidden_size < 1 (or set
  /// without prefix_projection), an unknown init, init=text without a text or with the projection,
  /// init_text without init=text, dropout outside [0, 1), an unknown or repeated stack, an empty stacks list.
  static PrefixTuningConfig decode(config::Reader reader, const PrefixTuningConfig& defaults);
  static PrefixTuningConfig decode(config::Reader reader);  ///< with this struct's defaults

  std::string at(const std::string& key) const { return where + "." + key; }
};

/// Prefix Tuning, and the deep prefix P-Tuning v2 builds on (methods/p_tuning_v2/ derives from it and
/// adds a task head; the parameter names and the PEFT adapter stay the same).
class PrefixTuning : public Method {
 public:
  /// Sizes the encoder from the backbone (see the top of this file) and initialises it. Errors: a template
  /// with {soft:N} slots, a length beyond the model's max_positions, stacks on a model that is not
  /// encoder-decoder, init=text with a text of fewer than P tokens or a stack it cannot fill.
  PrefixTuning(PrefixTuningConfig config, const MethodContext& context)
      : PrefixTuning(std::move(config), context, "prefix_tuning") {}

  std::string name() const override { return method_name_; }

  /// batch_input() with input ids, plus the per-layer prefix (batch 1, expanded by the backbone) of each
  /// stack: `prefix` (decoder-only, BERT, T5 encoder), `decoder_prefix`, `cross_prefix` (T5). Errors: a
  /// batch with soft positions, or longer than max_positions - P.
  models::BackboneInput prompt(const tasks::Batch& batch) override;

  const PrefixTuningConfig& config() const { return config_; }
  int64_t length() const { return config_.length; }
  /// Layers that get a prefix, over all stacks (the L of the flat width 2 * L * d_kv), key/value heads,
  /// head size.
  int64_t num_layers() const { return layers_; }
  /// The stacks that get a prefix, in the flat prefix's order.
  std::vector<PrefixStack> stacks() const;
  /// Whether the flat prefix is laid out as PEFT lays it out (every model but T5 with explicit stacks).
  bool peft_layout() const { return config_.stacks.empty(); }
  int64_t kv_heads() const { return kv_heads_; }
  int64_t head_dim() const { return head_dim_; }
  /// d_kv = kv_heads * head_dim: PEFT's token_dim.
  int64_t kv_dim() const { return kv_heads_ * head_dim_; }

  /// The flat prefix [P, 2 * L * d_kv] in float32 on the parameters' device: the embedding, or the MLP's
  /// output; dropout applies when training. This is what PEFT saves as prompt_embeddings.
  at::Tensor flat_prefix();
  /// Splits a flat prefix [P, 2 * L * d_kv] into the keys/values [1, H_kv, P, d_head] per layer of `stack`
  /// (default: the first, for models with one prefixed stack), in PEFT's layout or ptlab's (see the top).
  models::KVPrefix split(const at::Tensor& flat) const { return split(flat, segments_.front().stack); }
  models::KVPrefix split(const at::Tensor& flat, PrefixStack stack) const;

  /// The flat prefix [P, 2 * L * d_kv] (float32, CPU) whose split is the keys/values the frozen backbone
  /// caches for the first P tokens of `text` (init=text; see the top). Errors: a text shorter than P
  /// tokens, a stack whose keys are not cached (T5's encoder), PEFT's shared-slice T5 layout.
  at::Tensor text_prefix(const std::string& text, const text::Tokenizer& tokenizer) const;

  /// Writes dir/adapter: a PEFT PREFIX_TUNING adapter (prefix_tuning_peft.cpp). With the projection it holds
  /// the MLP's output, as PEFT saves it (the MLP weights are in prompt.safetensors only).
  void save_exports(const std::string& dir) override;
  /// A prompt.safetensors, or a PEFT prefix adapter directory: its flat prefix becomes the embedding, so
  /// only a method without prefix_projection loads one (PEFT's adapters hold no MLP weights). Errors: an
  /// adapter of another type, length, layer count or key/value width.
  void load_state(const std::string& path) override;

 protected:
  /// The same for a derived method called `method_name` (used in messages before name() can be called).
  PrefixTuning(PrefixTuningConfig config, const MethodContext& context, std::string method_name);

  /// The PEFT PREFIX_TUNING adapter of the current prefix (task type from the backbone family; dropout off).
  io::PeftPrefixAdapter peft_adapter();
  /// Loads a PEFT prefix adapter's flat prefix into the embedding. Errors name `path`: another length,
  /// layer count or key/value width; a method with prefix_projection.
  void load_peft_prefix(const io::PeftPrefixAdapter& adapter, const std::string& path);
  /// A PEFT adapter at `path` cannot hold ptlab's own T5 layout: an Error naming `stacks` when this has it.
  void check_peft_layout(const std::string& path) const;

  models::Backbone& backbone() const { return *backbone_; }

 private:
  /// One prefixed stack: its layers and the first of its 2 * layers slices of the flat prefix.
  struct Segment {
    PrefixStack stack;
    int64_t layers;
    int64_t first_slice;
  };
  const Segment& segment(PrefixStack stack) const;

  PrefixTuningConfig config_;
  std::string method_name_;
  models::Backbone* backbone_;
  std::vector<Segment> segments_;
  int64_t layers_ = 0, kv_heads_ = 0, head_dim_ = 0;
  at::Tensor embedding_;                      // [P, 2 L d_kv] or, with the projection, [P, d_kv]; float32
  torch::nn::Sequential transform_{nullptr};  // projection only: Linear, Tanh, Linear
};

}  // namespace ptlab::methods
