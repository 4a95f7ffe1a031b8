#include "framework/data/delimited_reader.h"

#include "framework/core/suggest.h"

namespace ptlab::data {
namespace {

bool is_blank(const std::string& s) {
  for (char c : s)
    if (c != ' ' && c != '\t' && c != '\r' && c != '\f' && c != '\v') return false;
  return true;
}

std::string printable(char c) {
  if (c == '\t') return "\\t";
  return std::string(1, c);
}

}  // namespace

DelimitedReader::DelimitedReader(const SourceConfig& source) : RowReader(source), lines_(source.path, source.encoding) {
  PTLAB_CHECK(source_.columns.empty() || !source_.header,
              "{}: columns: names the columns of a file without a header; '{}' has one (header: true) — remove "
              "columns: or set header: false",
              source_.config_where, source_.path);
  if (source_.header) {
    int64_t line = 0;
    if (read_record(column_names_, line)) {
      for (std::size_t i = 0; i < column_names_.size(); ++i)
        for (std::size_t j = 0; j < i; ++j)
          PTLAB_CHECK(column_names_[i] != column_names_[j], "'{}' line {}: the header names column '{}' twice",
                      source_.path, line, column_names_[i]);
    }
  } else {
    column_names_ = source_.columns;
  }
}

bool DelimitedReader::read_record(std::vector<std::string>& fields, int64_t& start_line) {
  fields.clear();
  do {
    if (!lines_.next(line_)) return false;
  } while (is_blank(line_));
  start_line = lines_.line_number();
  const char delim = source_.delimiter;
  const char quote = source_.quote;

  if (quote == 0) {  // one line, split at the delimiter
    std::size_t begin = 0;
    for (;;) {
      const std::size_t end = line_.find(delim, begin);
      if (end == std::string::npos) {
        fields.emplace_back(line_, begin);
        break;
      }
      fields.emplace_back(line_, begin, end - begin);
      begin = end + 1;
    }
    return true;
  }

  std::string problem;  // the first malformation, reported after the record is read to its end
  std::string field;
  std::size_t i = 0;
  for (;;) {  // one field per iteration
    field.clear();
    if (i < line_.size() && line_[i] == quote) {
      const int64_t open_line = lines_.line_number();
      const std::size_t open_col = i + 1;
      ++i;
      for (;;) {
        if (i >= line_.size()) {  // the quoted field continues on the next line
          PTLAB_CHECK(lines_.next(line_),
                      "'{}' line {}: unterminated quoted field (field {} of the record at line {}): the quote "
                      "opened at line {} column {} is never closed; close it, or write a quote inside a quoted "
                      "field as two quotes",
                      source_.path, open_line, fields.size() + 1, start_line, open_line, open_col);
          field.push_back('\n');
          i = 0;
          continue;
        }
        const char c = line_[i];
        if (c == quote) {
          if (i + 1 < line_.size() && line_[i + 1] == quote) {
            field.push_back(quote);
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        field.push_back(c);
        ++i;
      }
      // After the closing quote: the delimiter, the end of the record, or a malformation.
      if (i < line_.size() && line_[i] != delim) {
        if (problem.empty())
          problem = fmt::format(
              "unexpected '{}' after the closing quote of field {} (line {} column {}); a quote inside a quoted "
              "field is written as two quotes",
              printable(line_[i]), fields.size() + 1, lines_.line_number(), i + 1);
        const std::size_t end = line_.find(delim, i);
        field.append(line_, i, end == std::string::npos ? std::string::npos : end - i);
        i = end == std::string::npos ? line_.size() : end;
      }
    } else {
      const std::size_t end = line_.find(delim, i);
      field.assign(line_, i, end == std::string::npos ? std::string::npos : end - i);
      i = end == std::string::npos ? line_.size() : end;
    }
    fields.push_back(field);
    if (i >= line_.size()) break;
    ++i;  // past the delimiter
    if (i == line_.size()) {  // a trailing delimiter: one more, empty, field
      fields.emplace_back();
      break;
    }
  }
  if (!problem.empty()) throw RowError(fmt::format("'{}' line {}: {}", source_.path, start_line, problem));
  return true;
}

bool DelimitedReader::next(RawRow& row) {
  int64_t line = 0;
  try {
    if (!read_record(row.columns, line)) return false;
  } catch (const RowError&) {
    ++rows_;  // the bad record still occupies a row index
    throw;
  }
  stamp(row, line);
  if (!column_names_.empty() && row.columns.size() != column_names_.size())
    throw RowError(fmt::format("{}: the row has {} field{}, the {} has {} ({}); check for a stray '{}' in the text",
                               row.source.describe(), row.columns.size(), row.columns.size() == 1 ? "" : "s",
                               source_.header ? "header" : "columns: list", column_names_.size(),
                               join_names(column_names_), printable(source_.delimiter)));
  return true;
}

}  // namespace ptlab::data
