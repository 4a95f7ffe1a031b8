#include "framework/io/run_log.h"

#include "framework/core/error.h"
#include "framework/core/clock.h"
#include "framework/core/log.h"
#include "framework/core/suggest.h"
#include "framework/io/hdf5_check.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <functional>
#include <optional>
#include <regex>
#include <set>
#include <type_traits>

namespace ptlab::io {

static_assert(std::is_same_v<hid_t, int64_t>, "RunLog stores hid_t as int64_t (HDF5 >= 1.10)");

namespace fs = std::filesystem;

namespace {

constexpr const char* kSchema = "ptlab-metrics";
constexpr int64_t kSchemaVersion = 1;
constexpr hsize_t kChunkRows = 256;
const char* const kSplits[] = {"train", "eval", "test", "sys"};

bool is_split(const std::string& split) {
  return std::find(std::begin(kSplits), std::end(kSplits), split) != std::end(kSplits);
}

// Specs come from code (methods, tasks, trainer): a malformed one is a bug, hence PTLAB_ASSERT.
void validate_specs(const std::vector<MetricSpec>& specs) {
  std::set<std::string> names;
  for (const auto& spec : specs) {
    PTLAB_ASSERT(is_split(spec.split), "metric '{}': split '{}' is not one of train, eval, test, sys", spec.name,
                 spec.split);
    PTLAB_ASSERT(!spec.name.empty() && spec.name.front() != '/' && spec.name.back() != '/' &&
                     spec.name.find("//") == std::string::npos,
                 "metric name '{}' (split {}) must be '/'-separated non-empty segments", spec.name, spec.split);
    PTLAB_ASSERT(spec.name.find('.') != 0 && spec.name.find("/.") == std::string::npos,
                 "metric name '{}' (split {}): a segment may not start with '.'", spec.name, spec.split);
    PTLAB_ASSERT(names.insert(spec.split + "/" + spec.name).second, "metric {}/{} is declared twice", spec.split,
                 spec.name);
  }
  // A series is a group holding three datasets; another series cannot live inside it.
  for (const auto& a : names)
    for (const auto& b : names)
      PTLAB_ASSERT(!(b.size() > a.size() && b.compare(0, a.size(), a) == 0 && b[a.size()] == '/'),
                   "metric {} is nested inside metric {}; rename one of them", b, a);
}

void validate_keys(const std::vector<std::pair<std::string, HParam>>& entries, const char* what) {
  std::set<std::string> keys;
  for (const auto& [key, value] : entries) {
    PTLAB_ASSERT(!key.empty() && key.find('\0') == std::string::npos, "{}: empty or NUL-containing name", what);
    PTLAB_ASSERT(keys.insert(key).second, "{}: '{}' appears twice", what, key);
  }
}

void write_hparam(hid_t obj, const std::string& name, const HParam& value, const std::string& where) {
  std::visit([&](const auto& v) { h5_write_attribute(obj, name, v, where); }, value);
}

// The directory that will hold a new file must exist and be writable: checked up front so the user gets
// one clear line instead of HDF5's "unable to open file" stack.
void check_directory(const std::string& path) {
  fs::path parent = fs::path(path).parent_path();
  if (parent.empty()) parent = ".";
  std::error_code ec;
  PTLAB_CHECK(fs::exists(parent, ec), "cannot create metrics file '{}': directory '{}' does not exist", path,
              parent.string());
  PTLAB_CHECK(fs::is_directory(parent, ec), "cannot create metrics file '{}': '{}' is not a directory", path,
              parent.string());
  PTLAB_CHECK(::access(parent.c_str(), W_OK) == 0,
              "cannot create metrics file '{}': directory '{}' is not writable ({})", path, parent.string(),
              std::strerror(errno));
}

// HDF5's message for a failed H5Fcreate/H5Fopen, turned into a line that says what to do.
[[noreturn]] void fail_open(const std::string& path, const char* action, const std::string& stack) {
  std::smatch m;
  static const std::regex lock_errno(R"(unable to lock file, errno = (\d+))");
  if (std::regex_search(stack, m, lock_errno)) {
    int err = std::stoi(m[1]);
    if (err == EAGAIN || err == EWOULDBLOCK)
      PTLAB_FAIL(
          "cannot {} metrics file '{}': another process holds it open for writing (HDF5 file lock); only one "
          "writer per file is possible — is another run writing to the same output directory? (If the file is "
          "on NFS or Lustre, where HDF5's locking misbehaves, set HDF5_USE_FILE_LOCKING=FALSE.)",
          action, path);
    PTLAB_FAIL(
        "cannot {} metrics file '{}': the file system refused HDF5's file lock ({}); on NFS or Lustre set "
        "HDF5_USE_FILE_LOCKING=FALSE in the environment",
        action, path, std::strerror(err));
  }
  PTLAB_FAIL("cannot {} metrics file '{}': {}", action, path, stack.empty() ? "no message from HDF5" : stack);
}

// HDF5_USE_FILE_LOCKING as HDF5 reads it: FALSE/0 off, BEST_EFFORT on but tolerant of file systems
// without locks, anything else on.
enum class Locking { kOff, kBestEffort, kOn };
Locking locking_mode() {
  const char* env = std::getenv("HDF5_USE_FILE_LOCKING");
  std::string v = env ? env : "";
  if (v == "FALSE" || v == "0") return Locking::kOff;
  if (v == "BEST_EFFORT") return Locking::kBestEffort;
  return Locking::kOn;
}

// The writer lock: an open-file-description lock (fcntl F_OFD_SETLK, Linux) on the hidden sidecar
// `.<name>.lock` beside the file (the file itself is replaced at every flush, so it cannot carry the lock).
// It is released when the returned descriptor is closed or the process dies: a killed writer leaves no
// stale lock. Returns the descriptor (-1 with locking off).
int lock_file(const std::string& path) {
  Locking mode = locking_mode();
  if (mode == Locking::kOff) return -1;
  const fs::path p(path);
  const std::string lock_path = (p.parent_path() / ("." + p.filename().string() + ".lock")).string();
  int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  PTLAB_CHECK(fd >= 0, "cannot open the lock file '{}' of metrics file '{}': {}", lock_path, path,
              std::strerror(errno));
  struct flock lock {};
  lock.l_type = F_WRLCK;
  lock.l_whence = SEEK_SET;  // l_start = l_len = 0: the whole file
  if (::fcntl(fd, F_OFD_SETLK, &lock) == 0) return fd;
  int err = errno;
  if (mode == Locking::kBestEffort && err != EAGAIN && err != EACCES) {
    log_warn("metrics file '{}': the file system does not lock files ({}); continuing unlocked", path,
             std::strerror(err));
    return fd;
  }
  ::close(fd);
  if (err == EAGAIN || err == EACCES)
    PTLAB_FAIL(
        "cannot open metrics file '{}' for writing: another process holds it (file lock); only one writer per "
        "file is possible — is another run writing to the same output directory? (If the file is on NFS or "
        "Lustre, where file locking misbehaves, set HDF5_USE_FILE_LOCKING=FALSE.)",
        path);
  PTLAB_FAIL("cannot lock metrics file '{}': {}; on NFS or Lustre set HDF5_USE_FILE_LOCKING=FALSE (or BEST_EFFORT)",
             path, std::strerror(err));
}

int64_t dataset_rows(hid_t dset, const std::string& where) {
  H5Handle space(PTLAB_H5(where, H5Dget_space(dset)), H5Sclose);
  PTLAB_CHECK(H5Sget_simple_extent_ndims(space.get()) == 1, "'{}' is not a 1-D dataset", where);
  hsize_t n = 0;
  PTLAB_H5(where, H5Sget_simple_extent_dims(space.get(), &n, nullptr));
  return static_cast<int64_t>(n);
}

H5Handle create_series_dataset(hid_t group, const char* name, hid_t type, const std::string& where) {
  hsize_t dims = 0, maxdims = H5S_UNLIMITED, chunk = kChunkRows;
  H5Handle space(PTLAB_H5(where, H5Screate_simple(1, &dims, &maxdims)), H5Sclose);
  H5Handle dcpl(PTLAB_H5(where, H5Pcreate(H5P_DATASET_CREATE)), H5Pclose);
  PTLAB_H5(where, H5Pset_chunk(dcpl.get(), 1, &chunk));
  return {PTLAB_H5(where, H5Dcreate2(group, name, type, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT)), H5Dclose};
}

// Writes rows [first, first + count) of a 1-D dataset whose extent already covers them.
void write_rows(hid_t dset, hid_t mem_type, hsize_t first, hsize_t count, const void* data, const std::string& where) {
  H5Handle file_space(PTLAB_H5(where, H5Dget_space(dset)), H5Sclose);
  PTLAB_H5(where, H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, &first, nullptr, &count, nullptr));
  H5Handle mem_space(PTLAB_H5(where, H5Screate_simple(1, &count, nullptr)), H5Sclose);
  PTLAB_H5(where, H5Dwrite(dset, mem_type, mem_space.get(), file_space.get(), H5P_DEFAULT, data));
}

// HDF5's own file lock is switched off: the file is replaced at every flush, so lock_file() below guards
// a sidecar for the whole life of the writer instead.
H5Handle file_access(const std::string& where) {
  H5Handle fapl(PTLAB_H5(where, H5Pcreate(H5P_FILE_ACCESS)), H5Pclose);
  // The 1.8 format (superblock v2): it has no "open for writing" flag, so no file ever needs h5clear.
  PTLAB_H5(where, H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_V18, H5F_LIBVER_V18));
#if H5_VERSION_GE(1, 10, 7)
  PTLAB_H5(where, H5Pset_file_locking(fapl.get(), false, true));
#endif
  return fapl;
}

// Opens a working copy read-write. Files written by ptlab before 0.2 (SWMR, superblock v3) may still carry
// HDF5's "open for writing" flag from a killed writer: the caller holds the writer lock, so that writer is
// gone; clear the flag and move the end-of-allocation address to the end of the file (what
// `h5clear -s --increment=0` does).
hid_t open_copy(const std::string& copy, const std::string& path) {
  H5Handle fapl = file_access(path);
  PTLAB_H5(path, H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_EARLIEST, H5F_LIBVER_LATEST));
  hid_t id = H5Fopen(copy.c_str(), H5F_ACC_RDWR, fapl.get());
  if (id >= 0) return id;
  std::string stack = h5_error_stack();
  if (stack.find("file consistency flags") == std::string::npos) fail_open(path, "open", stack);
  log_warn("metrics file '{}' was not closed by its last writer (killed?); clearing its open-for-write flag", path);
  hbool_t clear = true;
  PTLAB_H5(path, H5Pset(fapl.get(), "clear_status_flags", &clear));
  id = H5Fopen(copy.c_str(), H5F_ACC_RDWR, fapl.get());
  if (id < 0) fail_open(path, "open", h5_error_stack());
  if (H5Fincrement_filesize(id, 0) < 0) {
    std::string why = h5_error_stack();
    H5Fclose(id);
    PTLAB_FAIL("cannot repair metrics file '{}' left by a killed writer: {}", path, why);
  }
  return id;
}

// Makes `tmp` durable (fdatasync) and renames it over `path`: readers see the old file or the new one,
// never a half-written one.
void publish(const std::string& tmp, const std::string& path) {
  int fd = ::open(tmp.c_str(), O_RDONLY | O_CLOEXEC);
  PTLAB_CHECK(fd >= 0, "cannot reopen '{}' to sync it: {}", tmp, std::strerror(errno));
  const int rc = ::fdatasync(fd);
  const int err = errno;
  ::close(fd);
  PTLAB_CHECK(rc == 0, "cannot sync metrics file '{}': {}", tmp, std::strerror(err));
  PTLAB_CHECK(::rename(tmp.c_str(), path.c_str()) == 0, "cannot replace metrics file '{}': {}", path,
              std::strerror(errno));
}

}  // namespace

struct RunLog::Series {
  MetricSpec spec;
  std::string group, where;          // "metrics/<split>/<name>"; "<path>:/metrics/<split>/<name>" for messages
  int64_t stored = 0;                // rows in the file
  std::optional<int64_t> last_step;  // last stored or buffered step
  std::vector<int64_t> steps;        // buffered rows
  std::vector<double> values, times;
};

RunLog::RunLog(const std::string& path, const RunInfo& info, const std::vector<MetricSpec>& specs, bool resume,
               std::optional<int64_t> keep_through)
    : path_(path) {
  h5_init();
  validate_specs(specs);
  validate_keys(info.hparams, "RunInfo::hparams");
  std::error_code ec;
  const bool exists = fs::exists(path_, ec);
  PTLAB_CHECK(!exists || resume,
              "metrics file '{}' already exists; resume the run (trainer.resume=true) to append to it, or write "
              "to a new output directory",
              path_);
  check_directory(path_);
  lock_fd_ = lock_file(path_);
  try {
    series_.reserve(specs.size());
    for (const auto& spec : specs) {
      Series s;
      s.spec = spec;
      s.group = "metrics/" + spec.split + "/" + spec.name;
      s.where = path_ + ":/" + s.group;
      index_.emplace(spec.split + "/" + spec.name, series_.size());
      series_.push_back(std::move(s));
    }
    if (!exists) {
      update([&](int64_t file) {
        create_layout(file, info);
        for (auto& s : series_) open_or_create_series(file, s, std::nullopt);
      }, /*from_existing=*/false);
    } else {
      update([&](int64_t file) {
        check_resumed_file(file, info);
        for (auto& s : series_) open_or_create_series(file, s, keep_through);
      }, /*from_existing=*/true);
    }
  } catch (...) {
    if (lock_fd_ >= 0) ::close(lock_fd_);
    lock_fd_ = -1;
    throw;
  }
}

RunLog::~RunLog() {
  if (!finished_) {
    try {
      flush();
    } catch (const std::exception& e) {
      log_warn("metrics file '{}': rows lost at close: {}", path_, e.what());
    }
  }
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the writer lock
}

std::string RunLog::work_path() const {
  const fs::path p(path_);
  return (p.parent_path() / ("." + p.filename().string() + ".tmp")).string();
}

void RunLog::update(const std::function<void(int64_t)>& edit, bool from_existing) {
  const std::string tmp = work_path();
  std::error_code ec;
  hid_t file = -1;
  try {
    if (from_existing) {
      fs::copy_file(path_, tmp, fs::copy_options::overwrite_existing, ec);
      PTLAB_CHECK(!ec, "cannot copy metrics file '{}' to '{}' to append to it: {}", path_, tmp, ec.message());
      file = open_copy(tmp, path_);
    } else {
      fs::remove(tmp, ec);
      H5Handle fapl = file_access(path_);
      file = H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get());
      if (file < 0) fail_open(path_, "create", h5_error_stack());
    }
    edit(file);
    const hid_t closing = file;
    file = -1;
    PTLAB_H5(path_, H5Fclose(closing));
    publish(tmp, path_);
  } catch (...) {
    if (file >= 0) H5Fclose(file);
    H5Eclear2(H5E_DEFAULT);
    fs::remove(tmp, ec);
    throw;
  }
}

void RunLog::create_layout(int64_t file, const RunInfo& info) {
  H5Handle root = h5_group_open(file, "/", path_);
  const std::string& w = path_;
  h5_write_attribute(root.get(), "schema", kSchema, w);
  h5_write_attribute(root.get(), "schema_version", kSchemaVersion, w);
  h5_write_attribute(root.get(), "run_id", info.run_id, w);
  h5_write_attribute(root.get(), "sweep_id", info.sweep_id, w);
  h5_write_attribute(root.get(), "job_num", info.job_num, w);
  h5_write_attribute(root.get(), "git_sha", info.git_sha, w);
  h5_write_attribute(root.get(), "created_utc", utc_now(), w);
  h5_write_attribute(root.get(), "world_size", static_cast<int64_t>(info.world_size), w);
  h5_write_attribute(root.get(), "hostname", info.hostname, w);
  h5_write_attribute(root.get(), "default", "metrics/eval", w);  // NeXus-style pointer for generic viewers
  h5_write_string_dataset(root.get(), "config", info.config_yaml, w + ":/config");
  h5_write_string_array(root.get(), "overrides", info.overrides, w + ":/overrides");
  H5Handle hparams = h5_group_create(root.get(), "hparams", w + ":/hparams");
  for (const auto& [name, value] : info.hparams) write_hparam(hparams.get(), name, value, w + ":/hparams");
  H5Handle metrics = h5_group_create(root.get(), "metrics", w + ":/metrics");
  for (const char* split : kSplits) h5_group_create(metrics.get(), split, w + ":/metrics/" + split);
}

void RunLog::check_resumed_file(int64_t file, const RunInfo& info) {
  H5Handle root = h5_group_open(file, "/", path_);
  auto schema = h5_read_string_attribute(root.get(), "schema", path_);
  PTLAB_CHECK(schema == kSchema,
              "cannot resume into '{}': it is not a ptlab metrics file (@schema is {}, expected '{}'); move it "
              "away or write to a new output directory",
              path_, schema ? "'" + *schema + "'" : "missing", kSchema);
  auto version = h5_read_int_attribute(root.get(), "schema_version", path_).value_or(0);
  PTLAB_CHECK(version >= 1 && version <= kSchemaVersion,
              "cannot resume into '{}': schema_version {} is not one this ptlab writes ({}); was it written by a "
              "newer ptlab?",
              path_, version, kSchemaVersion);
  auto run_id = h5_read_string_attribute(root.get(), "run_id", path_).value_or("");
  if (run_id != info.run_id)
    log_debug("resuming '{}' (run id '{}') as run '{}'; keeping the stored identity", path_, run_id, info.run_id);
  if (h5_exists(root.get(), "config", path_) &&
      h5_read_string_dataset(root.get(), "config", path_ + ":/config") != info.config_yaml)
    log_warn("resuming '{}' with a config that differs from its /config; keeping the stored one", path_);
  int64_t count = h5_read_int_attribute(root.get(), "resume_count", path_).value_or(0);
  h5_write_attribute(root.get(), "resume_count", count + 1, path_);
  h5_write_attribute(root.get(), "resumed_utc", utc_now(), path_);
  // The ranks of the run as it continues (a resume checks they match the checkpoint's).
  h5_write_attribute(root.get(), "world_size", static_cast<int64_t>(info.world_size), path_);
  // The run goes on: an earlier finish's summary no longer describes it.
  if (h5_exists(root.get(), "summary", path_))
    PTLAB_H5(path_ + ":/summary", H5Ldelete(root.get(), "summary", H5P_DEFAULT));
}

void RunLog::open_or_create_series(int64_t file, Series& s, std::optional<int64_t> keep_through) {
  if (h5_exists(file, s.group, s.where)) {
    H5Handle group = h5_group_open(file, s.group, s.where);
    for (const char* ds : {"step", "value", "wall_time"})
      PTLAB_CHECK(h5_exists(group.get(), ds, s.where), "cannot resume into '{}': '{}' has no dataset '{}'", path_,
                  s.where, ds);
    H5Handle step = h5_dataset_open(group.get(), "step", s.where + "/step");
    H5Handle value = h5_dataset_open(group.get(), "value", s.where + "/value");
    H5Handle wall_time = h5_dataset_open(group.get(), "wall_time", s.where + "/wall_time");
    const int64_t n_step = dataset_rows(step.get(), s.where + "/step");
    const int64_t n_value = dataset_rows(value.get(), s.where + "/value");
    const int64_t n_time = dataset_rows(wall_time.get(), s.where + "/wall_time");
    int64_t keep = std::min({n_step, n_value, n_time});
    if (n_step != keep || n_value != keep || n_time != keep) {
      log_warn("'{}': step/value/wall_time have {}/{}/{} rows (writer killed mid-flush?); keeping the first {}",
               s.where, n_step, n_value, n_time, keep);
    }
    std::vector<int64_t> steps(static_cast<std::size_t>(keep));
    if (keep > 0) {
      hsize_t first = 0, count = static_cast<hsize_t>(keep);
      H5Handle file_space(PTLAB_H5(s.where, H5Dget_space(step.get())), H5Sclose);
      PTLAB_H5(s.where, H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, &first, nullptr, &count, nullptr));
      H5Handle mem_space(PTLAB_H5(s.where, H5Screate_simple(1, &count, nullptr)), H5Sclose);
      PTLAB_H5(s.where, H5Dread(step.get(), H5T_NATIVE_INT64, mem_space.get(), file_space.get(), H5P_DEFAULT,
                                steps.data()));
    }
    if (keep_through) {
      // Steps are strictly increasing: the rows after the resume point are the first with a larger step.
      const auto cut = std::upper_bound(steps.begin(), steps.end(), *keep_through);
      keep = cut - steps.begin();
      steps.resize(static_cast<std::size_t>(keep));
    }
    if (keep != n_step || keep != n_value || keep != n_time) {
      hsize_t n = static_cast<hsize_t>(keep);
      for (hid_t d : {step.get(), value.get(), wall_time.get()}) PTLAB_H5(s.where, H5Dset_extent(d, &n));
    }
    s.stored = keep;
    if (!steps.empty()) s.last_step = steps.back();
    return;
  }
  H5Handle lcpl(PTLAB_H5(s.where, H5Pcreate(H5P_LINK_CREATE)), H5Pclose);
  PTLAB_H5(s.where, H5Pset_create_intermediate_group(lcpl.get(), 1));
  H5Handle group(PTLAB_H5(s.where, H5Gcreate2(file, s.group.c_str(), lcpl.get(), H5P_DEFAULT, H5P_DEFAULT)),
                 H5Gclose);
  h5_write_attribute(group.get(), "unit", s.spec.unit, s.where);
  h5_write_attribute(group.get(), "description", s.spec.description, s.where);
  h5_write_attribute(group.get(), "reduction", "mean_over_ranks", s.where);
  create_series_dataset(group.get(), "step", H5T_STD_I64LE, s.where + "/step");
  create_series_dataset(group.get(), "value", H5T_IEEE_F64LE, s.where + "/value");
  create_series_dataset(group.get(), "wall_time", H5T_IEEE_F64LE, s.where + "/wall_time");
}

std::size_t RunLog::find(const std::string& split, const std::string& name) const {
  auto it = index_.find(split + "/" + name);
  if (it != index_.end()) return it->second;
  std::vector<std::string> known;
  for (const auto& s : series_) known.push_back(s.spec.split + "/" + s.spec.name);
  PTLAB_ASSERT(false, "metric series {}/{} was not declared to RunLog '{}'{}; declared: {}", split, name, path_,
               did_you_mean(split + "/" + name, known), join_names(known));
  return 0;
}

void RunLog::log(const std::string& split, const std::string& name, int64_t step, double value, double wall_time) {
  PTLAB_ASSERT(!finished_, "RunLog::log({}/{}) on '{}' after finish()", split, name, path_);
  Series& s = series_[find(split, name)];
  if (s.last_step && step <= *s.last_step) {
    ++dropped_rows_;
    log_debug("'{}': dropping step {} (last step is {})", s.where, step, *s.last_step);
    return;
  }
  s.steps.push_back(step);
  s.values.push_back(value);
  s.times.push_back(wall_time);
  s.last_step = step;
}

void RunLog::append_buffered(int64_t file) {
  for (auto& s : series_) {
    if (s.steps.empty()) continue;
    H5Handle group = h5_group_open(file, s.group, s.where);
    H5Handle step = h5_dataset_open(group.get(), "step", s.where + "/step");
    H5Handle value = h5_dataset_open(group.get(), "value", s.where + "/value");
    H5Handle wall_time = h5_dataset_open(group.get(), "wall_time", s.where + "/wall_time");
    hsize_t first = static_cast<hsize_t>(s.stored), count = s.steps.size(), total = first + count;
    for (hid_t d : {step.get(), value.get(), wall_time.get()}) PTLAB_H5(s.where, H5Dset_extent(d, &total));
    write_rows(step.get(), H5T_NATIVE_INT64, first, count, s.steps.data(), s.where + "/step");
    write_rows(value.get(), H5T_NATIVE_DOUBLE, first, count, s.values.data(), s.where + "/value");
    write_rows(wall_time.get(), H5T_NATIVE_DOUBLE, first, count, s.times.data(), s.where + "/wall_time");
  }
}

void RunLog::mark_appended() {
  for (auto& s : series_) {
    s.stored += static_cast<int64_t>(s.steps.size());
    s.steps.clear();
    s.values.clear();
    s.times.clear();
  }
}

void RunLog::flush() {
  PTLAB_ASSERT(!finished_, "RunLog::flush() on '{}' after finish()", path_);
  if (buffered_rows() == 0) return;
  h5_init();  // this thread may not be the constructor's
  update([&](int64_t file) { append_buffered(file); }, /*from_existing=*/true);
  mark_appended();  // only once the new file is in place: a failed flush keeps its rows for the next one
}

void RunLog::finish(const std::vector<std::pair<std::string, HParam>>& summary,
                    const std::vector<Artifact>& artifacts) {
  PTLAB_ASSERT(!finished_, "RunLog::finish() on '{}' called twice", path_);
  h5_init();
  validate_keys(summary, "RunLog::finish summary");
  auto status = std::find_if(summary.begin(), summary.end(), [](const auto& e) { return e.first == "status"; });
  PTLAB_ASSERT(status != summary.end(), "RunLog::finish: the summary of '{}' has no \"status\"", path_);
  const auto* status_text = std::get_if<std::string>(&status->second);
  PTLAB_ASSERT(status_text && (*status_text == "completed" || *status_text == "failed" || *status_text == "stopped"),
               "RunLog::finish: status must be the string completed, failed or stopped");
  for (const auto& a : artifacts) {
    int64_t size = 1;
    for (int64_t d : a.shape) {
      PTLAB_ASSERT(d >= 0, "artifact '{}': negative dimension {}", a.name, d);
      size *= d;
    }
    PTLAB_ASSERT(size == static_cast<int64_t>(a.data.size()), "artifact '{}': shape holds {} values, data has {}",
                 a.name, size, a.data.size());
    PTLAB_ASSERT(!a.name.empty() && a.name.front() != '/' && a.name.find("//") == std::string::npos,
                 "artifact name '{}' must be '/'-separated non-empty segments", a.name);
  }
  finished_ = true;
  try {
    update([&](int64_t file) {
      append_buffered(file);
      write_summary_and_artifacts(file, summary, artifacts);
    }, /*from_existing=*/true);
    mark_appended();
  } catch (...) {
    if (lock_fd_ >= 0) ::close(lock_fd_);
    lock_fd_ = -1;
    throw;
  }
  if (lock_fd_ >= 0) ::close(lock_fd_);
  lock_fd_ = -1;
}

void RunLog::write_summary_and_artifacts(int64_t file, const std::vector<std::pair<std::string, HParam>>& summary,
                                         const std::vector<Artifact>& artifacts) {
  const std::string where = path_ + ":/summary";
  if (h5_exists(file, "summary", where))  // written by an earlier finish: replace it as a whole
    PTLAB_H5(where, H5Ldelete(file, "summary", H5P_DEFAULT));
  H5Handle group = h5_group_create(file, "summary", where);
  for (const auto& [name, value] : summary) write_hparam(group.get(), name, value, where);
  if (std::none_of(summary.begin(), summary.end(), [](const auto& e) { return e.first == "finished_utc"; }))
    h5_write_attribute(group.get(), "finished_utc", utc_now(), where);

  if (artifacts.empty()) return;
  H5Handle lcpl(PTLAB_H5(path_, H5Pcreate(H5P_LINK_CREATE)), H5Pclose);
  PTLAB_H5(path_, H5Pset_create_intermediate_group(lcpl.get(), 1));
  for (const auto& a : artifacts) {
    std::string name = "artifacts/" + a.name, at = path_ + ":/" + name;
    if (h5_exists(file, name, at)) PTLAB_H5(at, H5Ldelete(file, name.c_str(), H5P_DEFAULT));
    std::vector<hsize_t> dims(a.shape.begin(), a.shape.end());
    H5Handle space(PTLAB_H5(at, dims.empty() ? H5Screate(H5S_SCALAR)
                                             : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr)),
                   H5Sclose);
    H5Handle dset(PTLAB_H5(at, H5Dcreate2(file, name.c_str(), H5T_IEEE_F32LE, space.get(), lcpl.get(),
                                          H5P_DEFAULT, H5P_DEFAULT)),
                  H5Dclose);
    if (!a.data.empty())
      PTLAB_H5(at, H5Dwrite(dset.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, a.data.data()));
  }
}

int64_t RunLog::stored_rows(const std::string& split, const std::string& name) const {
  return series_[find(split, name)].stored;
}

int64_t RunLog::buffered_rows() const {
  int64_t n = 0;
  for (const auto& s : series_) n += static_cast<int64_t>(s.steps.size());
  return n;
}

}  // namespace ptlab::io
