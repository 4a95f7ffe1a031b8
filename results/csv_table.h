// CsvTable: an RFC 4180 comma-separated table (header + rows), read with the line of each row kept for
// error messages, and the quoting rule for writing one.
//
// Reading: fields holding ',', '"' or a line break are quoted and a '"' inside is doubled; lines end with
// LF or CRLF; empty lines are skipped; every row must have as many fields as the header. Errors are one
// line naming the file and line ("runs/summary.csv: line 7 has 12 fields, the header has 14").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ptlab::results {

struct CsvTable {
  std::string path;  ///< where it was read from (for messages)
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;  ///< each has header.size() fields
  std::vector<int64_t> row_lines;              ///< 1-based line where rows[i] starts

  /// Position of `name` in the header, or -1.
  int64_t column(std::string_view name) const;
};

/// Parses CSV text; `path` only goes into error messages. Errors: no header (empty text), a row with
/// another field count than the header, a quoted field left open, a '"' inside an unquoted field,
/// characters after a closing quote, and duplicate header names.
CsvTable parse_csv(std::string_view text, const std::string& path);

/// Reads and parses the file at `path`; a file that cannot be read is an Error naming it.
CsvTable read_csv(const std::string& path);

/// `value` as one CSV field: quoted (with '"' doubled) when it holds ',', '"', CR or LF, else as it is.
std::string csv_field(std::string_view value);

/// The fields as one CSV line, ending in "\n".
std::string csv_line(const std::vector<std::string>& fields);

}  // namespace ptlab::results
