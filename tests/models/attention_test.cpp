#include "framework/models/attention.h"

#include "tests/models/golden_fixture.h"

#include <gtest/gtest.h>

#include <cmath>

namespace ptlab::models {
namespace {

using testing::error_of;
using testing::max_abs_diff;

TEST(Attention, AllowedMaskCombinesPaddingCausalityAndWindow) {
  // 2 past positions (row 1's first one is padding) + 3 queries.
  at::Tensor key_mask = at::tensor({1, 1, 1, 1, 1, 0, 1, 1, 1, 1}, at::kLong).view({2, 5});
  at::Tensor allowed = attention_allowed(key_mask, 3, /*causal=*/true);
  ASSERT_EQ(allowed.sizes(), (at::IntArrayRef{2, 1, 3, 5}));
  // Query 0 is absolute position 2: keys 0..2.
  EXPECT_TRUE(at::equal(allowed[0][0][0], at::tensor({1, 1, 1, 0, 0}, at::kLong).to(at::kBool)));
  EXPECT_TRUE(at::equal(allowed[1][0][2], at::tensor({0, 1, 1, 1, 1}, at::kLong).to(at::kBool)));
  at::Tensor window = attention_allowed(key_mask, 3, true, /*sliding_window=*/2);
  EXPECT_TRUE(at::equal(window[0][0][2], at::tensor({0, 0, 0, 1, 1}, at::kLong).to(at::kBool)));
  at::Tensor bidirectional = attention_allowed(key_mask, 3, false);
  EXPECT_TRUE(at::equal(bidirectional[1][0][0], key_mask[1].to(at::kBool)));
}

TEST(Attention, ScaledAttentionMatchesANaiveLoopWithGroupedHeads) {
  at::manual_seed(1);
  const int64_t b = 2, h = 4, h_kv = 2, t = 3, s = 5, d = 8;
  at::Tensor q = at::randn({b, h, t, d}), k = at::randn({b, h_kv, s, d}), v = at::randn({b, h_kv, s, d});
  at::Tensor key_mask = at::ones({b, s}, at::kLong);
  key_mask[1][0] = 0;
  at::Tensor allowed = attention_allowed(key_mask, t, true);
  at::Tensor bias = at::randn({1, h, t, s});
  at::Tensor got = scaled_attention(q, k, v, allowed, 0.3, bias);
  ASSERT_EQ(got.sizes(), (at::IntArrayRef{b, h, t, d}));
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t hi = 0; hi < h; ++hi) {
      at::Tensor kk = k[bi][hi / 2], vv = v[bi][hi / 2];  // query head h uses KV head h / (H / H_kv)
      at::Tensor scores = at::matmul(q[bi][hi], kk.t()) * 0.3 + bias[0][hi];
      scores = scores.masked_fill(allowed[bi][0].logical_not(), -INFINITY);
      at::Tensor expected = at::matmul(at::softmax(scores, -1), vv);
      EXPECT_LE(max_abs_diff(got[bi][hi], expected), 1e-5);
    }
  EXPECT_TRUE(at::equal(repeat_kv(k, 2)[0][1], k[0][0]));
  EXPECT_TRUE(at::equal(repeat_kv(k, 2)[0][2], k[0][1]));
}

TEST(Attention, AQueryThatMaySeeNothingStaysFinite) {
  at::Tensor q = at::randn({1, 1, 2, 4}), k = at::randn({1, 1, 2, 4}), v = at::randn({1, 1, 2, 4});
  at::Tensor allowed = attention_allowed(at::tensor({0, 1}, at::kLong).view({1, 2}), 2, true);
  at::Tensor out = scaled_attention(q, k, v, allowed, 0.5);
  EXPECT_TRUE(out.isfinite().all().item<bool>());
  EXPECT_LT(lowest_value(at::kFloat), -3e38);
  EXPECT_EQ(lowest_value(at::kHalf), -65504.0);
}

TEST(Attention, PastSeedsTheCacheAndRejectsBadPrefixes) {
  KVPrefix prefix;
  for (int l = 0; l < 2; ++l) {
    prefix.keys.push_back(at::randn({1, 2, 3, 4}));
    prefix.values.push_back(at::randn({1, 2, 3, 4}));
  }
  KVCache cache;
  AttentionPast past(prefix, &cache, 2, /*batch=*/2, 2, 4, at::kFloat, at::kCPU);
  EXPECT_EQ(past.length(), 3);
  EXPECT_EQ(cache.length(), 3);
  EXPECT_EQ(cache.keys[0].sizes(), (at::IntArrayRef{2, 2, 3, 4}));  // batch-1 prefix expanded
  at::Tensor key_mask = past.key_mask(at::tensor({1, 0, 1, 1}, at::kLong).view({2, 2}), 2, 2);
  EXPECT_TRUE(at::equal(key_mask, at::tensor({1, 1, 1, 1, 0, 1, 1, 1, 1, 1}, at::kLong).view({2, 5})));
  auto [k, v] = past.append(1, at::zeros({2, 2, 2, 4}), at::ones({2, 2, 2, 4}));
  EXPECT_EQ(k.sizes(), (at::IntArrayRef{2, 2, 5, 4}));
  EXPECT_TRUE(at::equal(k.narrow(2, 0, 3)[0], prefix.keys[1][0]));
  EXPECT_TRUE(at::equal(cache.values[1], v));
  past.commit(key_mask);
  EXPECT_TRUE(at::equal(cache.mask, key_mask));

  std::string m = error_of([&] { AttentionPast again(prefix, &cache, 2, 2, 2, 4, at::kFloat, at::kCPU); });
  EXPECT_NE(m.find("non-empty KV cache"), std::string::npos) << m;
  KVPrefix bad = prefix;
  bad.values[1] = at::randn({3, 2, 3, 4});
  m = error_of([&] { AttentionPast p(bad, nullptr, 2, 2, 2, 4, at::kFloat, at::kCPU, "decoder_prefix"); });
  EXPECT_NE(m.find("decoder_prefix: layer 1 values must be [B=2 (or 1), H_kv=2, P=3, d_head=4], got [3, 2, 3, 4]"),
            std::string::npos)
      << m;
  KVCache wrong_layers;
  wrong_layers.keys = {at::zeros({2, 2, 1, 4})};
  wrong_layers.values = {at::zeros({2, 2, 1, 4})};
  wrong_layers.mask = at::ones({2, 1}, at::kLong);
  m = error_of([&] { AttentionPast p(KVPrefix(), &wrong_layers, 2, 2, 2, 4, at::kFloat, at::kCPU); });
  EXPECT_NE(m.find("KV cache holds 1 layers, the model has 2"), std::string::npos) << m;
}

TEST(Attention, PositionsFromTheMaskCountRealTokens) {
  at::Tensor mask = at::tensor({0, 0, 1, 1, 1, 1, 1, 1, 1, 1}, at::kLong).view({2, 5});
  EXPECT_TRUE(at::equal(position_ids_from_mask(mask, 5), at::tensor({1, 1, 0, 1, 2, 0, 1, 2, 3, 4}, at::kLong).view({2, 5})));
  EXPECT_TRUE(at::equal(position_ids_from_mask(mask, 1), at::tensor({2, 4}, at::kLong).view({2, 1})));
  EXPECT_TRUE(at::equal(default_position_ids(3, 2, 2, at::kCPU), at::tensor({3, 4, 3, 4}, at::kLong).view({2, 2})));
}

}  // namespace
}  // namespace ptlab::models
