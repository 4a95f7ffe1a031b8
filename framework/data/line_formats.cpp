#include "framework/data/line_formats.h"

namespace ptlab::data {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

bool is_blank(const std::string& s) {
  for (char c : s)
    if (!is_space(c)) return false;
  return true;
}

}  // namespace

std::string short_json_error(const std::string& what) {
  std::string s = what;
  if (s.rfind("[json.exception.", 0) == 0) {
    const std::size_t close = s.find("] ");
    if (close != std::string::npos) s = s.substr(close + 2);
  }
  const std::size_t colon = s.find(": ");
  if (s.rfind("parse error", 0) == 0 && colon != std::string::npos) s = s.substr(colon + 2);
  return s;
}

PrefixLabelReader::PrefixLabelReader(const SourceConfig& source)
    : RowReader(source), lines_(source.path, source.encoding) {
  column_names_ = {"label", "text"};
}

bool PrefixLabelReader::next(RawRow& row) {
  do {
    if (!lines_.next(line_)) return false;
  } while (is_blank(line_));
  stamp(row, lines_.line_number());
  std::size_t b = 0;
  while (b < line_.size() && is_space(line_[b])) ++b;
  std::size_t e = b;
  while (e < line_.size() && !is_space(line_[e])) ++e;
  std::size_t t = e;
  while (t < line_.size() && is_space(line_[t])) ++t;
  std::size_t end = line_.size();
  while (end > t && is_space(line_[end - 1])) --end;
  if (t >= end)
    throw RowError(fmt::format("{}: expected '<label> <text>', got only '{}' (no text after the label)",
                               row.source.describe(), line_.substr(b, e - b)));
  row.columns.resize(2);
  row.columns[0].assign(line_, b, e - b);
  row.columns[1].assign(line_, t, end - t);
  return true;
}

TextLineReader::TextLineReader(const SourceConfig& source) : RowReader(source), lines_(source.path, source.encoding) {
  column_names_ = {"text"};
}

bool TextLineReader::next(RawRow& row) {
  row.columns.resize(1);
  do {
    if (!lines_.next(row.columns[0])) return false;
  } while (is_blank(row.columns[0]));
  stamp(row, lines_.line_number());
  return true;
}

JsonLinesReader::JsonLinesReader(const SourceConfig& source) : RowReader(source), lines_(source.path, source.encoding) {}

bool JsonLinesReader::next(RawRow& row) {
  do {
    if (!lines_.next(line_)) return false;
  } while (is_blank(line_));
  stamp(row, lines_.line_number());
  try {
    row.json = nlohmann::json::parse(line_);
  } catch (const nlohmann::json::parse_error& e) {
    throw RowError(fmt::format("{}: malformed JSON at column {}: {}", row.source.describe(), e.byte,
                               short_json_error(e.what())));
  }
  if (!row.json.is_object())
    throw RowError(fmt::format("{}: expected a JSON object per line, got a JSON {}", row.source.describe(),
                               row.json.type_name()));
  return true;
}

}  // namespace ptlab::data
