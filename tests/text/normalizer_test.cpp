#include "framework/text/normalizer.h"

#include "framework/core/error.h"
#include "tests/text/text_test_support.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace ptlab::text {
namespace {

using json = nlohmann::json;

TEST(Normalizer, NullIsIdentity) {
  Normalizer n = Normalizer::from_json(json(), "tokenizer.json normalizer");
  EXPECT_TRUE(n.is_identity());
  EXPECT_EQ(n.apply("cafe\xCC\x81"), "cafe\xCC\x81");
}

TEST(Normalizer, SequenceOfSteps) {
  json j = json::parse(R"({"type": "Sequence", "normalizers": [
      {"type": "NFC"}, {"type": "Lowercase"},
      {"type": "Replace", "pattern": {"String": " "}, "content": "_"},
      {"type": "Prepend", "prepend": ">"}, {"type": "Strip", "strip_left": false, "strip_right": true}]})");
  Normalizer n = Normalizer::from_json(j, "tokenizer.json normalizer");
  EXPECT_FALSE(n.is_identity());
  EXPECT_EQ(n.apply("CAFE\xCC\x81 Bar\t"), ">caf\xC3\xA9_bar");
  EXPECT_EQ(n.apply(""), "");  // Prepend leaves empty text empty
}

TEST(Normalizer, CompatibilityForms) {
  Normalizer n = Normalizer::from_json(json::parse(R"({"type": "NFKC"})"), "n");
  EXPECT_EQ(n.apply("\xEF\xAC\x81x \xEF\xBC\x91"), "fix 1");
  Normalizer strip = Normalizer::from_json(json::parse(R"({"type": "Strip"})"), "n");
  EXPECT_EQ(strip.apply("  a b  "), "a b");
  Normalizer left = Normalizer::from_json(json::parse(R"({"type": "Strip", "strip_right": false})"), "n");
  EXPECT_EQ(left.apply("  a b  "), "a b  ");
}

TEST(Normalizer, UnsupportedTypeNamesTheSupportedOnes) {
  std::string message = testing::error_of([] {
    Normalizer::from_json(json::parse(R"({"type": "Precompiled", "precompiled_charsmap": ""})"), "x.json normalizer");
  });
  EXPECT_NE(message.find("x.json normalizer"), std::string::npos) << message;
  EXPECT_NE(message.find("'Precompiled'"), std::string::npos) << message;
  EXPECT_NE(message.find("NFC"), std::string::npos) << message;
  message = testing::error_of([] {
    Normalizer::from_json(json::parse(R"({"type": "Replace", "pattern": {"Regex": " +"}, "content": " "})"), "n");
  });
  EXPECT_NE(message.find("String"), std::string::npos) << message;
}

}  // namespace
}  // namespace ptlab::text
