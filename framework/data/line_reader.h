// LineReader: streams a text file line by line in its configured encoding, yielding UTF-8.
//
// Every data reader is built on it. It reads the file in 1 MiB blocks (a line is held once, never the
// whole file), strips the line terminator ("\n" or "\r\n"), drops a UTF-8 byte-order mark at the start,
// and either
//   - validates UTF-8 (the default): a malformed byte is an Error naming the file, the line, the byte
//     offset in the file and in the line, with the hint to set `encoding: latin-1`; or
//   - converts ISO-8859-1 (latin-1) to UTF-8: every byte is one code point, so this never fails.
// Each line carries its 1-based number and the byte offset of its first byte in the file.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

namespace ptlab::data {

enum class FileEncoding { kUtf8, kLatin1 };

/// "utf-8" (also "utf8") or "latin-1" (also "latin1", "iso-8859-1"); anything else is an Error naming
/// `where` (a config key path) and the valid spellings.
FileEncoding parse_encoding(const std::string& text, const std::string& where);
std::string encoding_name(FileEncoding encoding);

class LineReader {
 public:
  /// Opens `path`; a missing or unreadable file is an Error naming it.
  LineReader(std::string path, FileEncoding encoding);
  ~LineReader();
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  /// Reads the next line (without its terminator) into `line` as UTF-8; false at the end of the file.
  /// A final line without "\n" is still a line; an empty file has no lines.
  bool next(std::string& line);

  /// 1-based number of the line last returned by next() (0 before the first).
  int64_t line_number() const { return line_number_; }
  /// Byte offset in the file of the first byte of the line last returned.
  int64_t line_offset() const { return line_offset_; }
  /// True when the file has no bytes at all (known after the first next()).
  bool file_is_empty() const { return bytes_read_ == 0 && eof_; }
  const std::string& path() const { return path_; }
  FileEncoding encoding() const { return encoding_; }

 private:
  /// Refills buffer_ from the file; false when nothing more could be read.
  bool refill();
  void check_utf8_line(std::string_view raw) const;

  std::string path_;
  FileEncoding encoding_;
  std::FILE* file_ = nullptr;
  std::unique_ptr<char[]> buffer_;
  std::size_t buffer_pos_ = 0;
  std::size_t buffer_end_ = 0;
  bool eof_ = false;
  int64_t bytes_read_ = 0;     // bytes taken from the file so far
  int64_t consumed_ = 0;       // file offset of buffer_[buffer_pos_]
  int64_t line_number_ = 0;
  int64_t line_offset_ = 0;
  std::string raw_;            // the current line's bytes as in the file
};

}  // namespace ptlab::data
