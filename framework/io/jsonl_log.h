// The JSON sidecars of a run (CONVENTIONS.md §B.4), written by rank 0 next to metrics.h5:
//
//  - metrics.jsonl: one JSON object per logging event, one line each, flushed per line so that `tail -f`,
//    `pandas.read_json(path, lines=True)` and the W&B / MLflow / Aim replay scripts can read a live run on
//    any file system, line by line as it happens:
//        {"step":1200,"wall_time":1724061234.52,"split":"train","train/loss":0.413,"train/lr":0.0003}
//    Keys are "<split>/<name>" for the metric names given to write(); NaN and ±inf are written as null.
//  - summary.json: one object for the whole run (run id, hparams, final and best values, status), written
//    atomically so a collector never reads half a file.
#pragma once

#include "framework/io/run_log.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ptlab::io {

/// Appends metric events to a JSON Lines file. Not thread-safe; one writer per file.
class JsonlLog {
 public:
  /// Opens `path` for writing: `append == false` creates or truncates it; `append == true` (a resumed run)
  /// keeps its lines and reads, per split, the last step already in the file: write() then drops events
  /// whose step is <= that step, so re-run steps are not logged twice. A last line cut short by a killed
  /// writer is ended with a newline first; lines that are not JSON objects are skipped when reading.
  /// With `keep_through` (a run resumed from the checkpoint of that step), the events after that step —
  /// logged after the checkpoint by the run that was lost — are removed first (the file is rewritten).
  /// A file that cannot be opened is an Error naming the path and the system's reason.
  JsonlLog(const std::string& path, bool append, std::optional<int64_t> keep_through = std::nullopt);
  ~JsonlLog();
  JsonlLog(const JsonlLog&) = delete;
  JsonlLog& operator=(const JsonlLog&) = delete;

  /// Writes {"step", "wall_time", "split", "<split>/<name>": value...} as one line and flushes it.
  /// Returns false (writing nothing) when the event was dropped as a re-run step (see the constructor).
  /// A write error (disk full) is an Error naming the path.
  bool write(int64_t step, double wall_time, const std::string& split,
             const std::vector<std::pair<std::string, double>>& values);

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
  std::map<std::string, int64_t> resumed_step_;  // split -> last step found in the file when appending
};

/// Writes `summary` (pretty-printed, 2-space indent) to `path` atomically: a temporary file in the same
/// directory, flushed and fsync-ed, then renamed over `path`. Non-finite numbers become null. Errors name
/// the path and the system's reason.
void write_summary_json(const std::string& path, const nlohmann::json& summary);

/// The JSON in `path`, or null when the file is missing, unreadable or not JSON (readers of a sweep's trial
/// files never fail on one).
nlohmann::json read_json_file(const std::string& path);

/// {"name": value, ...} for flattened hparams or summary entries (bools stay bools, ints stay ints).
nlohmann::json to_json(const std::vector<std::pair<std::string, HParam>>& entries);

}  // namespace ptlab::io
