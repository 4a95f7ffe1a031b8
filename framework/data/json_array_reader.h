// JsonArrayReader: a file holding one JSON array of objects (the alpaca layout), streamed element by
// element.
//
// A small scanner finds each top-level element's text (tracking strings, escapes and nesting), so only
// one element is held and parsed at a time — never the whole file. Rows are named by JSON pointer
// ("/12") and the line where the element starts. A file that is not one array (no '[', never closed,
// text after ']', an empty element) is an Error; an element that does not parse or is not an object is a
// RowError. (nlohmann's SAX interface could stream too, but reports no positions for elements and cannot
// recover from a bad element; the scanner is 60 lines and each element is still parsed by nlohmann.)
#pragma once

#include "framework/data/line_reader.h"
#include "framework/data/row_reader.h"

namespace ptlab::data {

class JsonArrayReader : public RowReader {
 public:
  explicit JsonArrayReader(const SourceConfig& source);
  bool next(RawRow& row) override;
  bool file_was_empty() const override { return lines_.file_is_empty(); }

 private:
  enum class State { kBeforeArray, kFirstElement, kBeforeElement, kInElement, kDone };
  /// The next byte of the file ('\n' between lines) into `c`; false at the end.
  bool get(char& c);

  LineReader lines_;
  std::string line_;
  std::size_t pos_ = 0;
  bool have_line_ = false;
  State state_ = State::kBeforeArray;
  int64_t element_ = 0;  // index of the next element
  std::string text_;     // the element being scanned
};

}  // namespace ptlab::data
