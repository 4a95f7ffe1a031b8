// Backbone: the frozen pretrained transformer, with the three hook points soft-prompt methods use.
//
//  1. Input embeddings: BackboneInput::inputs_embeds replaces the word-embedding lookup (positions,
//     token types and layer norms are still added by the backbone exactly as for ids).
//  2. Per-layer key/value prefixes: BackboneInput::prefix (and, for T5, decoder_prefix / cross_prefix)
//     hold K and V of shape [B, H_kv, P, d_head] per layer; attention prepends them to its own keys and
//     values, the mask gets P leading ones, and positions of real tokens start at P (the prefix acts as a
//     past of length P, as in Hugging Face / PEFT).
//  3. Output head: BackboneInput::logits picks all positions, none, or chosen positions and chosen vocab
//     rows (a verbalizer scores a few label words at one position without a [B, T, V] projection).
//
// A backbone never knows which method is running; a method never edits a backbone. Parameters are frozen
// (requires_grad = false) after loading unless set_trainable(true) is called (full fine-tuning).
#pragma once

#include "framework/models/hf_config.h"

#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ptlab::models {

/// What a backbone is, for logs, reports (score vs parameter count) and methods sizing their parameters.
struct BackboneInfo {
  std::string family;      ///< "llama", "gpt2", "gpt_neox", "bert", "t5"
  std::string model_type;  ///< config.json's model_type ("llama", "qwen2", "mistral", "roberta", ...)
  int64_t num_layers = 0;          ///< decoder-only / encoder-only layers; T5: encoder layers
  int64_t num_decoder_layers = 0;  ///< T5 only
  int64_t hidden_size = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;  ///< < num_heads under grouped-query attention
  int64_t head_dim = 0;
  int64_t intermediate_size = 0;
  int64_t vocab_size = 0;
  int64_t max_positions = 0;  ///< 0 when positions are unbounded (RoPE, relative buckets)
  bool is_encoder_decoder = false;
  bool is_causal = true;  ///< false for BERT
  bool tied_embeddings = false;
  int64_t num_parameters = 0;            ///< every parameter, tied ones counted once
  int64_t num_embedding_parameters = 0;  ///< input (+ untied output) embeddings and position tables
  int64_t pad_token_id = -1, bos_token_id = -1, eos_token_id = -1, decoder_start_token_id = -1;
  int64_t mask_token_id = -1;  ///< BERT's [MASK]; -1 elsewhere
};

/// Per-layer key/value prefix of one attention stack. keys[l], values[l]: [B, H_kv, P, d_head].
struct KVPrefix {
  std::vector<at::Tensor> keys;
  std::vector<at::Tensor> values;
  bool empty() const { return keys.empty(); }
  int64_t length() const { return keys.empty() ? 0 : keys[0].size(2); }
};

/// Keys and values of past positions for incremental decoding (one attention stack).
/// keys[l], values[l]: [B, H_kv, S, d_head] as stored (RoPE already applied); mask: [B, S] (1 = attend).
/// A KV prefix is the initial content of a cache. For T5 the cache holds the decoder self-attention; the
/// cross-attention keys of the encoder output are computed once and kept in cross_keys/cross_values.
struct KVCache {
  std::vector<at::Tensor> keys, values;
  at::Tensor mask;
  std::vector<at::Tensor> cross_keys, cross_values;  ///< T5 only
  at::Tensor encoder_mask;                           ///< T5 only: [B, S_enc]
  int64_t length() const { return keys.empty() || !keys[0].defined() ? 0 : keys[0].size(2); }
};

/// Which LM logits to compute.
struct LogitsRequest {
  enum class Mode { kAll, kNone, kPositions };
  Mode mode = Mode::kAll;
  at::Tensor positions;   ///< kPositions: [B, K] int64 indices into the (decoder) sequence
  at::Tensor vocab_rows;  ///< optional [V'] int64: score only these vocabulary rows
};

struct BackboneInput {
  at::Tensor input_ids;       ///< [B, T] int64; or undefined when inputs_embeds is given
  at::Tensor inputs_embeds;   ///< [B, T, d]: replaces the word-embedding lookup (hook point 1)
  at::Tensor attention_mask;  ///< [B, T], 1 = real token, 0 = padding (left or right); undefined = all 1
  at::Tensor position_ids;    ///< [B, T] optional; default: past length (prefix + cache) + 0..T-1
  at::Tensor token_type_ids;  ///< BERT only, [B, T]; default zeros
  KVPrefix prefix;            ///< self-attention prefix (decoder-only, BERT, T5 encoder) (hook point 2)

  // T5 (encoder-decoder) only.
  at::Tensor decoder_input_ids;       ///< [B, T_dec]
  at::Tensor decoder_inputs_embeds;   ///< [B, T_dec, d]
  at::Tensor decoder_attention_mask;  ///< [B, T_dec]; default all 1 (causal mask always applies)
  KVPrefix decoder_prefix;            ///< decoder self-attention prefix
  KVPrefix cross_prefix;              ///< cross-attention prefix (prepended to encoder keys/values)
  at::Tensor encoder_hidden_states;   ///< optional precomputed encoder output [B, S_enc, d] (generation)

  bool output_hidden_states = false;
  LogitsRequest logits;  ///< hook point 3
};

struct BackboneOutput {
  at::Tensor logits;                       ///< [B, T, V], or [B, K, V'] for kPositions; undefined for kNone
  at::Tensor last_hidden_state;            ///< [B, T, d] after the final norm (decoder for T5)
  std::vector<at::Tensor> hidden_states;   ///< L+1 when requested: 0 = embeddings output, L = after final norm
  at::Tensor pooled;                       ///< BERT pooler output [B, d] when the checkpoint has a pooler
  at::Tensor encoder_last_hidden_state;    ///< T5
  std::vector<at::Tensor> encoder_hidden_states;  ///< T5, when requested
};

/// Base class of every family. Implementations register all parameters and submodules in their
/// constructor with the Hugging Face names (so state_dict keys equal checkpoint keys).
class Backbone : public torch::nn::Module {
 public:
  ~Backbone() override = default;

  virtual const BackboneInfo& info() const = 0;

  /// One forward pass. With a cache, past keys/values are attended to and this step's are appended.
  virtual BackboneOutput forward(const BackboneInput& input, KVCache* cache = nullptr) = 0;

  /// The word-embedding matrix [V, d] (the input embeddings; for prompt init and verbalizers).
  virtual at::Tensor word_embeddings() const = 0;

  /// Word-embedding lookup of ids [B, T] -> [B, T, d]: exactly what forward() does to input_ids before
  /// positions are added (T5 encoder and decoder share it).
  virtual at::Tensor embed(const at::Tensor& ids) const = 0;

  /// Freezes (false) or unfreezes (true) every backbone parameter.
  void set_trainable(bool trainable);

  /// The config.json this backbone was built from; save_backbone() writes it back. load_backbone() and
  /// build_backbone() set it, so families need not. Unset is an InternalError.
  const HFConfig& config() const;
  void set_config(HFConfig config) { config_ = std::move(config); }

  /// Parameter dtype and device (of the word embeddings).
  at::ScalarType dtype() const { return word_embeddings().scalar_type(); }
  at::Device device() const { return word_embeddings().device(); }

 private:
  std::optional<HFConfig> config_;
};

/// Registers `value` as parameter `name` of `root` under its dotted Hugging Face name
/// ("model.layers.0.self_attn.q_proj.weight"): intermediate submodules ("model", "layers", "0", ...) are
/// made on first use, so root.named_parameters() yields checkpoint names. Returns the registered tensor.
at::Tensor register_hf_parameter(torch::nn::Module& root, const std::string& name, const at::Tensor& value);

/// Elements of every parameter of `module` (each registered tensor once).
int64_t count_parameters(const torch::nn::Module& module);

}  // namespace ptlab::models
