#include "framework/text/byte_level.h"

#include "framework/text/utf8.h"

namespace ptlab::text {

ByteLevelAlphabet::ByteLevelAlphabet() {
  cp_to_byte_.fill(-1);
  char32_t next = 256;  // bytes that are not printable get U+0100, U+0101, ... in byte order
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    const char32_t cp = printable ? static_cast<char32_t>(b) : next++;
    byte_to_cp_[b] = cp;
    byte_to_utf8_[b] = utf8_encode(cp);
    cp_to_byte_[cp] = b;
  }
}

const ByteLevelAlphabet& ByteLevelAlphabet::get() {
  static const ByteLevelAlphabet alphabet;
  return alphabet;
}

std::optional<unsigned char> ByteLevelAlphabet::byte(char32_t cp) const {
  if (cp >= cp_to_byte_.size() || cp_to_byte_[cp] < 0) return std::nullopt;
  return static_cast<unsigned char>(cp_to_byte_[cp]);
}

std::string ByteLevelAlphabet::encode(std::string_view bytes) const {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) out += byte_to_utf8_[static_cast<unsigned char>(c)];
  return out;
}

std::optional<std::string> ByteLevelAlphabet::decode(std::string_view text) const {
  std::string out;
  out.reserve(text.size());
  for (std::size_t pos = 0; pos < text.size();) {
    const std::size_t start = pos;
    const char32_t cp = next_code_point(text, pos);
    if (cp == kReplacementChar && pos - start == 1 && static_cast<unsigned char>(text[start]) >= 0x80)
      return std::nullopt;  // malformed UTF-8
    auto b = byte(cp);
    if (!b) return std::nullopt;
    out += static_cast<char>(*b);
  }
  return out;
}

}  // namespace ptlab::text
