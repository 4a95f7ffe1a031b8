#include "framework/text/utf8.h"

#include "framework/core/error.h"

#include <fmt/format.h>

namespace ptlab::text {
namespace {

// Checks the sequence at `pos` against Unicode's table of well-formed UTF-8 byte sequences (The
// Unicode Standard, Table 3-7). Returns its length when well-formed, else 0 with `subpart` set to the
// length of the maximal ill-formed subpart (at least 1) that a lossy decoder replaces by one U+FFFD.
std::size_t well_formed_length(std::string_view s, std::size_t pos, std::size_t& subpart) {
  auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char b0 = byte(pos);
  subpart = 1;
  if (b0 < 0x80) return 1;
  std::size_t need = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return 0;  // 80..C1, F5..FF never start a sequence
  }
  for (std::size_t k = 1; k < need; ++k) {
    if (pos + k >= s.size()) return 0;
    const unsigned char b = byte(pos + k);
    const unsigned char l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
    if (b < l || b > h) return 0;
    subpart = k + 1;
  }
  return need;
}

}  // namespace

std::size_t find_invalid_utf8(std::string_view text) {
  std::size_t pos = 0, subpart = 0;
  while (pos < text.size()) {
    // ASCII fast path, 8 bytes at a time would need alignment care; one byte at a time is plenty fast.
    if (static_cast<unsigned char>(text[pos]) < 0x80) {
      ++pos;
      continue;
    }
    std::size_t n = well_formed_length(text, pos, subpart);
    if (n == 0) return pos;
    pos += n;
  }
  return std::string_view::npos;
}

void check_utf8(std::string_view text, std::string_view what) {
  std::size_t bad = find_invalid_utf8(text);
  if (bad == std::string_view::npos) return;
  std::string bytes;
  for (std::size_t i = bad; i < text.size() && i < bad + 4; ++i)
    bytes += fmt::format("{}0x{:02X}", bytes.empty() ? "" : " ", static_cast<unsigned char>(text[i]));
  PTLAB_FAIL(
      "invalid UTF-8 in {} at byte offset {} (bytes {}); tokenizers take UTF-8 text — re-encode the "
      "input (e.g. `iconv -f latin1 -t utf-8`)",
      what, bad, bytes);
}

std::size_t utf8_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xF0) return 4;
  if (lead >= 0xE0) return 3;
  if (lead >= 0xC0) return 2;
  return 1;
}

char32_t next_code_point(std::string_view text, std::size_t& pos) {
  std::size_t subpart = 0;
  std::size_t n = well_formed_length(text, pos, subpart);
  if (n == 0) {
    ++pos;
    return kReplacementChar;
  }
  auto b = [&](std::size_t i) { return static_cast<char32_t>(static_cast<unsigned char>(text[pos + i])); };
  char32_t cp = 0;
  switch (n) {
    case 1:
      cp = b(0);
      break;
    case 2:
      cp = ((b(0) & 0x1F) << 6) | (b(1) & 0x3F);
      break;
    case 3:
      cp = ((b(0) & 0x0F) << 12) | ((b(1) & 0x3F) << 6) | (b(2) & 0x3F);
      break;
    default:
      cp = ((b(0) & 0x07) << 18) | ((b(1) & 0x3F) << 12) | ((b(2) & 0x3F) << 6) | (b(3) & 0x3F);
      break;
  }
  pos += n;
  return cp;
}

void append_utf8(std::string& out, char32_t cp) {
  PTLAB_ASSERT(cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF), "not a Unicode scalar value: U+{:04X}",
               static_cast<std::uint32_t>(cp));
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

std::string utf8_encode(char32_t cp) {
  std::string out;
  append_utf8(out, cp);
  return out;
}

std::size_t count_code_points(std::string_view text) {
  std::size_t n = 0;
  for (char c : text) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

std::string decode_utf8_lossy(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  std::size_t pos = 0, subpart = 0;
  while (pos < bytes.size()) {
    std::size_t n = well_formed_length(bytes, pos, subpart);
    if (n == 0) {
      append_utf8(out, kReplacementChar);
      pos += subpart;
    } else {
      out.append(bytes.substr(pos, n));
      pos += n;
    }
  }
  return out;
}

}  // namespace ptlab::text
