#include "results/csv_table.h"

#include "framework/core/error.h"

#include <fstream>
#include <set>
#include <sstream>

namespace ptlab::results {

int64_t CsvTable::column(std::string_view name) const {
  for (std::size_t i = 0; i < header.size(); ++i)
    if (header[i] == name) return static_cast<int64_t>(i);
  return -1;
}

namespace {

// One record starting at text[pos]: fills `fields`, advances `pos` past the record's line end and `line`
// past every line break it consumed (quoted fields may hold some).
void read_record(std::string_view text, std::size_t& pos, int64_t& line, std::vector<std::string>& fields,
                 const std::string& path) {
  const int64_t start_line = line;
  fields.clear();
  std::string field;
  while (true) {
    if (pos < text.size() && text[pos] == '"') {
      ++pos;
      while (true) {
        PTLAB_CHECK(pos < text.size(), "{}: line {}: a quoted field is not closed (a '\"' is missing)", path,
                    start_line);
        char c = text[pos++];
        if (c == '"') {
          if (pos < text.size() && text[pos] == '"') {
            field += '"';
            ++pos;
          } else {
            break;
          }
        } else {
          if (c == '\n') ++line;
          field += c;
        }
      }
      PTLAB_CHECK(pos >= text.size() || text[pos] == ',' || text[pos] == '\n' || text[pos] == '\r',
                  "{}: line {}: "
                  "characters after the closing '\"' of a quoted field (a '\"' inside a field is written '\"\"')",
                  path, line);
    } else {
      while (pos < text.size() && text[pos] != ',' && text[pos] != '\n' && text[pos] != '\r') {
        PTLAB_CHECK(text[pos] != '"',
                    "{}: line {}: a '\"' inside an unquoted field (quote the field and write the "
                    "'\"' as '\"\"')",
                    path, line);
        field += text[pos++];
      }
    }
    fields.push_back(std::move(field));
    field.clear();
    if (pos < text.size() && text[pos] == ',') {
      ++pos;
      continue;
    }
    // End of the record: CRLF, LF, a lone CR, or the end of the text.
    if (pos < text.size() && text[pos] == '\r') ++pos;
    if (pos < text.size() && text[pos] == '\n') ++pos;
    ++line;
    return;
  }
}

// Skips empty lines (LF or CRLF) at `pos`.
void skip_empty_lines(std::string_view text, std::size_t& pos, int64_t& line) {
  while (pos < text.size()) {
    if (text[pos] == '\n') {
      ++pos;
    } else if (text[pos] == '\r' && (pos + 1 >= text.size() || text[pos + 1] == '\n')) {
      pos += pos + 1 < text.size() ? 2 : 1;
    } else {
      return;
    }
    ++line;
  }
}

}  // namespace

CsvTable parse_csv(std::string_view text, const std::string& path) {
  CsvTable table;
  table.path = path;
  std::size_t pos = 0;
  int64_t line = 1;
  if (text.size() >= 3 && text.substr(0, 3) == "\xEF\xBB\xBF") pos = 3;  // a UTF-8 byte order mark
  skip_empty_lines(text, pos, line);
  PTLAB_CHECK(pos < text.size(), "{}: the file is empty (a CSV file starts with its header line)", path);
  read_record(text, pos, line, table.header, path);
  std::set<std::string> seen;
  for (const auto& name : table.header)
    PTLAB_CHECK(seen.insert(name).second, "{}: line 1: the header names column '{}' twice", path, name);
  std::vector<std::string> fields;
  while (true) {
    skip_empty_lines(text, pos, line);
    if (pos >= text.size()) break;
    const int64_t row_line = line;
    read_record(text, pos, line, fields, path);
    PTLAB_CHECK(fields.size() == table.header.size(), "{}: line {} has {} field{}, the header has {}", path, row_line,
                fields.size(), fields.size() == 1 ? "" : "s", table.header.size());
    table.rows.push_back(fields);
    table.row_lines.push_back(row_line);
  }
  return table;
}

CsvTable read_csv(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  PTLAB_CHECK(in.good(), "{}: cannot be read (no such file, or no permission)", path);
  std::ostringstream text;
  text << in.rdbuf();
  return parse_csv(text.str(), path);
}

std::string csv_field(std::string_view value) {
  if (value.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(value);
  std::string out = "\"";
  for (char c : value) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string csv_line(const std::vector<std::string>& fields) {
  std::string out;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) out += ',';
    out += csv_field(fields[i]);
  }
  return out + "\n";
}

}  // namespace ptlab::results
