#include "framework/models/backbone_inputs.h"

#include "framework/core/error.h"

namespace ptlab::models {

namespace {
std::string describe(const at::Tensor& t) {
  return t.defined() ? fmt::format("shape [{}] dtype {}", fmt::join(t.sizes(), ", "), c10::toString(t.scalar_type()))
                     : std::string("nothing");
}
}  // namespace

void check_token_ids(const at::Tensor& ids, int64_t limit, const std::string& what) {
  PTLAB_CHECK(ids.defined() && ids.dim() == 2 && ids.size(0) > 0 && ids.size(1) > 0 &&
                  at::isIntegralType(ids.scalar_type(), /*includeBool=*/false),
              "{}: expected a non-empty [B, T] integer tensor, got {}", what, describe(ids));
  const int64_t lo = ids.min().item<int64_t>(), hi = ids.max().item<int64_t>();
  PTLAB_CHECK(lo >= 0 && hi < limit, "{}: values must lie in [0, {}), got values in [{}, {}]", what, limit, lo, hi);
}

at::Tensor check_inputs_embeds(const at::Tensor& embeds, int64_t width, at::ScalarType dtype, at::Device device,
                               const std::string& what) {
  PTLAB_CHECK(embeds.defined() && embeds.dim() == 3 && embeds.size(0) > 0 && embeds.size(1) > 0 &&
                  embeds.size(2) == width && at::isFloatingType(embeds.scalar_type()),
              "{}: expected a non-empty floating [B, T, {}] tensor, got {}", what, width, describe(embeds));
  return embeds.to(device, dtype);
}

at::Tensor full_key_mask(const AttentionPast& past, const at::Tensor& mask, int64_t batch, int64_t length,
                         const std::string& what) {
  const int64_t P = past.length();
  if (!mask.defined()) return past.key_mask(mask, batch, length);
  PTLAB_CHECK(mask.dim() == 2 && mask.size(0) == batch && (mask.size(1) == length || mask.size(1) == P + length),
              "{}: expected [B, T] = [{}, {}]{}, got {}", what, batch, length,
              P > 0 ? fmt::format(" or [B, past + T] = [{}, {}]", batch, P + length) : "", describe(mask));
  PTLAB_CHECK(mask.eq(0).logical_or(mask.eq(1)).all().item<bool>(), "{}: values must be 0 (padding) or 1 (real token)",
              what);
  if (mask.size(1) == length) return past.key_mask(mask, batch, length);  // [B, P + T]
  return mask.to(past.mask().device(), at::kLong);                        // [B, P + T]
}

at::Tensor gather_positions(const at::Tensor& h, const at::Tensor& positions) {
  const int64_t B = h.size(0), T = h.size(1), d = h.size(2);
  PTLAB_CHECK(positions.defined() && (positions.dim() == 1 || (positions.dim() == 2 && positions.size(0) == B)) &&
                  positions.numel() > 0 && at::isIntegralType(positions.scalar_type(), /*includeBool=*/false),
              "logits request: positions must be [B={}, K] or [K] integers, got {}", B, describe(positions));
  at::Tensor pos = positions.to(h.device(), at::kLong);
  if (pos.dim() == 1) pos = pos.unsqueeze(0).expand({B, pos.size(0)});  // [B, K]
  const int64_t lo = pos.min().item<int64_t>(), hi = pos.max().item<int64_t>();
  PTLAB_CHECK(lo >= 0 && hi < T, "logits request: positions must lie in [0, {}), got values in [{}, {}]", T, lo, hi);
  return h.gather(1, pos.unsqueeze(-1).expand({B, pos.size(1), d}));  // [B, K, d]
}

}  // namespace ptlab::models
