#include "framework/data/line_reader.h"

#include "framework/core/error.h"
#include "framework/core/suggest.h"
#include "framework/text/utf8.h"

#include <cerrno>
#include <cstring>

namespace ptlab::data {
namespace {

constexpr std::size_t kBlockSize = 1 << 20;

std::string lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
  return s;
}

// Appends the UTF-8 form of latin-1 `raw`: bytes >= 0x80 are U+0080..U+00FF, two bytes each.
void latin1_to_utf8(std::string_view raw, std::string& out) {
  out.clear();
  out.reserve(raw.size() + raw.size() / 8);
  for (unsigned char c : raw) {
    if (c < 0x80) {
      out.push_back(char(c));
    } else {
      out.push_back(char(0xC0 | (c >> 6)));
      out.push_back(char(0x80 | (c & 0x3F)));
    }
  }
}

}  // namespace

FileEncoding parse_encoding(const std::string& text, const std::string& where) {
  const std::string t = lower(text);
  if (t == "utf-8" || t == "utf8") return FileEncoding::kUtf8;
  if (t == "latin-1" || t == "latin1" || t == "iso-8859-1" || t == "iso8859-1") return FileEncoding::kLatin1;
  PTLAB_FAIL("{}: unknown encoding '{}'{}; use utf-8 or latin-1", where, text,
             did_you_mean(t, {"utf-8", "latin-1", "iso-8859-1"}));
}

std::string encoding_name(FileEncoding encoding) { return encoding == FileEncoding::kUtf8 ? "utf-8" : "latin-1"; }

LineReader::LineReader(std::string path, FileEncoding encoding)
    : path_(std::move(path)), encoding_(encoding), buffer_(new char[kBlockSize]) {
  file_ = std::fopen(path_.c_str(), "rb");
  PTLAB_CHECK(file_ != nullptr, "cannot open data file '{}': {}", path_, std::strerror(errno));
}

LineReader::~LineReader() {
  if (file_) std::fclose(file_);
}

bool LineReader::refill() {
  if (eof_) return false;
  consumed_ += int64_t(buffer_end_);
  buffer_pos_ = buffer_end_ = 0;
  const std::size_t n = std::fread(buffer_.get(), 1, kBlockSize, file_);
  if (n == 0) {
    PTLAB_CHECK(!std::ferror(file_), "error reading data file '{}' at byte {}: {}", path_, bytes_read_,
                std::strerror(errno));
    eof_ = true;
    return false;
  }
  buffer_end_ = n;
  bytes_read_ += int64_t(n);
  return true;
}

bool LineReader::next(std::string& line) {
  raw_.clear();
  if (buffer_pos_ == buffer_end_ && !refill()) return false;
  const int64_t start = consumed_ + int64_t(buffer_pos_);
  for (;;) {
    const char* begin = buffer_.get() + buffer_pos_;
    const std::size_t avail = buffer_end_ - buffer_pos_;
    const void* nl = std::memchr(begin, '\n', avail);
    if (nl) {
      const std::size_t len = std::size_t(static_cast<const char*>(nl) - begin);
      raw_.append(begin, len);
      buffer_pos_ += len + 1;
      break;
    }
    raw_.append(begin, avail);
    buffer_pos_ = buffer_end_;
    if (!refill()) break;
  }
  ++line_number_;
  line_offset_ = start;
  std::string_view view(raw_);
  if (!view.empty() && view.back() == '\r') view.remove_suffix(1);
  if (line_number_ == 1 && encoding_ == FileEncoding::kUtf8 && view.substr(0, 3) == "\xEF\xBB\xBF")
    view.remove_prefix(3);
  if (encoding_ == FileEncoding::kLatin1) {
    latin1_to_utf8(view, line);
  } else {
    check_utf8_line(view);
    line.assign(view.data(), view.size());
  }
  return true;
}

void LineReader::check_utf8_line(std::string_view raw) const {
  const std::size_t bad = text::find_invalid_utf8(raw);
  if (bad == std::string_view::npos) return;
  // Offsets count from the line's first byte in the file (a skipped BOM included).
  const std::size_t in_line = bad + std::size_t(raw.data() - raw_.data());
  std::string bytes;
  for (std::size_t i = bad; i < raw.size() && i < bad + 4; ++i)
    bytes += fmt::format("{}0x{:02X}", bytes.empty() ? "" : " ", static_cast<unsigned char>(raw[i]));
  PTLAB_FAIL(
      "invalid UTF-8 in '{}' line {} at byte offset {} (offset {} in the line; bytes {}); if the file is "
      "ISO-8859-1, set encoding: latin-1 for this split",
      path_, line_number_, line_offset_ + int64_t(in_line), in_line, bytes);
}

}  // namespace ptlab::data
