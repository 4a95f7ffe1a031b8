#include "framework/text/unicode.h"

#include "framework/core/error.h"
#include "framework/text/utf8.h"

#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/ustring.h>

namespace ptlab::text {
namespace {

bool is_ascii(std::string_view text) {
  for (char c : text)
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  return true;
}

const icu::Normalizer2& normalizer(NormalForm form) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* n = nullptr;
  switch (form) {
    case NormalForm::kNFC:
      n = icu::Normalizer2::getNFCInstance(status);
      break;
    case NormalForm::kNFD:
      n = icu::Normalizer2::getNFDInstance(status);
      break;
    case NormalForm::kNFKC:
      n = icu::Normalizer2::getNFKCInstance(status);
      break;
    case NormalForm::kNFKD:
      n = icu::Normalizer2::getNFKDInstance(status);
      break;
  }
  PTLAB_ASSERT(U_SUCCESS(status) && n != nullptr, "ICU normaliser unavailable: {}", u_errorName(status));
  return *n;
}

}  // namespace

std::string normalize(std::string_view text, NormalForm form) {
  if (is_ascii(text)) return std::string(text);  // ASCII is invariant under all four forms
  const icu::Normalizer2& n = normalizer(form);
  icu::UnicodeString src =
      icu::UnicodeString::fromUTF8(icu::StringPiece(text.data(), static_cast<int32_t>(text.size())));
  UErrorCode status = U_ZERO_ERROR;
  if (n.isNormalized(src, status) && U_SUCCESS(status)) return std::string(text);
  status = U_ZERO_ERROR;
  icu::UnicodeString dst = n.normalize(src, status);
  PTLAB_ASSERT(U_SUCCESS(status), "ICU normalisation failed: {}", u_errorName(status));
  std::string out;
  dst.toUTF8String(out);
  return out;
}

const char* general_category(char32_t cp) {
  switch (u_charType(static_cast<UChar32>(cp))) {
    case U_UPPERCASE_LETTER:
      return "Lu";
    case U_LOWERCASE_LETTER:
      return "Ll";
    case U_TITLECASE_LETTER:
      return "Lt";
    case U_MODIFIER_LETTER:
      return "Lm";
    case U_OTHER_LETTER:
      return "Lo";
    case U_NON_SPACING_MARK:
      return "Mn";
    case U_ENCLOSING_MARK:
      return "Me";
    case U_COMBINING_SPACING_MARK:
      return "Mc";
    case U_DECIMAL_DIGIT_NUMBER:
      return "Nd";
    case U_LETTER_NUMBER:
      return "Nl";
    case U_OTHER_NUMBER:
      return "No";
    case U_SPACE_SEPARATOR:
      return "Zs";
    case U_LINE_SEPARATOR:
      return "Zl";
    case U_PARAGRAPH_SEPARATOR:
      return "Zp";
    case U_CONTROL_CHAR:
      return "Cc";
    case U_FORMAT_CHAR:
      return "Cf";
    case U_PRIVATE_USE_CHAR:
      return "Co";
    case U_SURROGATE:
      return "Cs";
    case U_DASH_PUNCTUATION:
      return "Pd";
    case U_START_PUNCTUATION:
      return "Ps";
    case U_END_PUNCTUATION:
      return "Pe";
    case U_CONNECTOR_PUNCTUATION:
      return "Pc";
    case U_OTHER_PUNCTUATION:
      return "Po";
    case U_INITIAL_PUNCTUATION:
      return "Pi";
    case U_FINAL_PUNCTUATION:
      return "Pf";
    case U_MATH_SYMBOL:
      return "Sm";
    case U_CURRENCY_SYMBOL:
      return "Sc";
    case U_MODIFIER_SYMBOL:
      return "Sk";
    case U_OTHER_SYMBOL:
      return "So";
    default:
      return "Cn";  // U_UNASSIGNED (= U_GENERAL_OTHER_TYPES)
  }
}

bool has_major_category(char32_t cp, char major) { return general_category(cp)[0] == major; }

bool is_python_space(char32_t cp) {
  if (cp < 0x80) return cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x1F);
  if (u_charType(static_cast<UChar32>(cp)) == U_SPACE_SEPARATOR) return true;
  switch (u_charDirection(static_cast<UChar32>(cp))) {
    case U_WHITE_SPACE_NEUTRAL:
    case U_BLOCK_SEPARATOR:
    case U_SEGMENT_SEPARATOR:
      return true;
    default:
      return false;
  }
}

void append_python_lower(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp >= 'A' && cp <= 'Z' ? cp + 32 : cp);
    return;
  }
  UChar src[2];
  int32_t len = 0;
  U16_APPEND_UNSAFE(src, len, static_cast<UChar32>(cp));
  UChar dst[8];
  UErrorCode status = U_ZERO_ERROR;
  // Root locale: the locale-independent full mapping (SpecialCasing.txt without language rules), which is
  // what Python's str.lower() implements. One code point alone never triggers Final_Sigma.
  int32_t n = u_strToLower(dst, 8, src, len, "", &status);
  PTLAB_ASSERT(U_SUCCESS(status), "ICU lower-casing failed: {}", u_errorName(status));
  for (int32_t i = 0; i < n;) {
    UChar32 c;
    U16_NEXT(dst, i, n, c);
    append_utf8(out, static_cast<char32_t>(c));
  }
}

std::string python_lower(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t pos = 0; pos < text.size();) {
    auto c = static_cast<unsigned char>(text[pos]);
    if (c < 0x80) {
      out += static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
      ++pos;
      continue;
    }
    append_python_lower(out, next_code_point(text, pos));
  }
  return out;
}

std::string strip_accents(std::string_view text) {
  if (is_ascii(text)) return std::string(text);
  std::string nfd = normalize(text, NormalForm::kNFD);
  std::string out;
  out.reserve(nfd.size());
  for (std::size_t pos = 0; pos < nfd.size();) {
    std::size_t start = pos;
    char32_t cp = next_code_point(nfd, pos);
    if (u_charType(static_cast<UChar32>(cp)) != U_NON_SPACING_MARK) out.append(nfd, start, pos - start);
  }
  return out;
}

std::string_view python_strip(std::string_view text) {
  std::size_t begin = 0;
  while (begin < text.size()) {
    std::size_t pos = begin;
    if (!is_python_space(next_code_point(text, pos))) break;
    begin = pos;
  }
  std::size_t end = text.size();
  while (end > begin) {
    std::size_t start = end - 1;
    while (start > begin && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
    std::size_t pos = start;
    if (!is_python_space(next_code_point(text, pos))) break;
    end = start;
  }
  return text.substr(begin, end - begin);
}

}  // namespace ptlab::text
