// Example: one row of a dataset after field mapping — the unit every reader produces and every task
// template consumes. Plain data, no LibTorch: tokenization and batching happen downstream.
//
// Which fields are filled depends on the task type:
//   classification             text_a, label (+ label_name / label_id)
//   pair_classification        text_a, text_b, label
//   generation                 text_a (instruction), text_b (optional input), target (output)
//   token_classification       tokens, tags
//   lm                         text_a
// `meta` carries any extra column the config maps with `meta.<name>: <column>` (an id, a title, ...).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace ptlab::data {

/// Where a row came from, for error messages and for tracing a prediction back to its source.
struct Provenance {
  std::string file;     // the file as configured (after interpolation)
  int64_t line = 0;     // 1-based line where the row starts; 0 when unknown
  std::string pointer;  // JSON pointer of the row inside a JSON array file ("/12"); empty otherwise

  /// "file:line", "file:line (/12)" or "file" — the form every data error message uses.
  std::string describe() const;
};

struct Example {
  std::string text_a;  // the sentence / premise / question / instruction / corpus line
  std::string text_b;  // the second text of a pair (hypothesis, passage, alpaca input); may be empty
  /// The label exactly as in the file, before `label_map` ("0", "true", "entailment"); empty when the
  /// split is unlabeled. JSON booleans read as "true" / "false", numbers as their JSON text.
  std::string label;
  /// The class name after `label_map` (== label when the dataset has no map); empty when unlabeled.
  std::string label_name;
  /// Index of label_name in the dataset's ordered `labels`; -1 when unlabeled or no label list is known.
  int label_id = -1;
  std::string target;               // generation output
  std::vector<std::string> tokens;  // token classification: words ...
  std::vector<std::string> tags;    // ... and one tag per word
  std::map<std::string, std::string> meta;
  Provenance source;
  /// 0-based position of the row among the data rows of its file (header and skipped rows not counted
  /// as data rows; bad rows still count, so indices stay stable under `on_bad_row: skip`): a stable id.
  int64_t index = -1;

  bool has_label() const { return !label_name.empty(); }
};

}  // namespace ptlab::data
