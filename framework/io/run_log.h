// RunLog: the HDF5 run log `metrics.h5` of one trial, written by the trial's rank 0 only.
//
// Layout (schema "ptlab-metrics", version 1; see ../shared/docs/reference/CONVENTIONS.md §B.2):
//
//   /                          @schema="ptlab-metrics" @schema_version=1 @run_id @sweep_id @job_num @git_sha
//                              @created_utc (ISO 8601) @world_size @hostname @default="metrics/eval"
//                              (+ @resume_count, @resumed_utc once a run was resumed)
//   /config                    scalar string: the resolved config YAML, verbatim
//   /overrides                 string[n]: the override strings of the trial
//   /hparams                   group; one scalar attribute per flattened hyperparameter
//   /metrics/<split>/<name>/   one time series per declared metric (split: train|eval|test|sys; <name> may
//                              contain '/', giving nested groups), @unit @description @reduction="mean_over_ranks"
//       step       int64[N]    maxshape (unlimited,), chunk 1024; strictly increasing
//       value      float64[N]  same shape; NaN is stored as it is
//       wall_time  float64[N]  seconds since the Unix epoch
//   /summary                   group, written by finish(): attributes only (@status, final and best values)
//   /artifacts/<name>          optional float32 tensors written by finish() (e.g. the learned prompt [P, d])
//
// Life cycle: log() buffers rows in memory; flush() publishes them. Every write (the constructor's, each
// flush, finish) goes to a working copy `.metrics.h5.tmp` beside the file, which is closed, synced and
// renamed over `metrics.h5`. So the file on disk is always a complete, closed HDF5 file: a run killed at
// any moment leaves one that h5ls, h5dump, h5py and pandas open as it is (no SWMR flag, no `h5clear`),
// holding every row of the last flush. A reader that has the file open keeps the version it opened; reopen
// it to see newer rows (metrics.jsonl is the line-by-line live view). A flush copies the file: cheap for
// run logs (a 10-series run of 100,000 rows is ~10 MB), call it every few seconds and at every eval.
//
// One writer per file: RunLog holds a lock on the hidden sidecar `.metrics.h5.lock` (an fcntl
// open-file-description lock) for its whole life. The kernel releases the lock when the process dies, so a
// killed run leaves no stale lock. HDF5_USE_FILE_LOCKING=FALSE (needed on some NFS/Lustre mounts) turns it
// off, as it does for HDF5's own lock.
//
// Resuming (resume = true) appends to the file; with `keep_through` = k (the checkpoint's step), rows with
// a step after k — logged by the run after its last checkpoint, the future that was lost — are removed
// first, so the log describes one run. Files written by ptlab before this layout (SWMR, HDF5 1.10 format)
// are resumed too: an "open for writing" flag a killed SWMR writer left is cleared.
//
// Files use the HDF5 1.8 format (superblock v2): every HDF5 from 1.8 on reads them.
// Not thread-safe: one RunLog is used from one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

namespace ptlab::io {

/// A flattened hyperparameter or summary value: stored as an int64, float64, UTF-8 string or bool
/// (h5py-compatible enum) attribute.
using HParam = std::variant<int64_t, double, std::string, bool>;

/// Identity and configuration of one run, written once when the file is created.
struct RunInfo {
  std::string run_id, sweep_id, git_sha, hostname;
  int64_t job_num = 0;
  int world_size = 1;
  std::string config_yaml;                              ///< resolved config, verbatim -> /config
  std::vector<std::string> overrides;                   ///< -> /overrides
  std::vector<std::pair<std::string, HParam>> hparams;  ///< flattened ("method.prompt_len") -> /hparams @...
};

/// One metric series, declared before the run starts.
struct MetricSpec {
  std::string split;  ///< train | eval | test | sys
  std::string name;   ///< e.g. "loss", "accuracy", "grad/norm" ('/' makes nested groups)
  std::string unit;   ///< free text, e.g. "nats", "1", "tokens/s"; may be empty
  std::string description;
};

/// A float32 tensor stored under /artifacts/<name> by finish(); data is row-major with shape `shape`
/// (empty shape: a scalar).
struct Artifact {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> data;
};

class RunLog {
 public:
  /// Creates `path` with everything in the layout above.
  ///
  /// An existing file is an Error unless `resume`: then it is reopened (even when its previous writer was
  /// killed), must carry @schema="ptlab-metrics" with a schema_version this build reads, and is appended
  /// to. Its /config, /overrides, /hparams and identity attributes are kept (a warning is logged if the
  /// config differs); @world_size becomes info.world_size; /summary is removed (the run goes on); series
  /// missing from the file are added; series whose three datasets have unequal lengths are cut to the
  /// shortest; with `keep_through`, rows whose step is after it are removed. With `resume` and no file, a
  /// new one is created.
  ///
  /// Errors (ptlab::Error, one line naming the path): the directory is missing or not writable; another
  /// process is writing the file (the lock above; the message also gives the HDF5_USE_FILE_LOCKING=FALSE
  /// hint for NFS/Lustre, where locking fails); any failing HDF5 call, with HDF5's own message. If the
  /// constructor fails after creating a new file, it removes that file. Malformed specs (split not one of
  /// train|eval|test|sys, empty name segments, a duplicate, or one series nested inside another) and
  /// duplicate hparam names are InternalErrors: they come from code, not from the user.
  RunLog(const std::string& path, const RunInfo& info, const std::vector<MetricSpec>& specs, bool resume = false,
         std::optional<int64_t> keep_through = std::nullopt);

  /// Flushes buffered rows and closes without writing /summary (a reader then sees no @status). Never
  /// throws: a failure is logged as a warning.
  ~RunLog();

  RunLog(const RunLog&) = delete;
  RunLog& operator=(const RunLog&) = delete;

  /// Buffers one row of series (split, name). A row whose step is <= the last step stored or buffered
  /// for that series is dropped (a resumed run re-logging steps it already logged writes nothing twice).
  /// A series not declared to the constructor, or a call after finish(), is an InternalError.
  void log(const std::string& split, const std::string& name, int64_t step, double value, double wall_time);

  /// Appends every buffered row to the file (a working copy, renamed over it; see above). After it returns,
  /// those rows survive a kill of the process. No-op without buffered rows. Costs about a millisecond for a
  /// small file on a local disk (tests/io/run_log_test.cpp prints it): call it at every eval and every few
  /// seconds, not every step. On an error the rows stay buffered.
  void flush();

  /// Ends the run: appends the buffered rows, writes `summary` as attributes
  /// of /summary (previous ones from an earlier finish are replaced) and `artifacts` under /artifacts,
  /// and closes the file. `summary` must hold "status", a string: "completed", "failed" or "stopped";
  /// other entries are free ("best/eval/accuracy", "best_step", "final/train/loss", ...); @finished_utc is
  /// added unless given. Artifact names may contain '/'; a shape that does not match the data size is an
  /// InternalError. Any further call except destruction is an InternalError.
  void finish(const std::vector<std::pair<std::string, HParam>>& summary, const std::vector<Artifact>& artifacts = {});

  const std::string& path() const { return path_; }
  /// Rows stored in the file for a series (excluding buffered ones). InternalError for an unknown series.
  int64_t stored_rows(const std::string& split, const std::string& name) const;
  /// Rows waiting for the next flush, over all series.
  int64_t buffered_rows() const;
  /// Rows log() dropped because their step was not after the series' last step, over all series.
  int64_t dropped_rows() const { return dropped_rows_; }

 private:
  struct Series;  // one /metrics/<split>/<name> group: where it is, its stored rows and its row buffer

  std::string work_path() const;
  // Copies the file (or creates a new one), runs `edit` on the copy's HDF5 file id, closes, syncs and
  // renames it over the file. On an error the file is untouched and the copy removed.
  void update(const std::function<void(int64_t)>& edit, bool from_existing);
  void create_layout(int64_t file, const RunInfo& info);
  void check_resumed_file(int64_t file, const RunInfo& info);
  void open_or_create_series(int64_t file, Series& series, std::optional<int64_t> keep_through);
  void append_buffered(int64_t file);
  void mark_appended();
  void write_summary_and_artifacts(int64_t file, const std::vector<std::pair<std::string, HParam>>& summary,
                                   const std::vector<Artifact>& artifacts);
  std::size_t find(const std::string& split, const std::string& name) const;

  std::string path_;
  int lock_fd_ = -1;  // holds the writer lock (see above) for the writer's life
  std::vector<Series> series_;
  std::unordered_map<std::string, std::size_t> index_;  // "split/name" -> position in series_
  int64_t dropped_rows_ = 0;
  bool finished_ = false;
};

}  // namespace ptlab::io
