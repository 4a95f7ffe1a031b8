#include "framework/data/json_array_reader.h"

#include "framework/data/line_formats.h"

namespace ptlab::data {
namespace {

bool is_json_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

}  // namespace

JsonArrayReader::JsonArrayReader(const SourceConfig& source) : RowReader(source), lines_(source.path, source.encoding) {}

bool JsonArrayReader::get(char& c) {
  for (;;) {
    if (have_line_ && pos_ < line_.size()) {
      c = line_[pos_++];
      return true;
    }
    if (have_line_ && pos_ == line_.size()) {  // the line's end reads as '\n'
      ++pos_;
      c = '\n';
      return true;
    }
    if (!lines_.next(line_)) return false;
    have_line_ = true;
    pos_ = 0;
  }
}

bool JsonArrayReader::next(RawRow& row) {
  char c = 0;
  // Find the start of the next element (or the end of the array).
  for (;;) {
    if (state_ == State::kDone) {
      while (get(c))
        PTLAB_CHECK(is_json_space(c), "'{}' line {}: unexpected '{}' after the end of the JSON array",
                    source_.path, lines_.line_number(), c);
      return false;
    }
    if (!get(c)) {
      if (state_ == State::kBeforeArray) return false;  // empty or only whitespace: the caller reports it
      PTLAB_FAIL("'{}': the JSON array is never closed (the file ends after element /{}); add the closing ']'",
                 source_.path, element_ - 1);
    }
    if (is_json_space(c)) continue;
    if (state_ == State::kBeforeArray) {
      PTLAB_CHECK(c == '[',
                  "'{}' line {}: expected a JSON array of objects ('['), got '{}'; for one object per line use "
                  "format: jsonl",
                  source_.path, lines_.line_number(), c);
      state_ = State::kFirstElement;
      continue;
    }
    if (c == ']') {
      PTLAB_CHECK(state_ == State::kFirstElement, "'{}' line {}: a trailing ',' before ']' (after element /{})",
                  source_.path, lines_.line_number(), element_ - 1);
      state_ = State::kDone;
      continue;
    }
    PTLAB_CHECK(c != ',', "'{}' line {}: an empty element in the JSON array (',' where element /{} should be)",
                source_.path, lines_.line_number(), element_);
    break;
  }

  // Scan the element to the ',' or ']' that ends it at depth 0.
  const int64_t start_line = lines_.line_number();
  const int64_t index = element_++;
  text_.assign(1, c);
  int depth = (c == '{' || c == '[') ? 1 : 0;
  bool in_string = c == '"';
  bool escape = false;
  for (;;) {
    if (!get(c))
      PTLAB_FAIL("'{}' line {}: the file ends inside element /{} of the JSON array ({}); the JSON is truncated",
                 source_.path, start_line, index, in_string ? "in a string" : "the array is never closed");
    if (in_string) {
      if (escape) {
        escape = false;
      } else if (c == '\\') {
        escape = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      if (depth == 0) {  // the array's own ']'
        state_ = State::kDone;
        break;
      }
      --depth;
    } else if (c == ',' && depth == 0) {
      state_ = State::kBeforeElement;
      break;
    }
    text_.push_back(c);
  }

  stamp(row, start_line, "/" + std::to_string(index));
  try {
    row.json = nlohmann::json::parse(text_);
  } catch (const nlohmann::json::parse_error& e) {
    int64_t line = start_line;
    for (std::size_t i = 0; i < e.byte && i < text_.size(); ++i) line += text_[i] == '\n';
    throw RowError(fmt::format("{}: malformed JSON element (near line {}): {}", row.source.describe(), line,
                               short_json_error(e.what())));
  }
  if (!row.json.is_object())
    throw RowError(fmt::format("{}: expected a JSON object, got a JSON {}", row.source.describe(), row.json.type_name()));
  return true;
}

}  // namespace ptlab::data
