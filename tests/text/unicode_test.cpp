#include "framework/text/unicode.h"

#include <gtest/gtest.h>

namespace ptlab::text {
namespace {

TEST(Unicode, NormalFormsMatchPython) {
  const std::string nfc = "caf\xC3\xA9", nfd = "cafe\xCC\x81";  // é composed / e + U+0301
  EXPECT_EQ(normalize(nfd, NormalForm::kNFC), nfc);
  EXPECT_EQ(normalize(nfc, NormalForm::kNFD), nfd);
  EXPECT_EQ(normalize("\xEF\xAC\x81nancial", NormalForm::kNFKC), "financial");  // ﬁ ligature
  EXPECT_EQ(normalize("\xEF\xBC\xA1\xEF\xBC\x91", NormalForm::kNFKD), "A1");    // fullwidth Ａ１
  EXPECT_EQ(normalize("\xEF\xAC\x81", NormalForm::kNFC), "\xEF\xAC\x81");       // NFC keeps compatibility chars
  EXPECT_EQ(normalize("plain ascii", NormalForm::kNFD), "plain ascii");
}

TEST(Unicode, GeneralCategories) {
  EXPECT_STREQ(general_category(U'A'), "Lu");
  EXPECT_STREQ(general_category(U'a'), "Ll");
  EXPECT_STREQ(general_category(U'\u0301'), "Mn");
  EXPECT_STREQ(general_category(U'7'), "Nd");
  EXPECT_STREQ(general_category(U'\u3000'), "Zs");
  EXPECT_STREQ(general_category(U'\u2028'), "Zl");
  EXPECT_STREQ(general_category(U'\u200B'), "Cf");
  EXPECT_STREQ(general_category(U'\u0085'), "Cc");
  EXPECT_STREQ(general_category(U'\u00AB'), "Pi");
  EXPECT_STREQ(general_category(U'\u4E2D'), "Lo");
  EXPECT_TRUE(has_major_category(U'!', 'P'));
  EXPECT_FALSE(has_major_category(U'$', 'P'));  // Sc
}

TEST(Unicode, PythonIsspace) {
  for (char32_t cp : {U' ', U'\t', U'\n', U'\v', U'\f', U'\r', U'\x1c', U'\x1f', U'\u0085', U'\u00A0', U'\u2028',
                      U'\u2029', U'\u3000', U'\u2003'})
    EXPECT_TRUE(is_python_space(cp)) << static_cast<int>(cp);
  for (char32_t cp : {U'a', U'\u200B', U'\u180E', U'\u0001', U'\uFEFF'})
    EXPECT_FALSE(is_python_space(cp)) << static_cast<int>(cp);
}

TEST(Unicode, LowerCaseIsPythonsPerCodePoint) {
  EXPECT_EQ(python_lower("HeLLo WORLD"), "hello world");
  EXPECT_EQ(python_lower("\xC3\x89"
                         "COLE"),
            "\xC3\xA9"
            "cole");                                 // ÉCOLE
  EXPECT_EQ(python_lower("\xC4\xB0"), "i\xCC\x87");  // İ -> i + U+0307 (full mapping)
  EXPECT_EQ(python_lower("\xCE\x9F\xCE\x94\xCE\x9F\xCE\xA3"), "\xCE\xBF\xCE\xB4\xCE\xBF\xCF\x83");  // ΟΔΟΣ -> οδοσ
}

TEST(Unicode, StripAccentsAndStrip) {
  EXPECT_EQ(strip_accents("caf\xC3\xA9 ni\xC3\xB1o"), "cafe nino");
  EXPECT_EQ(strip_accents("\xC3\x85ngstr\xC3\xB6m"), "Angstrom");
  EXPECT_EQ(python_strip("  \t x y \xE3\x80\x80\n"), "x y");
  EXPECT_EQ(python_strip("   "), "");
  EXPECT_EQ(python_strip("a"), "a");
}

}  // namespace
}  // namespace ptlab::text
