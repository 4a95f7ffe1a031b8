// LinearHead: the trainable task head of P-Tuning v2 for NLU — Linear(d, C) on one hidden state per example
// (the mask, the [CLS] token, the last token, or BERT's pooler output; see verbalizer.h, pooling), or on
// every position's hidden state for token classification, with dropout before it.
//
// It is a module with its own parameters, which train with the method's (PEFT keeps such heads in
// modules_to_save): "weight" [C, d] and "bias" [C], always float32 (the backbone's bf16 hidden states are
// cast up). Init as Hugging Face's _init_weights for BERT/RoBERTa heads: weight ~ N(0, 0.02^2), bias = 0,
// from a seeded generator, so every rank of a data-parallel trial starts equal.
#pragma once

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <cstdint>

namespace ptlab::tasks {

class LinearHeadImpl : public torch::nn::Module {
 public:
  /// A head from hidden size d to num_classes C (both >= 1), initialised from `seed`.
  LinearHeadImpl(int64_t hidden_size, int64_t num_classes, double dropout = 0.1, uint64_t seed = 0);

  /// Re-draws weight ~ N(0, std^2) from `seed` and zeroes the bias.
  void reset_parameters(uint64_t seed, double std = 0.02);

  /// hidden [B, d] -> logits [B, C], or per token [B, T, d] -> [B, T, C]; any float dtype in, float32 out.
  /// Dropout applies in training mode only.
  at::Tensor forward(const at::Tensor& hidden);

  int64_t hidden_size() const { return weight_.size(1); }
  int64_t num_classes() const { return weight_.size(0); }
  const at::Tensor& weight() const { return weight_; }
  const at::Tensor& bias() const { return bias_; }

 private:
  at::Tensor weight_;  // [C, d]
  at::Tensor bias_;    // [C]
  double dropout_;
};
TORCH_MODULE(LinearHead);

/// hidden [B, T, d] read at positions [B] (int64, on any device) -> [B, d].
at::Tensor gather_positions(const at::Tensor& hidden, const at::Tensor& positions);

}  // namespace ptlab::tasks
