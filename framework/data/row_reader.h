// RowReader: the streaming interface over one data file — one raw row at a time, before field mapping.
//
//   auto reader = open_row_reader(source);
//   RawRow row;
//   while (reader->next(row)) { ... row.columns or row.json ... }
//
// Two kinds of failure:
//  - RowError: one row is bad (wrong number of columns, malformed JSON line, a key or label it lacks).
//    The reader has consumed the row and can go on, so `on_bad_row: skip` may skip it.
//  - Error: the file is unusable from here on (missing, invalid UTF-8, a quote that never closes, a JSON
//    array that is not one). Never skipped.
// Every message starts with the row's provenance ("file:line").
#pragma once

#include "framework/core/error.h"
#include "framework/data/example.h"
#include "framework/data/source_config.h"

#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

namespace ptlab::data {

/// A problem confined to one row (see the header comment); `on_bad_row: skip` may skip it.
class RowError : public Error {
 public:
  explicit RowError(std::string message) : Error(std::move(message)) {}
};

struct RawRow {
  std::vector<std::string> columns;  // tsv, csv, prefix_label ("label", "text") and text ("text")
  nlohmann::json json;               // jsonl and json: the row's object
  Provenance source;
  int64_t index = -1;                // 0-based index among the file's data rows
};

class RowReader {
 public:
  virtual ~RowReader() = default;

  /// Reads the next row; false at the end of the file. May throw RowError (the row is consumed) or Error.
  virtual bool next(RawRow& row) = 0;

  /// Column names: the header of a tsv/csv file (or its `columns:`), {"label", "text"} for prefix_label,
  /// {"text"} for text; empty for headerless files without `columns:` and for JSON formats.
  const std::vector<std::string>& column_names() const { return column_names_; }
  /// True when the file had no bytes at all (valid after next() returned false).
  virtual bool file_was_empty() const = 0;
  const SourceConfig& source() const { return source_; }

 protected:
  explicit RowReader(SourceConfig source) : source_(std::move(source)) {}
  /// Fills the provenance fields of `row` and counts it.
  void stamp(RawRow& row, int64_t line, std::string pointer = {});

  SourceConfig source_;
  std::vector<std::string> column_names_;
  int64_t rows_ = 0;
};

/// Opens the right reader for `source.format`. A missing file is an Error naming it and the config key.
std::unique_ptr<RowReader> open_row_reader(const SourceConfig& source);

/// Text of a JSON value as a field value: strings as they are, true/false, numbers as their JSON text,
/// null as "", arrays and objects as their compact JSON text.
std::string json_scalar_text(const nlohmann::json& value);

}  // namespace ptlab::data
