// UTF-8 text as byte strings: validation with byte offsets, code point iteration and encoding, and the
// lossy byte -> text conversion that Hugging Face decoders use.
//
// Every tokenizer takes `std::string_view` holding UTF-8. Invalid input is rejected up front with an
// Error naming the byte offset (see check_utf8) rather than silently replaced: a replaced byte would
// change the ids, and callers usually want to know that their data file is not UTF-8.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ptlab::text {

/// The code point used for undecodable bytes.
inline constexpr char32_t kReplacementChar = 0xFFFD;

/// Byte offset of the first byte that does not start a well-formed UTF-8 sequence (overlong forms,
/// surrogates, code points above U+10FFFF and truncated sequences are ill-formed), or npos.
std::size_t find_invalid_utf8(std::string_view text);

/// Throws ptlab::Error "invalid UTF-8 in <what> at byte offset N (bytes ...)" when `text` is not
/// well-formed UTF-8.
void check_utf8(std::string_view text, std::string_view what);

/// Decodes the code point starting at `pos` and advances `pos` past it. `text` must be well-formed
/// UTF-8 (checked by the caller); on a malformed byte it returns U+FFFD and advances one byte.
char32_t next_code_point(std::string_view text, std::size_t& pos);

/// Byte length of the UTF-8 sequence that starts with `lead` (1 for a stray continuation byte).
std::size_t utf8_length(unsigned char lead);

/// Appends the UTF-8 encoding of `cp` (must be a Unicode scalar value) to `out`.
void append_utf8(std::string& out, char32_t cp);

/// The UTF-8 encoding of `cp`.
std::string utf8_encode(char32_t cp);

/// Number of code points in well-formed UTF-8 `text`.
std::size_t count_code_points(std::string_view text);

/// Bytes to text the way Python's `bytes.decode("utf-8", errors="replace")` and Rust's
/// `String::from_utf8_lossy` do: every maximal ill-formed subsequence becomes one U+FFFD.
std::string decode_utf8_lossy(std::string_view bytes);

}  // namespace ptlab::text
