// Tests of RunLog: every check reads the file back with the plain HDF5 C API (not with ptlab's helpers),
// including from other processes (a live SWMR reader, a killed writer, a writer holding the lock).
#include "framework/io/run_log.h"

#include "framework/core/error.h"

#include <gtest/gtest.h>
#include <hdf5.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

namespace ptlab::io {
namespace {

namespace fs = std::filesystem;

// ---- read-back with the raw C API ---------------------------------------------------------------------

hid_t open_for_read(const std::string& path) {
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl);
  H5Pclose(fapl);
  return f;
}

// A reader that owns one open file; every accessor fails the test (returns a default) on error.
struct Reader {
  hid_t file = -1;
  explicit Reader(const std::string& path) : file(open_for_read(path)) {}
  ~Reader() {
    if (file >= 0) H5Fclose(file);
  }
  bool ok() const { return file >= 0; }

  bool exists(const std::string& name) const { return H5Lexists(file, name.c_str(), H5P_DEFAULT) > 0; }

  std::string string_attr(const std::string& obj, const std::string& name) const {
    hid_t a = H5Aopen_by_name(file, obj.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT);
    EXPECT_GE(a, 0) << obj << " @" << name;
    if (a < 0) return "";
    hid_t t = H5Aget_type(a);
    EXPECT_EQ(H5Tget_class(t), H5T_STRING);
    EXPECT_GT(H5Tis_variable_str(t), 0);
    EXPECT_EQ(H5Tget_cset(t), H5T_CSET_UTF8);
    char* p = nullptr;
    EXPECT_GE(H5Aread(a, t, &p), 0);
    std::string s = p ? p : "";
    H5free_memory(p);
    H5Tclose(t);
    H5Aclose(a);
    return s;
  }

  template <class T>
  T num_attr(const std::string& obj, const std::string& name, hid_t mem_type, H5T_class_t expect_class) const {
    T v{};
    hid_t a = H5Aopen_by_name(file, obj.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT);
    EXPECT_GE(a, 0) << obj << " @" << name;
    if (a < 0) return v;
    hid_t t = H5Aget_type(a);
    EXPECT_EQ(H5Tget_class(t), expect_class) << obj << " @" << name;
    EXPECT_GE(H5Aread(a, mem_type, &v), 0);
    H5Tclose(t);
    H5Aclose(a);
    return v;
  }
  int64_t int_attr(const std::string& obj, const std::string& name) const {
    return num_attr<int64_t>(obj, name, H5T_NATIVE_INT64, H5T_INTEGER);
  }
  double double_attr(const std::string& obj, const std::string& name) const {
    return num_attr<double>(obj, name, H5T_NATIVE_DOUBLE, H5T_FLOAT);
  }
  // h5py's bool: an enum over int8 with members FALSE = 0 and TRUE = 1.
  bool bool_attr(const std::string& obj, const std::string& name) const {
    hid_t a = H5Aopen_by_name(file, obj.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT);
    EXPECT_GE(a, 0) << obj << " @" << name;
    if (a < 0) return false;
    hid_t t = H5Aget_type(a);
    EXPECT_EQ(H5Tget_class(t), H5T_ENUM);
    EXPECT_EQ(H5Tget_nmembers(t), 2);
    int8_t v = -1;
    EXPECT_GE(H5Aread(a, t, &v), 0);
    char name_buf[16] = {};
    EXPECT_GE(H5Tenum_nameof(t, &v, name_buf, sizeof name_buf), 0);
    EXPECT_STREQ(name_buf, v ? "TRUE" : "FALSE");
    H5Tclose(t);
    H5Aclose(a);
    return v == 1;
  }

  std::vector<std::string> strings(const std::string& name) const {
    hid_t d = H5Dopen2(file, name.c_str(), H5P_DEFAULT);
    EXPECT_GE(d, 0) << name;
    if (d < 0) return {};
    hid_t s = H5Dget_space(d);
    hssize_t n = H5Sget_select_npoints(s);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    std::vector<char*> ptrs(static_cast<std::size_t>(n), nullptr);
    std::vector<std::string> out;
    if (n > 0) {
      EXPECT_GE(H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()), 0);
      for (char* p : ptrs) {
        out.emplace_back(p ? p : "");
        H5free_memory(p);
      }
    }
    H5Tclose(t);
    H5Sclose(s);
    H5Dclose(d);
    return out;
  }

  template <class T>
  std::vector<T> column(const std::string& name, hid_t mem_type) const {
    hid_t d = H5Dopen2(file, name.c_str(), H5P_DEFAULT);
    EXPECT_GE(d, 0) << name;
    if (d < 0) return {};
    hid_t s = H5Dget_space(d);
    std::vector<T> out(static_cast<std::size_t>(H5Sget_select_npoints(s)));
    if (!out.empty()) {
      EXPECT_GE(H5Dread(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()), 0);
    }
    H5Sclose(s);
    H5Dclose(d);
    return out;
  }
  std::vector<int64_t> steps(const std::string& series) const {
    return column<int64_t>(series + "/step", H5T_NATIVE_INT64);
  }
  std::vector<double> values(const std::string& series) const {
    return column<double>(series + "/value", H5T_NATIVE_DOUBLE);
  }
  std::vector<double> times(const std::string& series) const {
    return column<double>(series + "/wall_time", H5T_NATIVE_DOUBLE);
  }
};

std::vector<int64_t> range(int64_t first, int64_t last) {
  std::vector<int64_t> v;
  for (int64_t i = first; i <= last; ++i) v.push_back(i);
  return v;
}

// ---- fixtures -----------------------------------------------------------------------------------------

class RunLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ptlab_run_log_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    path_ = (dir_ / "metrics.h5").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  static RunInfo info() {
    RunInfo i;
    i.run_id = "sweep7/3";
    i.sweep_id = "sweep7";
    i.git_sha = "0123abcd";
    i.hostname = "node-01";
    i.job_num = 3;
    i.world_size = 4;
    i.config_yaml = "method:\n  name: prompt_tuning\n  prompt_len: 20\ntask: \"sst2\"\nnote: Größe ≤ 5 — ok\n";
    i.overrides = {"method=prompt_tuning", "method.prompt_len=20", "+trainer.tag='a b'"};
    i.hparams = {{"method.prompt_len", int64_t{20}},
                 {"optim.lr", 3e-4},
                 {"method.name", std::string("prompt_tuning")},
                 {"method.reparam", true},
                 {"data.shuffle", false}};
    return i;
  }
  static std::vector<MetricSpec> specs() {
    return {{"train", "loss", "nats", "mean token cross-entropy"},
            {"train", "lr", "1", "learning rate"},
            {"eval", "accuracy", "1", "fraction correct"},
            {"sys", "grad/norm", "1", "global gradient L2 norm"}};
  }

  fs::path dir_;
  std::string path_;
};

// ---- layout -------------------------------------------------------------------------------------------

TEST_F(RunLogTest, WritesTheDocumentedLayoutAndAttributes) {
  {
    RunLog log(path_, info(), specs());
    log.log("train", "loss", 10, 2.5, 1000.0);
    log.log("train", "loss", 20, 2.25, 1001.5);
    log.log("eval", "accuracy", 20, 0.75, 1002.0);
    log.log("sys", "grad/norm", 10, std::nan(""), 1000.0);
    EXPECT_EQ(log.buffered_rows(), 4);
    log.flush();
    EXPECT_EQ(log.buffered_rows(), 0);
    EXPECT_EQ(log.stored_rows("train", "loss"), 2);
    log.finish({{"status", std::string("completed")},
                {"best/eval/accuracy", 0.75},
                {"best_step", int64_t{20}},
                {"final/train/loss", 2.25}},
               {{"prompt", {2, 3}, {1, 2, 3, 4, 5, 6}}, {"scale", {}, {0.5f}}});
  }
  Reader r(path_);
  ASSERT_TRUE(r.ok()) << "a finished file must open without SWMR";
  EXPECT_EQ(r.string_attr("/", "schema"), "ptlab-metrics");
  EXPECT_EQ(r.int_attr("/", "schema_version"), 1);
  EXPECT_EQ(r.string_attr("/", "run_id"), "sweep7/3");
  EXPECT_EQ(r.string_attr("/", "sweep_id"), "sweep7");
  EXPECT_EQ(r.int_attr("/", "job_num"), 3);
  EXPECT_EQ(r.string_attr("/", "git_sha"), "0123abcd");
  EXPECT_EQ(r.int_attr("/", "world_size"), 4);
  EXPECT_EQ(r.string_attr("/", "hostname"), "node-01");
  EXPECT_EQ(r.string_attr("/", "default"), "metrics/eval");
  std::string created = r.string_attr("/", "created_utc");
  ASSERT_EQ(created.size(), 20u) << created;  // 2024-08-19T10:11:12Z
  EXPECT_EQ(created[4], '-');
  EXPECT_EQ(created[10], 'T');
  EXPECT_EQ(created.back(), 'Z');

  EXPECT_EQ(r.strings("/config"), std::vector<std::string>{info().config_yaml});
  EXPECT_EQ(r.strings("/overrides"), info().overrides);
  EXPECT_EQ(r.int_attr("/hparams", "method.prompt_len"), 20);
  EXPECT_DOUBLE_EQ(r.double_attr("/hparams", "optim.lr"), 3e-4);
  EXPECT_EQ(r.string_attr("/hparams", "method.name"), "prompt_tuning");
  EXPECT_TRUE(r.bool_attr("/hparams", "method.reparam"));
  EXPECT_FALSE(r.bool_attr("/hparams", "data.shuffle"));

  for (const char* split : {"train", "eval", "test", "sys"}) EXPECT_TRUE(r.exists(std::string("/metrics/") + split));
  EXPECT_EQ(r.steps("/metrics/train/loss"), (std::vector<int64_t>{10, 20}));
  EXPECT_EQ(r.values("/metrics/train/loss"), (std::vector<double>{2.5, 2.25}));
  EXPECT_EQ(r.times("/metrics/train/loss"), (std::vector<double>{1000.0, 1001.5}));
  EXPECT_TRUE(r.steps("/metrics/train/lr").empty()) << "a declared series with no rows exists, empty";
  EXPECT_EQ(r.values("/metrics/eval/accuracy"), std::vector<double>{0.75});
  ASSERT_EQ(r.values("/metrics/sys/grad/norm").size(), 1u) << "'/' in a name nests groups";
  EXPECT_TRUE(std::isnan(r.values("/metrics/sys/grad/norm")[0]));
  EXPECT_EQ(r.string_attr("/metrics/train/loss", "unit"), "nats");
  EXPECT_EQ(r.string_attr("/metrics/train/loss", "description"), "mean token cross-entropy");
  EXPECT_EQ(r.string_attr("/metrics/sys/grad/norm", "reduction"), "mean_over_ranks");

  // Extendible, chunked 256, with the documented file types.
  for (const char* ds : {"step", "value", "wall_time"}) {
    hid_t d = H5Dopen2(r.file, (std::string("/metrics/train/loss/") + ds).c_str(), H5P_DEFAULT);
    ASSERT_GE(d, 0) << ds;
    hid_t dcpl = H5Dget_create_plist(d);
    hsize_t chunk = 0;
    EXPECT_EQ(H5Pget_chunk(dcpl, 1, &chunk), 1);
    EXPECT_EQ(chunk, 256u);
    hid_t space = H5Dget_space(d);
    hsize_t dims = 0, maxdims = 0;
    H5Sget_simple_extent_dims(space, &dims, &maxdims);
    EXPECT_EQ(maxdims, H5S_UNLIMITED);
    hid_t type = H5Dget_type(d);
    EXPECT_GT(H5Tequal(type, std::strcmp(ds, "step") == 0 ? H5T_STD_I64LE : H5T_IEEE_F64LE), 0) << ds;
    H5Tclose(type);
    H5Sclose(space);
    H5Pclose(dcpl);
    H5Dclose(d);
  }

  EXPECT_EQ(r.string_attr("/summary", "status"), "completed");
  EXPECT_DOUBLE_EQ(r.double_attr("/summary", "best/eval/accuracy"), 0.75);
  EXPECT_EQ(r.int_attr("/summary", "best_step"), 20);
  EXPECT_DOUBLE_EQ(r.double_attr("/summary", "final/train/loss"), 2.25);
  EXPECT_EQ(r.string_attr("/summary", "finished_utc").size(), 20u);

  hid_t d = H5Dopen2(r.file, "/artifacts/prompt", H5P_DEFAULT);
  ASSERT_GE(d, 0);
  hid_t space = H5Dget_space(d);
  hsize_t dims[2] = {0, 0};
  ASSERT_EQ(H5Sget_simple_extent_ndims(space), 2);
  H5Sget_simple_extent_dims(space, dims, nullptr);
  EXPECT_EQ(dims[0], 2u);
  EXPECT_EQ(dims[1], 3u);
  hid_t type = H5Dget_type(d);
  EXPECT_GT(H5Tequal(type, H5T_IEEE_F32LE), 0);
  std::vector<float> data(6);
  H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data());
  EXPECT_EQ(data, (std::vector<float>{1, 2, 3, 4, 5, 6}));
  H5Tclose(type);
  H5Sclose(space);
  H5Dclose(d);
  EXPECT_EQ(r.column<float>("/artifacts/scale", H5T_NATIVE_FLOAT), std::vector<float>{0.5f});
}

TEST_F(RunLogTest, AppendsAcrossSeveralFlushes) {
  RunLog log(path_, info(), specs());
  std::vector<int64_t> expect;
  int64_t step = 0;
  for (int round : {1, 7, 1500, 3}) {  // 1500 rows cross the 1024-row chunk boundary
    for (int i = 0; i < round; ++i) {
      ++step;
      log.log("train", "loss", step, 1.0 / static_cast<double>(step), 1e9 + static_cast<double>(step));
      expect.push_back(step);
    }
    log.flush();
    EXPECT_EQ(log.stored_rows("train", "loss"), static_cast<int64_t>(expect.size()));
  }
  log.flush();  // nothing buffered: a no-op
  log.finish({{"status", std::string("completed")}});
  Reader r(path_);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.steps("/metrics/train/loss"), expect);
  auto values = r.values("/metrics/train/loss");
  auto times = r.times("/metrics/train/loss");
  ASSERT_EQ(values.size(), expect.size());
  ASSERT_EQ(times.size(), expect.size());
  for (std::size_t i = 0; i < expect.size(); ++i) {
    EXPECT_DOUBLE_EQ(values[i], 1.0 / static_cast<double>(expect[i]));
    EXPECT_DOUBLE_EQ(times[i], 1e9 + static_cast<double>(expect[i]));
  }
}

TEST_F(RunLogTest, DestructorWithoutFinishFlushesAndLeavesNoSummary) {
  {
    RunLog log(path_, info(), specs());
    log.log("eval", "accuracy", 5, 0.5, 1.0);
  }
  Reader r(path_);
  ASSERT_TRUE(r.ok()) << "closed cleanly: opens without SWMR";
  EXPECT_EQ(r.steps("/metrics/eval/accuracy"), std::vector<int64_t>{5});
  EXPECT_FALSE(r.exists("/summary"));
}

// ---- resume -------------------------------------------------------------------------------------------

TEST_F(RunLogTest, ResumeAppendsAndDropsStepsAlreadyStored) {
  {
    RunLog log(path_, info(), specs());
    for (int64_t s = 1; s <= 5; ++s) log.log("train", "loss", s, static_cast<double>(s), 0.0);
    log.finish({{"status", std::string("stopped")}, {"old_key", int64_t{1}}});
  }
  auto more_specs = specs();
  more_specs.push_back({"test", "f1", "1", "added on resume"});
  {
    RunLog log(path_, info(), more_specs, /*resume=*/true);
    EXPECT_EQ(log.stored_rows("train", "loss"), 5);
    for (int64_t s = 3; s <= 8; ++s) log.log("train", "loss", s, 100.0 + static_cast<double>(s), 0.0);
    log.log("train", "loss", 8, -1.0, 0.0);  // a repeat inside one session is dropped too
    EXPECT_EQ(log.dropped_rows(), 4);
    log.log("test", "f1", 8, 0.9, 0.0);
    log.finish({{"status", std::string("completed")}});
  }
  Reader r(path_);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.steps("/metrics/train/loss"), range(1, 8));
  EXPECT_EQ(r.values("/metrics/train/loss"), (std::vector<double>{1, 2, 3, 4, 5, 106, 107, 108}));
  EXPECT_EQ(r.values("/metrics/test/f1"), std::vector<double>{0.9});
  EXPECT_EQ(r.int_attr("/", "resume_count"), 1);
  EXPECT_EQ(r.string_attr("/", "run_id"), "sweep7/3");
  EXPECT_EQ(r.string_attr("/summary", "status"), "completed");
  EXPECT_EQ(H5Aexists_by_name(r.file, "/summary", "old_key", H5P_DEFAULT), 0) << "the earlier summary is replaced";
}

TEST_F(RunLogTest, ResumeWithoutAFileCreatesOne) {
  { RunLog log(path_, info(), specs(), /*resume=*/true); }
  Reader r(path_);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.string_attr("/", "schema"), "ptlab-metrics");
  EXPECT_FALSE(r.exists("/summary"));
}

TEST_F(RunLogTest, ResumeFromACheckpointDropsLaterRowsAndDescribesTheContinuingRun) {
  {
    RunLog log(path_, info(), specs());
    for (int64_t s = 1; s <= 30; ++s) log.log("train", "loss", s, static_cast<double>(s), 0.0);
    log.log("eval", "accuracy", 10, 0.5, 0.0);
    log.log("eval", "accuracy", 20, 0.6, 0.0);
    log.finish({{"status", std::string("completed")}});
  }
  RunInfo two_ranks = info();
  two_ranks.world_size = 3;
  {
    RunLog log(path_, two_ranks, specs(), /*resume=*/true, /*keep_through=*/15);
    EXPECT_EQ(log.stored_rows("train", "loss"), 15);
    EXPECT_EQ(log.stored_rows("eval", "accuracy"), 1);
    log.log("train", "loss", 16, -16.0, 0.0);
  }
  Reader r(path_);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.steps("/metrics/train/loss"), range(1, 16));
  EXPECT_EQ(r.values("/metrics/train/loss").back(), -16.0) << "step 16 is the resumed run's";
  EXPECT_EQ(r.values("/metrics/eval/accuracy"), std::vector<double>{0.5});
  EXPECT_EQ(r.int_attr("/", "world_size"), 3);
  EXPECT_LT(H5Lexists(r.file, "/summary", H5P_DEFAULT), 1) << "the earlier finish's summary no longer applies";
}

TEST_F(RunLogTest, ResumeCutsSeriesOfUnequalLengthToTheShortest) {
  {
    RunLog log(path_, info(), specs());
    for (int64_t s = 1; s <= 4; ++s) log.log("train", "loss", s, 0.0, 0.0);
  }
  {  // what a writer killed between the extends and the writes could leave: step has 2 more rows
    hid_t f = H5Fopen(path_.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    ASSERT_GE(f, 0);
    hid_t d = H5Dopen2(f, "/metrics/train/loss/step", H5P_DEFAULT);
    hsize_t n = 6;
    ASSERT_GE(H5Dset_extent(d, &n), 0);
    H5Dclose(d);
    H5Fclose(f);
  }
  RunLog log(path_, info(), specs(), /*resume=*/true);
  EXPECT_EQ(log.stored_rows("train", "loss"), 4);
  log.log("train", "loss", 5, 0.0, 0.0);
  log.finish({{"status", std::string("completed")}});
  Reader r(path_);
  EXPECT_EQ(r.steps("/metrics/train/loss"), range(1, 5));
  EXPECT_EQ(r.values("/metrics/train/loss").size(), 5u);
}

// ---- other processes: a live reader, a killed writer, a lock holder -------------------------------------

// The child process must not run gtest or HDF5 exit handlers: it leaves with _exit().
[[noreturn]] void child_exit(int code) { ::_exit(code); }

TEST_F(RunLogTest, ALiveRunOpensWithoutSwmrAndAReopenSeesEachFlush) {
  int to_parent[2], to_child[2];
  ASSERT_EQ(::pipe(to_parent), 0);
  ASSERT_EQ(::pipe(to_child), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {  // the writer
    char c = 0;
    try {
      RunLog log(path_, info(), specs());
      for (int64_t s = 1; s <= 3; ++s) log.log("train", "loss", s, 0.0, 0.0);
      log.flush();
      if (::write(to_parent[1], "1", 1) != 1 || ::read(to_child[0], &c, 1) != 1) child_exit(3);
      for (int64_t s = 4; s <= 2000; ++s) log.log("train", "loss", s, 0.0, 0.0);
      log.flush();
      if (::write(to_parent[1], "2", 1) != 1 || ::read(to_child[0], &c, 1) != 1) child_exit(3);
    } catch (...) {
      child_exit(2);
    }
    child_exit(0);
  }
  char c = 0;
  ASSERT_EQ(::read(to_parent[0], &c, 1), 1);
  {
    Reader r(path_);
    ASSERT_TRUE(r.ok()) << "a plain read-only open of a file being written";
    EXPECT_EQ(r.steps("/metrics/train/loss"), range(1, 3));
    ASSERT_EQ(::write(to_child[1], "x", 1), 1);
    ASSERT_EQ(::read(to_parent[0], &c, 1), 1);
    EXPECT_EQ(r.steps("/metrics/train/loss"), range(1, 3)) << "an open reader keeps the version it opened";
    Reader again(path_);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again.steps("/metrics/train/loss"), range(1, 2000)) << "a reopen sees the new rows";
  }
  ASSERT_EQ(::write(to_child[1], "x", 1), 1);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "writer status " << status;
}

TEST_F(RunLogTest, KilledWriterLeavesEveryFlushedRowReadableAndCanBeResumed) {
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    try {
      RunLog log(path_, info(), specs());
      for (int64_t s = 1; s <= 10; ++s) log.log("train", "loss", s, static_cast<double>(s), 0.0);
      log.log("eval", "accuracy", 10, 0.5, 0.0);
      log.flush();
      for (int64_t s = 11; s <= 15; ++s) log.log("train", "loss", s, 0.0, 0.0);  // never flushed
      child_exit(0);  // no destructor, no H5Fclose: as if killed
    } catch (...) {
      child_exit(2);
    }
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  {
    Reader r(path_);
    ASSERT_TRUE(r.ok()) << "the killed writer's file opens as it is (no SWMR, no h5clear)";
    EXPECT_EQ(r.string_attr("/", "schema"), "ptlab-metrics");
    EXPECT_EQ(r.steps("/metrics/train/loss"), range(1, 10));
    EXPECT_EQ(r.values("/metrics/train/loss").back(), 10.0);
    EXPECT_EQ(r.values("/metrics/eval/accuracy"), std::vector<double>{0.5});
  }
  {
    RunLog log(path_, info(), specs(), /*resume=*/true);
    EXPECT_EQ(log.stored_rows("train", "loss"), 10);
    // Enough new rows to allocate new chunks and metadata: they must not land on the killed writer's data.
    for (int64_t s = 9; s <= 3000; ++s) log.log("train", "loss", s, static_cast<double>(s), 0.0);
    log.flush();
    for (int64_t s = 11; s <= 1500; ++s) log.log("eval", "accuracy", s, 0.25, 0.0);
    log.finish({{"status", std::string("completed")}}, {{"prompt", {64, 64}, std::vector<float>(64 * 64, 1.0f)}});
  }
  Reader r(path_);
  ASSERT_TRUE(r.ok()) << "after a resume and finish the file opens normally";
  EXPECT_EQ(r.steps("/metrics/train/loss"), range(1, 3000));
  auto values = r.values("/metrics/train/loss");
  ASSERT_EQ(values.size(), 3000u);
  for (std::size_t i = 0; i < values.size(); ++i) ASSERT_EQ(values[i], static_cast<double>(i + 1)) << "row " << i;
  auto accuracy = r.values("/metrics/eval/accuracy");
  ASSERT_EQ(accuracy.size(), 1491u);
  EXPECT_EQ(accuracy[0], 0.5) << "the row flushed before the kill is intact";
  EXPECT_EQ(r.string_attr("/", "schema"), "ptlab-metrics");
  EXPECT_EQ(r.strings("/config"), std::vector<std::string>{info().config_yaml});
}

TEST_F(RunLogTest, AnotherProcessHoldingTheFileIsAClearError) {
  const char* locking = std::getenv("HDF5_USE_FILE_LOCKING");
  if (locking && std::string(locking) == "FALSE") GTEST_SKIP() << "HDF5_USE_FILE_LOCKING=FALSE";
  int to_parent[2], to_child[2];
  ASSERT_EQ(::pipe(to_parent), 0);
  ASSERT_EQ(::pipe(to_child), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    char c = 0;
    try {
      RunLog log(path_, info(), specs());
      if (::write(to_parent[1], "1", 1) != 1 || ::read(to_child[0], &c, 1) != 1) child_exit(3);
    } catch (...) {
      child_exit(2);
    }
    child_exit(0);
  }
  char c = 0;
  ASSERT_EQ(::read(to_parent[0], &c, 1), 1);
  try {
    RunLog second(path_, info(), specs(), /*resume=*/true);
    ADD_FAILURE() << "a second writer must be refused";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find(path_), std::string::npos) << m;
    EXPECT_NE(m.find("another process holds it"), std::string::npos) << m;
    EXPECT_NE(m.find("HDF5_USE_FILE_LOCKING=FALSE"), std::string::npos) << m;
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  }
  ASSERT_EQ(::write(to_child[1], "x", 1), 1);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

// ---- errors -------------------------------------------------------------------------------------------

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no ptlab::Error)";
}

std::string internal_error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const InternalError& e) {
    return e.what();
  }
  return "(no ptlab::InternalError)";
}

TEST_F(RunLogTest, ExistingFileWithoutResumeIsAnError) {
  { RunLog log(path_, info(), specs()); }
  std::string m = error_of([&] { RunLog again(path_, info(), specs()); });
  EXPECT_NE(m.find(path_), std::string::npos) << m;
  EXPECT_NE(m.find("already exists"), std::string::npos) << m;
  EXPECT_NE(m.find("trainer.resume=true"), std::string::npos) << m;
  Reader r(path_);
  EXPECT_TRUE(r.ok()) << "the existing file is left intact";
}

TEST_F(RunLogTest, UnwritableLocationsAreOneLineErrorsNamingThePath) {
  std::string missing = (dir_ / "no_such_dir" / "metrics.h5").string();
  std::string m = error_of([&] { RunLog log(missing, info(), specs()); });
  EXPECT_NE(m.find(missing), std::string::npos) << m;
  EXPECT_NE(m.find("does not exist"), std::string::npos) << m;
  EXPECT_EQ(m.find('\n'), std::string::npos) << m;

  std::ofstream(dir_ / "plain_file") << "x";
  std::string under_file = (dir_ / "plain_file" / "metrics.h5").string();
  m = error_of([&] { RunLog log(under_file, info(), specs()); });
  EXPECT_NE(m.find("is not a directory"), std::string::npos) << m;
  EXPECT_NE(m.find((dir_ / "plain_file").string()), std::string::npos) << m;

  if (::geteuid() != 0) {  // root writes anywhere: only a normal user can see this case
    fs::create_directories(dir_ / "ro");
    fs::permissions(dir_ / "ro", fs::perms::owner_read | fs::perms::owner_exec);
    m = error_of([&] { RunLog log((dir_ / "ro" / "metrics.h5").string(), info(), specs()); });
    EXPECT_NE(m.find("is not writable"), std::string::npos) << m;
    fs::permissions(dir_ / "ro", fs::perms::owner_all);
  }
}

TEST_F(RunLogTest, ResumingIntoAForeignFileIsAnError) {
  std::ofstream(path_) << "not hdf5 at all";
  std::string m = error_of([&] { RunLog log(path_, info(), specs(), true); });
  EXPECT_NE(m.find(path_), std::string::npos) << m;
  EXPECT_NE(m.find("signature"), std::string::npos) << "HDF5's own reason is kept: " << m;
  EXPECT_EQ(m.find('\n'), std::string::npos) << m;

  fs::remove(path_);
  hid_t f = H5Fcreate(path_.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  H5Fclose(f);
  m = error_of([&] { RunLog log(path_, info(), specs(), true); });
  EXPECT_NE(m.find("not a ptlab metrics file"), std::string::npos) << m;
  EXPECT_NE(m.find("@schema is missing"), std::string::npos) << m;
}

TEST_F(RunLogTest, UndeclaredSeriesAndMisuseAreInternalErrors) {
  RunLog log(path_, info(), specs());
  std::string m = internal_error_of([&] { log.log("train", "los", 1, 0.0, 0.0); });
  EXPECT_NE(m.find("train/los was not declared"), std::string::npos) << m;
  EXPECT_NE(m.find("did you mean train/loss"), std::string::npos) << m;
  m = internal_error_of([&] { log.log("valid", "accuracy", 1, 0.0, 0.0); });
  EXPECT_NE(m.find("valid/accuracy"), std::string::npos) << m;
  m = internal_error_of([&] { log.finish({{"best", 1.0}}); });
  EXPECT_NE(m.find("no \"status\""), std::string::npos) << m;
  m = internal_error_of([&] { log.finish({{"status", std::string("done")}}); });
  EXPECT_NE(m.find("completed, failed or stopped"), std::string::npos) << m;
  m = internal_error_of([&] { log.finish({{"status", std::string("failed")}}, {{"p", {2, 2}, {1, 2, 3}}}); });
  EXPECT_NE(m.find("shape holds 4 values, data has 3"), std::string::npos) << m;
  log.finish({{"status", std::string("failed")}});
  m = internal_error_of([&] { log.log("train", "loss", 1, 0.0, 0.0); });
  EXPECT_NE(m.find("after finish"), std::string::npos) << m;
  m = internal_error_of([&] { log.finish({{"status", std::string("failed")}}); });
  EXPECT_NE(m.find("twice"), std::string::npos) << m;
  Reader r(path_);
  EXPECT_EQ(r.string_attr("/summary", "status"), "failed");
}

TEST_F(RunLogTest, MalformedSpecsAreInternalErrorsAndLeaveNoFile) {
  auto bad = [&](std::vector<MetricSpec> s) { return internal_error_of([&] { RunLog log(path_, info(), s); }); };
  EXPECT_NE(bad({{"valid", "acc", "", ""}}).find("split 'valid' is not one of"), std::string::npos);
  EXPECT_NE(bad({{"train", "a//b", "", ""}}).find("non-empty segments"), std::string::npos);
  EXPECT_NE(bad({{"train", "/a", "", ""}}).find("non-empty segments"), std::string::npos);
  EXPECT_NE(bad({{"train", "a", "", ""}, {"train", "a", "", ""}}).find("declared twice"), std::string::npos);
  EXPECT_NE(bad({{"train", "grad", "", ""}, {"train", "grad/norm", "", ""}}).find("nested inside"), std::string::npos);
  RunInfo dup = info();
  dup.hparams.push_back({"optim.lr", 1.0});
  std::string m = internal_error_of([&] { RunLog log(path_, dup, specs()); });
  EXPECT_NE(m.find("'optim.lr' appears twice"), std::string::npos) << m;
  EXPECT_FALSE(fs::exists(path_));
}

// ---- cost ---------------------------------------------------------------------------------------------

TEST_F(RunLogTest, TimePerLogAndFlushOfTenMetrics) {
  std::vector<MetricSpec> ten;
  std::vector<std::string> names;
  for (int i = 0; i < 10; ++i) {
    names.push_back("m" + std::to_string(i));
    ten.push_back({"train", names.back(), "", ""});
  }
  RunLog log(path_, info(), ten);
  using Clock = std::chrono::steady_clock;
  auto us_since = [](Clock::time_point t) {
    return std::chrono::duration<double, std::micro>(Clock::now() - t).count();
  };
  constexpr int kRounds = 300;
  auto start = Clock::now();
  for (int step = 1; step <= kRounds; ++step) {  // the worst case: a flush after every step
    for (int i = 0; i < 10; ++i) log.log("train", names[i], step, 0.1 * i, 1e9 + step);
    log.flush();
  }
  double per_step_flushed = us_since(start) / kRounds;
  start = Clock::now();
  for (int step = kRounds + 1; step <= 3 * kRounds; ++step) {  // the usual case: buffer, flush now and then
    for (int i = 0; i < 10; ++i) log.log("train", names[i], step, 0.1 * i, 1e9 + step);
    if (step % 100 == 0) log.flush();
  }
  double per_step_buffered = us_since(start) / (2 * kRounds);
  std::printf(
      "[ timing ] RunLog, 10 metrics: log + flush every step %.0f us/step; flush every 100 steps %.1f us/step\n",
      per_step_flushed, per_step_buffered);
  EXPECT_EQ(log.stored_rows("train", "m9"), 3 * kRounds);
  log.finish({{"status", std::string("completed")}});
  Reader r(path_);
  EXPECT_EQ(r.steps("/metrics/train/m3"), range(1, 3 * kRounds));
}

}  // namespace
}  // namespace ptlab::io
