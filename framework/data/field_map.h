// FieldMap: which column or JSON key fills which Example field, and its binding to one file.
//
// YAML (`fields:` of a dataset or of one split):
//   fields: {text_a: sentence, text_b: question, label: label, target: output, meta.idx: idx}
//   fields: {text_a: 0, label: 1}                  # headerless tsv/csv: columns by 0-based index
//   fields: {text_a: passage, meta: {id: idx}}     # meta.<name> may also be written as a nested mapping
//   fields: {tokens: tokens, tags: tags}           # JSON arrays of strings (or whitespace-split text)
//   fields: {text_a: info/title}                   # JSON: nested keys joined with '/', list items by index
// Columns are named by the header (tsv/csv), `columns:`, or the format ("label"/"text" for prefix_label,
// "text" for text); an integer names a column by index when no column has that name.
//
// Binding (FieldExtractor) resolves column names once per file: a column the header lacks is an Error
// naming the file, the columns it has and the closest name. Row-level problems — a JSON key a row lacks,
// a row too short for an index, tokens and tags of different lengths — are RowErrors.
#pragma once

#include "framework/config/reader.h"
#include "framework/data/example.h"
#include "framework/data/row_reader.h"

#include <string>
#include <vector>

namespace ptlab::data {

enum class Field { kTextA, kTextB, kLabel, kTarget, kTokens, kTags, kMeta };

/// "text_a", "text_b", "label", "target", "tokens", "tags", "meta.<key>".
std::string field_name(Field field, const std::string& meta_key = {});

struct FieldSpec {
  Field field = Field::kTextA;
  std::string meta_key;    // for Field::kMeta
  std::string source;      // column name, column index or JSON key path, as configured
  std::string config_key;  // "task.data.fields.text_a", for messages
};

struct FieldMap {
  std::vector<FieldSpec> specs;
  /// Where the mapping was configured ("task.data.fields (configs/task/sst2.yaml)").
  std::string config_where;

  bool has(Field field) const;
  bool empty() const { return specs.empty(); }

  /// Decodes a `fields:` mapping (see the header comment); an unknown target name is an Error listing
  /// the valid ones.
  static FieldMap decode(config::Reader reader, const config::Origins& origins);
};

class FieldExtractor {
 public:
  /// Binds `map` to the file `reader` reads (its format and column names).
  FieldExtractor(const FieldMap& map, const RowReader& reader);

  /// Fills the mapped fields (and provenance, index) of `out` from `row`; RowError for row-level problems.
  void extract(const RawRow& row, Example& out) const;

 private:
  struct Bound {
    FieldSpec spec;
    int column = -1;                 // delimited and line formats
    std::vector<std::string> path;   // JSON formats: keys (or list indices) from the row object
  };
  std::string value_text(const RawRow& row, const Bound& b) const;
  std::vector<std::string> value_list(const RawRow& row, const Bound& b) const;
  const nlohmann::json& json_value(const RawRow& row, const Bound& b) const;
  const std::string& column_value(const RawRow& row, const Bound& b) const;

  std::vector<Bound> bound_;
  bool json_ = false;
};

}  // namespace ptlab::data
