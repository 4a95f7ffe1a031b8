#include "framework/models/lm_head.h"

#include "framework/core/error.h"

namespace ptlab::models {

at::Tensor compute_logits(const at::Tensor& hidden, const at::Tensor& weight, const LogitsRequest& request,
                          const at::Tensor& bias) {
  using Mode = LogitsRequest::Mode;
  if (request.mode == Mode::kNone) return {};
  const int64_t batch = hidden.size(0), len = hidden.size(1), dim = hidden.size(2), vocab = weight.size(0);
  if (request.mode == Mode::kAll) {
    PTLAB_CHECK(!request.vocab_rows.defined(),
                "logits request: vocab_rows need mode kPositions (choose the positions to score too)");
    return at::linear(hidden, weight, bias);  // [B, T, V]
  }
  PTLAB_CHECK(request.positions.defined(), "logits request kPositions needs positions ([B, K] or [K] int64)");
  at::Tensor pos = request.positions.to(hidden.device(), at::kLong);
  if (pos.dim() == 1) pos = pos.unsqueeze(0).expand({batch, pos.size(0)});
  PTLAB_CHECK(pos.dim() == 2 && pos.size(0) == batch, "logits request: positions must be [B={}, K] or [K], got [{}]",
              batch, fmt::join(request.positions.sizes(), ", "));
  if (pos.numel() > 0) {
    const int64_t lo = pos.min().item<int64_t>(), hi = pos.max().item<int64_t>();
    PTLAB_CHECK(lo >= 0 && hi < len, "logits request: positions must lie in [0, {}), got values in [{}, {}]", len, lo,
                hi);
  }
  // gathered: [B, K, d] — only the chosen positions' hidden states.
  at::Tensor gathered = hidden.gather(1, pos.unsqueeze(-1).expand({batch, pos.size(1), dim}));
  if (!request.vocab_rows.defined()) return at::linear(gathered, weight, bias);  // [B, K, V]
  at::Tensor rows = request.vocab_rows.to(weight.device(), at::kLong);
  PTLAB_CHECK(rows.dim() == 1, "logits request: vocab_rows must be [V'] int64, got {} dims", rows.dim());
  if (rows.numel() > 0) {
    const int64_t lo = rows.min().item<int64_t>(), hi = rows.max().item<int64_t>();
    PTLAB_CHECK(lo >= 0 && hi < vocab, "logits request: vocab_rows must lie in [0, {}), got values in [{}, {}]", vocab,
                lo, hi);
  }
  at::Tensor w = weight.index_select(0, rows);                      // [V', d]
  at::Tensor b = bias.defined() ? bias.index_select(0, rows) : bias;  // [V']
  return at::linear(gathered, w, b);                                // [B, K, V']
}

at::Tensor causal_lm_loss(const at::Tensor& logits, const at::Tensor& labels, int64_t ignore_index) {
  PTLAB_CHECK(logits.dim() == 3 && labels.dim() == 2 && logits.size(0) == labels.size(0) &&
                  logits.size(1) == labels.size(1),
              "causal_lm_loss: logits [B, T, V] and labels [B, T] disagree: [{}] vs [{}]", fmt::join(logits.sizes(), ", "),
              fmt::join(labels.sizes(), ", "));
  const int64_t len = logits.size(1), vocab = logits.size(2);
  // shifted: logits[:, :-1] predicts labels[:, 1:]: [B * (T - 1), V] and [B * (T - 1)]
  at::Tensor shifted_logits = logits.narrow(1, 0, len - 1).reshape({-1, vocab}).to(at::kFloat);
  at::Tensor shifted_labels = labels.narrow(1, 1, len - 1).reshape({-1}).to(logits.device(), at::kLong);
  return at::cross_entropy_loss(shifted_logits, shifted_labels, {}, at::Reduction::Mean, ignore_index);
}

}  // namespace ptlab::models
