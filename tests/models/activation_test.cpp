#include "framework/models/activation.h"

#include "tests/models/golden_fixture.h"

#include <gtest/gtest.h>

#include <cmath>

namespace ptlab::models {
namespace {

TEST(Activation, MatchesTransformersDefinitions) {
  const double x = 0.7;
  auto at_x = [&](const std::string& name) { return apply_activation(name, at::full({1}, x, at::kDouble)).item<double>(); };
  EXPECT_NEAR(at_x("gelu"), 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))), 1e-12);
  const double tanh_gelu = 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
  EXPECT_NEAR(at_x("gelu_new"), tanh_gelu, 1e-12);
  EXPECT_NEAR(at_x("gelu_pytorch_tanh"), tanh_gelu, 1e-12);
  EXPECT_NEAR(at_x("silu"), x / (1 + std::exp(-x)), 1e-12);
  EXPECT_NEAR(at_x("quick_gelu"), x / (1 + std::exp(-1.702 * x)), 1e-12);
  EXPECT_EQ(apply_activation("relu", at::full({1}, -2.0)).item<float>(), 0.0f);
}

TEST(Activation, UnknownNamesAreErrorsWithSuggestions) {
  std::string m = testing::error_of([] { check_activation("gelu_neww", "config.json (x): field 'hidden_act'"); });
  EXPECT_NE(m.find("config.json (x): field 'hidden_act': activation 'gelu_neww' is not supported (did you mean gelu_new"),
            std::string::npos)
      << m;
  EXPECT_NO_THROW(check_activation("silu", "x"));
}

}  // namespace
}  // namespace ptlab::models
