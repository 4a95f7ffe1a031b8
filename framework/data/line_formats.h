// The one-row-per-line formats: prefix_label ("<label> <text>"), text (a corpus line) and jsonl (a JSON
// object per line). Blank lines are skipped; every row's provenance is its line.
#pragma once

#include "framework/data/line_reader.h"
#include "framework/data/row_reader.h"

namespace ptlab::data {

/// "<label> <text>": the label is everything before the first space (or tab), the text the rest with
/// surrounding whitespace trimmed. Columns: "label", "text". A line with no text is a RowError.
class PrefixLabelReader : public RowReader {
 public:
  explicit PrefixLabelReader(const SourceConfig& source);
  bool next(RawRow& row) override;
  bool file_was_empty() const override { return lines_.file_is_empty(); }

 private:
  LineReader lines_;
  std::string line_;
};

/// One row per non-blank line, the line as it is. Column: "text".
class TextLineReader : public RowReader {
 public:
  explicit TextLineReader(const SourceConfig& source);
  bool next(RawRow& row) override;
  bool file_was_empty() const override { return lines_.file_is_empty(); }

 private:
  LineReader lines_;
};

/// One JSON object per non-blank line. A line that does not parse, or is not an object, is a RowError
/// giving the column where parsing failed.
class JsonLinesReader : public RowReader {
 public:
  explicit JsonLinesReader(const SourceConfig& source);
  bool next(RawRow& row) override;
  bool file_was_empty() const override { return lines_.file_is_empty(); }

 private:
  LineReader lines_;
  std::string line_;
};

/// nlohmann's parse_error text without its "[json.exception...] parse error at line 1, column N: " prefix.
std::string short_json_error(const std::string& what);

}  // namespace ptlab::data
