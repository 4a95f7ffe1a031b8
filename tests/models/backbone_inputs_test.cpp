// Validation helpers of the encoder families' inputs: each check accepts what is right and names what is
// wrong.
#include "framework/models/backbone_inputs.h"

#include "framework/core/error.h"
#include "tests/models/golden_fixture.h"

#include <gtest/gtest.h>

namespace ptlab::models {
namespace {

using testing::error_of;

TEST(BackboneInputs, TokenIdsMustBeIntegersInRange) {
  check_token_ids(at::tensor({0, 4, 9}, at::kLong).view({1, 3}), 10, "ids");
  check_token_ids(at::tensor({1, 2}, at::kInt).view({2, 1}), 10, "ids");
  EXPECT_NE(error_of([] {
              check_token_ids(at::tensor({3, 10}, at::kLong).view({1, 2}), 10, "my ids");
            }).find("my ids: values must lie in [0, 10), got values in [3, 10]"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              check_token_ids(at::tensor({-1}, at::kLong).view({1, 1}), 10, "ids");
            }).find("[-1, -1]"),
            std::string::npos);
  EXPECT_NE(error_of([] { check_token_ids(at::ones({2, 2}), 10, "ids"); }).find("integer"), std::string::npos);
  EXPECT_NE(error_of([] { check_token_ids(at::ones({4}, at::kLong), 10, "ids"); }).find("[B, T]"), std::string::npos);
  EXPECT_NE(error_of([] { check_token_ids(at::Tensor(), 10, "ids"); }).find("got nothing"), std::string::npos);
}

TEST(BackboneInputs, InputsEmbedsAreCastToTheBackboneDtype) {
  auto out = check_inputs_embeds(at::ones({2, 3, 8}), 8, at::kBFloat16, at::kCPU, "embeds");
  EXPECT_EQ(out.scalar_type(), at::kBFloat16);
  EXPECT_NE(error_of([] {
              check_inputs_embeds(at::ones({2, 3, 7}), 8, at::kFloat, at::kCPU, "embeds");
            }).find("embeds: expected a non-empty floating [B, T, 8] tensor, got shape [2, 3, 7]"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              check_inputs_embeds(at::ones({2, 3, 8}, at::kLong), 8, at::kFloat, at::kCPU, "e");
            }).find("Long"),
            std::string::npos);
}

TEST(BackboneInputs, KeyMaskAcceptsRealTokensOrPastPlusRealTokens) {
  KVPrefix prefix{{at::zeros({2, 1, 3, 4})}, {at::zeros({2, 1, 3, 4})}};
  AttentionPast past(prefix, nullptr, 1, 2, 1, 4, at::kFloat, at::kCPU);
  auto mask = at::tensor({1, 1, 0, 1, 1, 1}, at::kLong).view({2, 3});
  auto full = full_key_mask(past, mask, 2, 3, "mask");  // [B, 3 + 3]: ones for the prefix
  EXPECT_TRUE(full.equal(at::cat({at::ones({2, 3}, at::kLong), mask}, 1)));
  auto given = at::cat({at::zeros({2, 3}, at::kLong), mask}, 1);  // the caller masks the prefix
  EXPECT_TRUE(full_key_mask(past, given, 2, 3, "mask").equal(given));
  EXPECT_TRUE(full_key_mask(past, at::Tensor(), 2, 3, "mask").equal(at::ones({2, 6}, at::kLong)));
  EXPECT_NE(error_of([&] {
              full_key_mask(past, at::ones({2, 4}, at::kLong), 2, 3, "my mask");
            }).find("my mask: expected [B, T] = [2, 3] or [B, past + T] = [2, 6], got shape [2, 4]"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              full_key_mask(past, at::full({2, 3}, 2, at::kLong), 2, 3, "mask");
            }).find("0 (padding)"),
            std::string::npos);
}

TEST(BackboneInputs, GatherPositionsPerRowOrShared) {
  auto h = at::arange(2 * 4 * 3, at::kFloat).view({2, 4, 3});
  auto per_row = gather_positions(h, at::tensor({3, 0, 1, 1}, at::kLong).view({2, 2}));
  EXPECT_TRUE(per_row[0][0].equal(h[0][3]));
  EXPECT_TRUE(per_row[1][1].equal(h[1][1]));
  auto shared = gather_positions(h, at::tensor({2}, at::kLong));
  EXPECT_EQ(shared.sizes(), at::IntArrayRef({2, 1, 3}));
  EXPECT_TRUE(shared[1][0].equal(h[1][2]));
  EXPECT_NE(error_of([&] {
              gather_positions(h, at::tensor({4}, at::kLong));
            }).find("positions must lie in [0, 4), got values in [4, 4]"),
            std::string::npos);
  EXPECT_NE(error_of([&] { gather_positions(h, at::zeros({3, 1}, at::kLong)); }).find("[B=2, K]"), std::string::npos);
}

}  // namespace
}  // namespace ptlab::models
