// BERT and RoBERTa encoders as frozen backbones, numerically equal to transformers 4.38 (fp32, eager).
//
// Checkpoints: BertForMaskedLM ("bert." + "cls.predictions."), BertModel (no prefix, pooler),
// BertForSequenceClassification / BertForPreTraining ("bert." + pooler; their task heads "classifier.*" /
// "cls.seq_relationship.*" are not part of the backbone and are skipped with a log line),
// RobertaForMaskedLM ("roberta." + "lm_head."), RobertaModel. The weight-name prefix is detected from the
// checkpoint, as Hugging Face does for each class; state_dict() keys equal the checkpoint's names.
//
// Forward (post-LayerNorm encoder, bidirectional attention):
//   embeddings = LayerNorm((words + token_types) + positions)      hidden_states[0]
//   layer: h = LN(h + O(attn(h))); h = LN(h + W2 act(W1 h))          hidden_states[1..L] (no final norm)
//   MLM head: decoder(LN(act(dense(h)))) + bias, decoder tied to the word embeddings (unless untied);
//             RoBERTa's head always uses exact GELU, BERT's uses hidden_act.
//   pooler (when the checkpoint has one): tanh(dense(h[:, 0])) -> BackboneOutput::pooled.
//
// Hook points (see backbone.h):
//  - inputs_embeds replaces only the word-embedding lookup; token types and positions are still added.
//  - prefix: per-layer K/V [B, H, P, d_head] prepended to the keys/values (P-Tuning v2). The key mask
//    gets P leading ones and absolute positions of the real tokens start at P (HF BertEmbeddings'
//    past_key_values_length). attention_mask may be [B, T] (real tokens only) or [B, P + T] (the Hugging
//    Face convention, which lets a caller mask prefix entries).
//  - KVCache: this step's keys/values are appended after the cached ones; a prefix seeds an empty cache
//    (and is an Error with a non-empty one); positions continue after the cache. Bidirectional attention
//    sees the cached keys as a past, exactly like a prefix.
//  - logits: all positions, none, or chosen positions (the head transform runs on the gathered positions
//    only) x chosen vocabulary rows.
//
// RoBERTa positions: padding_idx + 1 + (number of real tokens so far, plus the past length), padding
// positions get padding_idx (create_position_ids_from_input_ids). Real tokens are input_ids != pad_token_id
// when ids are given (exactly HF); with inputs_embeds they are the attention mask's ones (HF numbers
// embeddings sequentially instead, which differs only under left padding, where ours keeps the real
// tokens' positions independent of the padding side).
#pragma once

#include "framework/models/backbone.h"
#include "framework/models/checkpoint.h"
#include "framework/models/hf_config.h"

#include <ATen/ATen.h>

#include <memory>
#include <string>
#include <vector>

namespace ptlab::models {

/// The fields of a BERT / RoBERTa config.json the model uses.
struct BertConfig {
  std::string model_type = "bert";  ///< "bert" or "roberta"
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t intermediate_size = 0;
  int64_t max_position_embeddings = 0;
  int64_t type_vocab_size = 2;
  double layer_norm_eps = 1e-12;
  std::string hidden_act = "gelu";  ///< one of activation_names() (activation.h)
  int64_t pad_token_id = 0;         ///< RoBERTa's padding_idx
  bool tie_word_embeddings = true;
  int64_t bos_token_id = -1, eos_token_id = -1;  ///< for BackboneInfo only

  bool is_roberta() const { return model_type == "roberta"; }
  /// Reads and validates config.json (position_embedding_type must be "absolute", is_decoder false).
  static BertConfig from_hf(const HFConfig& config);
};

class BertBackbone final : public Backbone {
 public:
  /// Takes every tensor it needs from `weights` (prefix detected) and registers it with its HF name.
  BertBackbone(const BertConfig& config, Checkpoint& weights, const LoadOptions& options);

  const BackboneInfo& info() const override { return info_; }
  const BertConfig& bert_config() const { return config_; }
  bool has_mlm_head() const { return mlm_.dense_w.defined(); }
  bool has_pooler() const { return pooler_w_.defined(); }

  BackboneOutput forward(const BackboneInput& input, KVCache* cache = nullptr) override;
  at::Tensor word_embeddings() const override { return word_embeddings_; }
  at::Tensor embed(const at::Tensor& ids) const override;

  /// The position ids forward() uses for T tokens after a past of `past` keys: [B, T] int64.
  /// `real`: [B, T] 1 for real tokens (RoBERTa only; undefined = all real).
  at::Tensor position_ids(int64_t batch, int64_t length, int64_t past, const at::Tensor& real) const;

 private:
  struct Linear {
    at::Tensor w, b;
  };
  struct Norm {
    at::Tensor w, b;
  };
  struct Layer {
    Linear query, key, value, attn_out;
    Norm attn_norm;
    Linear intermediate, output;
    Norm out_norm;
  };
  struct MlmHead {
    at::Tensor dense_w, dense_b;
    Norm norm;
    at::Tensor decoder_w;  ///< [V, d]: the word embeddings when tied
    at::Tensor bias;       ///< [V]
  };

  at::Tensor layer_norm(const at::Tensor& x, const Norm& n) const;
  at::Tensor mlm_logits(const at::Tensor& h, const LogitsRequest& request) const;

  BertConfig config_;
  BackboneInfo info_;
  at::Tensor word_embeddings_, position_embeddings_, token_type_embeddings_;
  Norm embedding_norm_;
  std::vector<Layer> layers_;
  at::Tensor pooler_w_, pooler_b_;
  MlmHead mlm_;
};

/// FamilyBuilder for model_type "bert" and "roberta" (see loader.h).
std::shared_ptr<Backbone> build_bert(const HFConfig& config, Checkpoint& weights, const LoadOptions& options);

/// The [MASK] id from the tokenizer files of DIR (tokenizer_config.json's mask_token and
/// added_tokens_decoder, vocab.txt, vocab.json or tokenizer.json); -1 when none says. `mask_token` is the
/// default mask string when tokenizer_config.json names none ("[MASK]" for BERT, "<mask>" for RoBERTa).
int64_t find_mask_token_id(const std::string& dir, const std::string& mask_token);

}  // namespace ptlab::models
