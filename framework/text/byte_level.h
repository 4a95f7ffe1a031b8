// GPT-2's byte <-> unicode alphabet used by byte-level BPE (GPT-2, GPT-NeoX/Pythia, Llama 3, Qwen).
//
// Byte-level BPE works on bytes, but its vocabulary files store tokens as printable text: each byte is
// mapped to one code point — printable Latin-1 bytes (! .. ~, ¡ .. ¬, ® .. ÿ) map to themselves, the other
// 68 bytes to U+0100, U+0101, ... in byte order (so space 0x20 is 'Ġ' U+0120 and '\n' is 'Ċ' U+010A).
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace ptlab::text {

class ByteLevelAlphabet {
 public:
  /// The table (built once, immutable).
  static const ByteLevelAlphabet& get();

  /// The code point that stands for `byte`.
  char32_t code_point(unsigned char byte) const { return byte_to_cp_[byte]; }
  /// UTF-8 of the code point that stands for `byte` (1 or 2 bytes).
  const std::string& utf8(unsigned char byte) const { return byte_to_utf8_[byte]; }
  /// The byte that `cp` stands for, or nullopt when `cp` is not in the alphabet.
  std::optional<unsigned char> byte(char32_t cp) const;

  /// Raw bytes -> their byte-level text ("Hello world" -> "HelloĠworld").
  std::string encode(std::string_view bytes) const;
  /// Byte-level text -> raw bytes; nullopt when a code point is outside the alphabet (or the text is not
  /// well-formed UTF-8).
  std::optional<std::string> decode(std::string_view text) const;

 private:
  ByteLevelAlphabet();
  std::array<char32_t, 256> byte_to_cp_{};
  std::array<std::string, 256> byte_to_utf8_;
  std::array<int, 324> cp_to_byte_{};  // code points used are all < 0x144
};

}  // namespace ptlab::text
