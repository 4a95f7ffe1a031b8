// DelimitedReader: tsv and csv files, streamed record by record.
//
// RFC 4180 when quoting is on (csv by default): a field that starts with the quote character runs to the
// matching quote, may hold delimiters and newlines, and writes a quote as two quotes. A quote inside an
// unquoted field is kept as text (as Python's csv does). Text between a closing quote and the next
// delimiter is a RowError; a quote that is never closed is an Error naming the line where it opened.
// With quoting off (tsv by default, GLUE-style) a record is exactly one line split at the delimiter.
// Records with another number of fields than the header are RowErrors.
// Written here rather than with a CSV library (Debian's libcsv is a callback-style C parser): we need the
// line where each record starts, a quote-free GLUE mode, and recovery after a malformed record so that
// `on_bad_row: skip` can go on — together about 100 lines on top of LineReader.
#pragma once

#include "framework/data/line_reader.h"
#include "framework/data/row_reader.h"

namespace ptlab::data {

class DelimitedReader : public RowReader {
 public:
  explicit DelimitedReader(const SourceConfig& source);

  bool next(RawRow& row) override;
  bool file_was_empty() const override { return lines_.file_is_empty(); }

 private:
  /// Reads the next non-blank record into `fields`; false at the end. Sets `start_line`. A malformed
  /// record is read to its end, then reported as RowError.
  bool read_record(std::vector<std::string>& fields, int64_t& start_line);

  LineReader lines_;
  std::string line_;
};

}  // namespace ptlab::data
