// SourceConfig: how to read one data file — its path, format and the format's options. One per split of
// a DatasetConfig (see dataset_config.h for the YAML).
//
// Formats:
//   tsv, csv       delimited records; RFC 4180 quoting (a quoted field may hold the delimiter, "" for a
//                  quote, and newlines). csv quotes with '"' by default; tsv does not quote by default
//                  (GLUE's .tsv files hold bare quotes in text, as Python's csv.QUOTE_NONE reads them).
//                  First record = header unless `header: false`; `columns:` names headerless columns.
//   prefix_label   "<label> <text>" per line (sst2_sentence, sst5, trec); columns "label" and "text".
//   jsonl          one JSON object per line.
//   json           one JSON array of objects (alpaca); rows are named by JSON pointer ("/12").
//   text           one row per line (an LM corpus); column "text".
// Blank lines (empty or only whitespace) between rows are skipped in every format.
#pragma once

#include "framework/data/line_reader.h"

#include <string>
#include <vector>

namespace ptlab::data {

enum class Format { kTsv, kCsv, kPrefixLabel, kJsonLines, kJson, kText };

/// "tsv", "csv", "prefix_label", "jsonl", "json", "text"; anything else is an Error naming `where`.
Format parse_format(const std::string& text, const std::string& where);
std::string format_name(Format format);
/// The format a file name's extension implies (.tsv .csv .jsonl .json .txt), or an Error asking for an
/// explicit `format:` (naming `where`).
Format format_from_extension(const std::string& path, const std::string& where);
/// True for the formats whose rows are JSON objects (fields are keys, not columns).
inline bool is_json_format(Format f) { return f == Format::kJsonLines || f == Format::kJson; }

struct SourceConfig {
  std::string path;
  Format format = Format::kTsv;
  FileEncoding encoding = FileEncoding::kUtf8;
  char delimiter = '\t';  // tsv and csv only
  char quote = 0;         // tsv and csv only; 0 = no quoting
  bool header = true;     // tsv and csv only: the first record names the columns
  std::vector<std::string> columns;  // names of the columns of a headerless tsv/csv file
  /// Where this source was configured ("task.data.splits.train (configs/task/sst2.yaml)"), for messages
  /// about the file itself (not found, empty).
  std::string config_where;

  /// A SourceConfig with the format's defaults (csv: ',' and '"'; tsv: '\t', no quote).
  static SourceConfig with_defaults(std::string path, Format format);
};

}  // namespace ptlab::data
