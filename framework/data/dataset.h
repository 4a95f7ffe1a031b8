// Dataset: reading a DatasetConfig's splits into Examples — streamed, or loaded whole.
//
//   DatasetConfig cfg = DatasetConfig::from_config(composed.root, composed.origins);
//   Dataset ds = Dataset::load(cfg);                          // every split, in memory
//   for (const Example& ex : ds.split("train")) ...
//   stream_split(cfg, "train", Shard{rank, world}, [&](Example&& ex) { ...; return true; });
//
// Per row: field mapping (field_map.h), then labels (label_space.h). A bad row (RowError) stops the read
// with its message under `on_bad_row: error`, or is skipped and counted under `skip` (a warning names the
// file, the count and the first reasons; SplitReport keeps them). An empty file, a file with no data rows,
// and a split whose rows were all bad are Errors.
//
// Streaming reads one file-backed split and keeps only the shard's rows: strided shards in one pass,
// contiguous shards after a counting pass. Splits shaped by split_from or few_shot depend on the whole
// file, so stream_split loads them whole first and then yields the shard.
#pragma once

#include "framework/data/dataset_config.h"
#include "framework/data/example.h"
#include "framework/data/label_space.h"
#include "framework/data/sampling.h"

#include <functional>
#include <string>
#include <vector>

namespace ptlab::data {

/// What reading one split did.
struct SplitReport {
  std::string split;
  std::string file;        // the file read (the source's file for a split_from split)
  int64_t rows_read = 0;   // data rows read from the file (within `limit`; bad rows included)
  int64_t examples = 0;    // examples produced (after skips, split_from, few_shot and sharding)
  int64_t skipped = 0;     // bad rows skipped (on_bad_row: skip)
  std::vector<std::string> skip_reasons;  // the first few skip messages
  std::string note;        // how the split was shaped ("held out 10% of train, seed 0", "few-shot k=16 ...")
};

/// Receives one example; returning false stops the read.
using ExampleSink = std::function<bool(Example&& example)>;

/// Streams split `name` of `config` to `sink`, keeping only `shard`'s rows (see the header comment).
SplitReport stream_split(const DatasetConfig& config, const std::string& name, const Shard& shard,
                         const ExampleSink& sink);

/// The LabelSpace of a config (its label_map and labels).
LabelSpace label_space(const DatasetConfig& config);

class Dataset {
 public:
  /// Loads `splits` (all of the config's splits when empty), applying limit, split_from, few_shot and then
  /// `shard`. An unknown split name is an Error listing the known ones.
  static Dataset load(const DatasetConfig& config, const std::vector<std::string>& splits = {},
                      const Shard& shard = {});

  /// The examples of a loaded split; an unknown or not-loaded name is an Error.
  const std::vector<Example>& split(const std::string& name) const;
  const SplitReport& report(const std::string& name) const;
  bool has_split(const std::string& name) const;
  /// The loaded split names, in config order.
  std::vector<std::string> split_names() const;
  /// The ordered class names (empty for datasets without classes).
  const std::vector<std::string>& labels() const { return labels_.names(); }
  const LabelSpace& label_space() const { return labels_; }
  const DatasetConfig& config() const { return config_; }

 private:
  struct Split {
    std::string name;
    std::vector<Example> examples;
    SplitReport report;
  };
  const Split& find(const std::string& name) const;

  DatasetConfig config_;
  LabelSpace labels_;
  std::vector<Split> splits_;
};

}  // namespace ptlab::data
