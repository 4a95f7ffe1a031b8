// DatasetConfig: a task's `data:` section, decoded once with config::Reader (unknown keys are Errors).
//
//   data:
//     splits:                       # any names; document order is kept
//       train: {path: ${paths.shared}/data/sst2/train.tsv}          # format from the extension
//       dev:   {path: .../stsa.binary.dev, format: prefix_label}
//       test:  {path: .../TREC.train.all, format: prefix_label, encoding: latin-1}
//       other: {path: x.csv, header: false, columns: [label, title, body], delimiter: ",", quote: '"',
//               fields: {...}, limit: 100}                          # split-level fields replace data.fields
//     fields: {text_a: sentence, label: label}                      # see field_map.h
//     label_map: {0: negative, 1: positive}                         # see label_space.h
//     labels: [negative, positive]
//     on_bad_row: error             # error | skip (skip logs how many rows and the first reasons)
//     limit: null                   # read only the first N rows of each file (bad rows count)
//     few_shot: {k: 0, seed: 13, splits: [train]}      # k > 0: k rows per class of those splits
//     split_from: {source: train, name: dev, dev_fraction: 0.1, seed: 0}   # or dev_size: N
//     train_split: train            # the split methods train on (default: train; FewGLUE: fewglue_train)
//     unlabeled_split: null         # unlabeled examples for methods that use them (PET's soft labels);
//                                   #   labels in it are ignored
//     dev_split: dev                # the split for model selection (default: dev when there is one)
//     test_split: test              # the labeled split results are reported on (default: test when
//                                   # there is one); null when there is none (e.g. an unlabeled test)
// Order of application when loading: limit -> split_from -> few_shot.
#pragma once

#include "framework/config/reader.h"
#include "framework/data/field_map.h"
#include "framework/data/source_config.h"

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ptlab::data {

enum class BadRowPolicy { kError, kSkip };

struct FewShotConfig {
  int64_t k = 0;  // 0: use every row
  uint64_t seed = 13;
  std::vector<std::string> splits = {"train"};
};

struct SplitFromConfig {
  std::string source = "train";  // the file-backed split to carve from
  std::string name = "dev";      // the split it creates
  double dev_fraction = 0.1;     // used unless dev_size is set
  std::optional<int64_t> dev_size;
  uint64_t seed = 0;
};

struct SplitConfig {
  std::string name;
  SourceConfig source;
  std::optional<FieldMap> fields;  // replaces DatasetConfig::fields for this split
  std::optional<int64_t> limit;    // replaces DatasetConfig::limit for this split
};

struct DatasetConfig {
  std::vector<SplitConfig> splits;  // file-backed splits, in document order
  FieldMap fields;
  std::vector<std::pair<std::string, std::string>> label_map;
  std::vector<std::string> labels;
  BadRowPolicy on_bad_row = BadRowPolicy::kError;
  std::optional<int64_t> limit;
  FewShotConfig few_shot;
  std::optional<SplitFromConfig> split_from;
  std::string train_split = "train";  // the split methods train on
  std::string unlabeled_split;        // empty: none
  std::string dev_split;   // empty: none
  std::string test_split;  // empty: none
  std::string config_where;  // "task.data (configs/task/sst2.yaml)"

  /// Decodes the `data:` mapping `reader` points at and calls reader.finish() (unknown keys -> Error).
  static DatasetConfig decode(config::Reader reader, const config::Origins& origins);
  /// Decodes the mapping at `key_path` ("task.data") of a composed config; absent -> Error.
  static DatasetConfig from_config(const YAML::Node& root, const config::Origins& origins,
                                   const std::string& key_path = "task.data");

  /// Every split name: the file-backed ones, then split_from's (when it adds a new name).
  std::vector<std::string> split_names() const;
  /// The file-backed split called `name`, or nullptr.
  const SplitConfig* find_split(const std::string& name) const;
  /// The fields used for `split` (its own, else the dataset's).
  const FieldMap& fields_for(const SplitConfig& split) const { return split.fields ? *split.fields : fields; }
  /// The row limit for `split` (its own, else the dataset's).
  std::optional<int64_t> limit_for(const SplitConfig& split) const { return split.limit ? split.limit : limit; }
};

}  // namespace ptlab::data
