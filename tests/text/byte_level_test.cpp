#include "framework/text/byte_level.h"

#include <gtest/gtest.h>

namespace ptlab::text {
namespace {

TEST(ByteLevelAlphabet, MapsBytesLikeGpt2) {
  const auto& a = ByteLevelAlphabet::get();
  EXPECT_EQ(a.code_point(' '), U'\u0120');   // Ġ
  EXPECT_EQ(a.code_point('\n'), U'\u010A');  // Ċ
  EXPECT_EQ(a.code_point(0), U'\u0100');
  EXPECT_EQ(a.code_point('A'), U'A');
  EXPECT_EQ(a.code_point(0xAD), U'\u0143');  // soft hyphen byte is not printable
  EXPECT_EQ(a.code_point(0xE9), U'\u00E9');
  EXPECT_EQ(a.utf8(' '), "\xC4\xA0");
  EXPECT_EQ(a.encode("Hello world\n"), "Hello\xC4\xA0world\xC4\x8A");
}

TEST(ByteLevelAlphabet, RoundTripsEveryByte) {
  const auto& a = ByteLevelAlphabet::get();
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  auto back = a.decode(a.encode(all));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, all);
  for (int b = 0; b < 256; ++b) EXPECT_EQ(a.byte(a.code_point(static_cast<unsigned char>(b))), b);
}

TEST(ByteLevelAlphabet, RejectsTextOutsideTheAlphabet) {
  const auto& a = ByteLevelAlphabet::get();
  EXPECT_FALSE(a.decode("a b").has_value());           // a plain space is not in the alphabet
  EXPECT_FALSE(a.decode("\xE2\x82\xAC").has_value());  // €
  EXPECT_FALSE(a.byte(U'\u0144').has_value());         // just past the last mapped code point
}

}  // namespace
}  // namespace ptlab::text
