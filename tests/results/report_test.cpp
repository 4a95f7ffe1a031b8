// ptlab::results: a fixture sweep made here (summary.csv with 2 methods x 3 models x 2 seeds, prompt lengths
// and inits, one failed, one pending and one running trial; small metrics.h5 files written with the HDF5 C
// API), then the groups, their statistics (computed by hand below), report.md, the figures and the
// comparison of two sweeps; and the one-line errors for bad input.
#include "framework/core/error.h"
#include "results/csv_table.h"
#include "results/metric_series.h"
#include "results/sweep_report.h"
#include "results/sweep_summary.h"
#include "results/trial_groups.h"

#include <gtest/gtest.h>
#include <hdf5.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace ptlab::results {
namespace {

namespace fs = std::filesystem;

// ---- fixtures ---------------------------------------------------------------------------------------------

class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = fs::temp_directory_path() /
            ("ptlab_" + std::to_string(::getpid()) + "_" + info->test_suite_name() + "_" + info->name());
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string sub(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_text(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

// One /metrics/<split>/<name>/{step,value,wall_time} series in an open file (RunLog's layout).
void write_series(hid_t file, const std::string& series, const std::vector<int64_t>& steps,
                  const std::vector<double>& values) {
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  hid_t group = H5Gcreate2(file, ("metrics/" + series).c_str(), lcpl, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(group, 0);
  hsize_t n = steps.size();
  hid_t space = H5Screate_simple(1, &n, nullptr);
  std::vector<double> wall(steps.size(), 1.7e9);
  hid_t d = H5Dcreate2(group, "step", H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  EXPECT_GE(H5Dwrite(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, steps.data()), 0);
  H5Dclose(d);
  d = H5Dcreate2(group, "value", H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  EXPECT_GE(H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), 0);
  H5Dclose(d);
  d = H5Dcreate2(group, "wall_time", H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  EXPECT_GE(H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, wall.data()), 0);
  H5Dclose(d);
  H5Sclose(space);
  H5Gclose(group);
  H5Pclose(lcpl);
}

struct FixtureTrial {
  std::string model, method, length, init, seed, status;
  double accuracy = NAN;  // NaN: empty cells
  std::string error;
};

const std::map<std::string, double> kModelParameters = {{"m100k", 1e5}, {"m1M", 1e6}, {"m10M", 1e7}};
const std::map<std::string, double> kWidth = {{"m100k", 64}, {"m1M", 128}, {"m10M", 256}};

// The trials of the fixture sweep. Groups (configuration = model, method, method.length, method.init):
//   A prompt_tuning m100k 20 sampled_vocab: 0.60 0.64  -> mean 0.62, std 0.04/sqrt(2)
//   B prompt_tuning m1M   20 sampled_vocab: 0.70 0.74  -> 0.72, 0.04/sqrt(2)
//   C prompt_tuning m10M  20 sampled_vocab: 0.80 0.90  -> 0.85, 0.10/sqrt(2)
//   D linear_head   m100k:                  0.50 0.56  -> 0.53, 0.06/sqrt(2)
//   E linear_head   m1M:                    0.55 0.65  -> 0.60, 0.10/sqrt(2)
//   F linear_head   m10M:                   0.66 0.70  -> 0.68, 0.04/sqrt(2)
//   G prompt_tuning m1M    5 sampled_vocab: 0.61 0.65  -> 0.63
//   H prompt_tuning m1M   80 sampled_vocab: 0.75 0.79  -> 0.77
//   I prompt_tuning m1M   20 uniform:       0.66, seed 1 running -> n 1, std empty
//   J prompt_tuning m10M  80 sampled_vocab: seed 0 failed, seed 1 pending -> n 0
// `shift` is added to prompt_tuning's scores (a second sweep to compare with); `scale_only` keeps A-F.
std::vector<FixtureTrial> fixture_trials(double shift = 0.0, bool scale_only = false) {
  std::vector<FixtureTrial> t;
  auto pair = [&](const std::string& model, const std::string& method, const std::string& length,
                  const std::string& init, double a0, double a1) {
    double s = method == "prompt_tuning" ? shift : 0.0;
    t.push_back({model, method, length, init, "0", "done", a0 + s, ""});
    t.push_back({model, method, length, init, "1", "done", a1 + s, ""});
  };
  pair("m100k", "prompt_tuning", "20", "sampled_vocab", 0.60, 0.64);
  pair("m1M", "prompt_tuning", "20", "sampled_vocab", 0.70, 0.74);
  pair("m10M", "prompt_tuning", "20", "sampled_vocab", 0.80, 0.90);
  pair("m100k", "linear_head", "", "", 0.50, 0.56);
  pair("m1M", "linear_head", "", "", 0.55, 0.65);
  pair("m10M", "linear_head", "", "", 0.66, 0.70);
  if (scale_only) return t;
  pair("m1M", "prompt_tuning", "5", "sampled_vocab", 0.61, 0.65);
  pair("m1M", "prompt_tuning", "80", "sampled_vocab", 0.75, 0.79);
  t.push_back({"m1M", "prompt_tuning", "20", "uniform", "0", "done", 0.66 + shift, ""});
  t.push_back({"m1M", "prompt_tuning", "20", "uniform", "1", "running", NAN, ""});
  t.push_back({"m10M", "prompt_tuning", "80", "sampled_vocab", "0", "failed", NAN,
               "RuntimeError: \"CUDA out of memory\", tried to allocate 2.00 GiB"});
  t.push_back({"m10M", "prompt_tuning", "80", "sampled_vocab", "1", "pending", NAN, ""});
  return t;
}

std::string num(double v) {
  if (std::isnan(v)) return "";
  char b[32];
  std::snprintf(b, sizeof b, "%.10g", v);
  return b;
}

// Writes the sweep directory: summary.csv (error cells quoted as RFC 4180 wants), multirun.yaml, and
// metrics.h5 for the done trials of groups A (prompt_tuning m100k) and D (linear_head m100k).
void write_sweep(const std::string& dir, const std::vector<FixtureTrial>& trials) {
  std::string csv =
      "trial_id,status,task,model,method,seed,method.length,method.init,model_parameters,trainable_parameters,"
      "steps,best_step,wall_seconds,test/accuracy,best/eval/accuracy,test/loss,error,dir\n";
  for (std::size_t i = 0; i < trials.size(); ++i) {
    const auto& t = trials[i];
    char id[32];
    std::snprintf(id, sizeof id, "%03zu", i);
    double trainable =
        t.method == "linear_head" ? 2 * kWidth.at(t.model) + 2 : std::stod(t.length) * kWidth.at(t.model);
    bool done = t.status == "done";
    std::string error = t.error;
    if (error.find_first_of(",\"") != std::string::npos) {
      std::string q = "\"";
      for (char c : error) q += c == '"' ? std::string("\"\"") : std::string(1, c);
      error = q + "\"";
    }
    csv += std::string(id) + "," + t.status + ",sst2," + t.model + "," + t.method + "," + t.seed + "," + t.length +
           "," + t.init + "," + num(kModelParameters.at(t.model)) + "," + num(trainable) + "," +
           (done ? "100,80,12.5" : ",,") + "," + num(t.accuracy) + "," + num(done ? t.accuracy + 0.01 : NAN) + "," +
           num(done ? 1.0 - t.accuracy : NAN) + "," + error + ",trials/" + id + "\n";
    fs::create_directories(dir + "/trials/" + id);
    if (done && t.model == "m100k" && t.init != "uniform") {
      hid_t file = H5Fcreate((dir + "/trials/" + id + "/metrics.h5").c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
      ASSERT_GE(file, 0);
      // seed 0: loss 1.0 0.8 0.6, seed 1: 1.2 0.8 0.4 -> mean 1.1 0.8 0.5
      double first = t.seed == "0" ? 1.0 : 1.2, slope = t.seed == "0" ? -0.2 : -0.4;
      write_series(file, "train/loss", {0, 10, 20}, {first, first + slope, first + 2 * slope});
      write_series(file, "eval/accuracy", {10, 20}, {t.accuracy - 0.1, t.accuracy});
      H5Fclose(file);
    }
  }
  write_text(dir + "/summary.csv", csv);
  write_text(dir + "/multirun.yaml", "params: {}\n");
}

// groups.csv as maps: one per row, column name -> cell.
std::vector<std::map<std::string, std::string>> read_groups(const std::string& path) {
  CsvTable t = read_csv(path);
  std::vector<std::map<std::string, std::string>> rows;
  for (const auto& r : t.rows) {
    std::map<std::string, std::string> m;
    for (std::size_t c = 0; c < t.header.size(); ++c) m[t.header[c]] = r[c];
    rows.push_back(m);
  }
  return rows;
}

const std::map<std::string, std::string>* find_row(const std::vector<std::map<std::string, std::string>>& rows,
                                                   const std::string& model, const std::string& method,
                                                   const std::string& length, const std::string& init) {
  for (const auto& r : rows)
    if (r.at("model") == model && r.at("method") == method && r.at("method.length") == length &&
        r.at("method.init") == init)
      return &r;
  return nullptr;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

bool gnuplot_available() { return std::system("command -v gnuplot >/dev/null 2>&1") == 0; }

// ---- CSV ----------------------------------------------------------------------------------------------------

TEST(CsvTable, ReadsQuotedFieldsAndKeepsLines) {
  CsvTable t = parse_csv("a,b,c\r\n1,\"x, \"\"y\"\"\",3\r\n\n4,\"two\nlines\",6\n", "f.csv");
  ASSERT_EQ(t.rows.size(), 2u);
  EXPECT_EQ(t.rows[0][1], "x, \"y\"");
  EXPECT_EQ(t.rows[1][1], "two\nlines");
  EXPECT_EQ(t.row_lines[0], 2);
  EXPECT_EQ(t.row_lines[1], 4);
  EXPECT_EQ(csv_line({"plain", "a,b", "say \"hi\""}), "plain,\"a,b\",\"say \"\"hi\"\"\"\n");
  EXPECT_EQ(parse_csv(csv_line({"a,b", "c\"d"}) + csv_line({"1", "2"}), "g.csv").header[1], "c\"d");
}

TEST(CsvTable, MalformedInputNamesFileAndLine) {
  EXPECT_EQ(error_of([] { parse_csv("a,b,c\n1,2,3\n\"4\",5\n", "s.csv"); }),
            "s.csv: line 3 has 2 fields, the header has 3");
  EXPECT_NE(error_of([] { parse_csv("a,b\n1,\"open\n", "s.csv"); }).find("s.csv: line 2: a quoted field is not closed"),
            std::string::npos);
  EXPECT_NE(
      error_of([] { parse_csv("a,b\n1,x\"y\n", "s.csv"); }).find("s.csv: line 2: a '\"' inside an unquoted field"),
      std::string::npos);
  EXPECT_NE(error_of([] { parse_csv("", "s.csv"); }).find("s.csv: the file is empty"), std::string::npos);
}

// ---- one sweep -------------------------------------------------------------------------------------------------

TEST(SweepSummary, ClassifiesColumnsAndPicksTheScore) {
  TempDir tmp;
  write_sweep(tmp.sub("sweep"), fixture_trials());
  SweepSummary s = load_sweep(tmp.sub("sweep"));
  EXPECT_EQ(s.name, "sweep");
  EXPECT_EQ(s.config_columns, (std::vector<std::string>{"task", "model", "method", "method.length", "method.init"}));
  EXPECT_EQ(s.metric_columns, (std::vector<std::string>{"test/accuracy", "best/eval/accuracy", "test/loss"}));
  ASSERT_EQ(s.trials.size(), 20u);
  EXPECT_EQ(s.count(TrialStatus::kDone), 17u);
  EXPECT_EQ(s.trials[18].error, "RuntimeError: \"CUDA out of memory\", tried to allocate 2.00 GiB");
  EXPECT_EQ(default_score_metric(s), "test/accuracy");
  EXPECT_EQ(dev_series_for("test/accuracy"), "eval/accuracy");
  EXPECT_EQ(dev_series_for("best/eval/f1"), "eval/f1");

  // Without test/accuracy: the first test/* column that is not test/loss, else the first best/eval/*.
  s.metric_columns = {"best/eval/accuracy", "test/loss", "test/f1"};
  EXPECT_EQ(default_score_metric(s), "test/f1");
  s.metric_columns = {"final/eval/loss", "test/loss", "best/eval/f1"};
  EXPECT_EQ(default_score_metric(s), "best/eval/f1");
}

TEST(TrialGroups, MeanAndSampleStdOverSeeds) {
  Stat s = describe({0.80, 0.90});
  EXPECT_NEAR(s.mean, 0.85, 1e-12);
  EXPECT_NEAR(s.std, 0.1 / std::sqrt(2.0), 1e-12);
  Stat one = describe({0.5});
  EXPECT_EQ(one.n, 1u);
  EXPECT_TRUE(std::isnan(one.std));
  EXPECT_TRUE(std::isnan(describe({}).mean));
}

TEST(SweepReport, GroupsCsvHoldsTheHandComputedStatistics) {
  TempDir tmp;
  write_sweep(tmp.sub("sweep"), fixture_trials());
  ReportOptions options;
  options.plots = false;
  ReportResult r = report_sweep(tmp.sub("sweep"), options);
  EXPECT_EQ(r.metric, "test/accuracy");
  EXPECT_EQ(r.out_dir, tmp.sub("sweep") + "/report");
  auto rows = read_groups(r.out_dir + "/groups.csv");
  ASSERT_EQ(rows.size(), 10u);  // groups A-J
  struct Expected {
    std::string model, method, length, init;
    std::size_t n, trials;
    double mean, std;
    double trainable;
  };
  const double r2 = std::sqrt(2.0);
  const std::vector<Expected> expected = {
      {"m100k", "prompt_tuning", "20", "sampled_vocab", 2, 2, 0.62, 0.04 / r2, 1280},
      {"m1M", "prompt_tuning", "20", "sampled_vocab", 2, 2, 0.72, 0.04 / r2, 2560},
      {"m10M", "prompt_tuning", "20", "sampled_vocab", 2, 2, 0.85, 0.10 / r2, 5120},
      {"m100k", "linear_head", "", "", 2, 2, 0.53, 0.06 / r2, 130},
      {"m1M", "linear_head", "", "", 2, 2, 0.60, 0.10 / r2, 258},
      {"m10M", "linear_head", "", "", 2, 2, 0.68, 0.04 / r2, 514},
      {"m1M", "prompt_tuning", "5", "sampled_vocab", 2, 2, 0.63, 0.04 / r2, 640},
      {"m1M", "prompt_tuning", "80", "sampled_vocab", 2, 2, 0.77, 0.04 / r2, 10240},
      {"m1M", "prompt_tuning", "20", "uniform", 1, 2, 0.66, NAN, 2560},
      {"m10M", "prompt_tuning", "80", "sampled_vocab", 0, 2, NAN, NAN, 20480},
  };
  for (const auto& e : expected) {
    SCOPED_TRACE(e.model + " " + e.method + " " + e.length + " " + e.init);
    const auto* row = find_row(rows, e.model, e.method, e.length, e.init);
    ASSERT_NE(row, nullptr);
    EXPECT_EQ(row->at("task"), "sst2");
    EXPECT_EQ(row->at("n"), std::to_string(e.n));
    EXPECT_EQ(row->at("trials"), std::to_string(e.trials));
    EXPECT_EQ(row->at("test/accuracy_n"), std::to_string(e.n));
    if (std::isnan(e.mean)) {
      EXPECT_EQ(row->at("test/accuracy_mean"), "");
    } else {
      EXPECT_NEAR(std::stod(row->at("test/accuracy_mean")), e.mean, 1e-9);
      // best/eval/accuracy is test/accuracy + 0.01, test/loss is 1 - test/accuracy, trial by trial.
      EXPECT_NEAR(std::stod(row->at("best/eval/accuracy_mean")), e.mean + 0.01, 1e-9);
      EXPECT_NEAR(std::stod(row->at("test/loss_mean")), 1.0 - e.mean, 1e-9);
    }
    if (std::isnan(e.std)) {
      EXPECT_EQ(row->at("test/accuracy_std"), "") << "one seed: no sample std";
    } else {
      EXPECT_NEAR(std::stod(row->at("test/accuracy_std")), e.std, 1e-9);
      EXPECT_NEAR(std::stod(row->at("test/loss_std")), e.std, 1e-9);
    }
    EXPECT_NEAR(std::stod(row->at("trainable_parameters")), e.trainable, 1e-6);
    EXPECT_NEAR(std::stod(row->at("model_parameters")), kModelParameters.at(e.model), 1e-3);
  }
  EXPECT_EQ(find_row(rows, "m100k", "prompt_tuning", "20", "sampled_vocab")->at("seeds"), "0 1");
  // The score's three columns come first after the parameter counts.
  CsvTable t = read_csv(r.out_dir + "/groups.csv");
  EXPECT_EQ(t.header[10], "test/accuracy_mean");
}

TEST(SweepReport, MarkdownShowsTheTableAndTheMissingTrials) {
  TempDir tmp;
  write_sweep(tmp.sub("sweep"), fixture_trials());
  ReportOptions options;
  options.plots = false;
  ReportResult r = report_sweep(tmp.sub("sweep"), options);
  const std::string md = read_text(r.out_dir + "/report.md");
  EXPECT_NE(md.find("| model | method | method.length | method.init | n | test/accuracy | trainable params |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| m10M | prompt_tuning | 20 | sampled_vocab | 2 | 0.8500 ± 0.0707 | 5.12K |"), std::string::npos)
      << md;
  EXPECT_NE(md.find("| m1M | prompt_tuning | 20 | uniform | 1 | 0.6600 ± – | 2.56K |"), std::string::npos) << md;
  EXPECT_NE(md.find("| m10M | prompt_tuning | 80 | sampled_vocab | 0 | – | 20.5K |"), std::string::npos) << md;
  EXPECT_NE(md.find("Same in every trial: task = sst2."), std::string::npos) << md;
  EXPECT_NE(md.find("3 of 20 trials have no result: 1 pending, 1 running, 1 failed, 0 stopped."), std::string::npos)
      << md;
  EXPECT_NE(md.find("- `018` (model=m10M, method=prompt_tuning, method.length=80, method.init=sampled_vocab, seed=0) "
                    "— `trials/018`: RuntimeError: \"CUDA out of memory\", tried to allocate 2.00 GiB"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("Running:\n\n- `017`"), std::string::npos) << md;
  EXPECT_NE(md.find("Pending:\n\n- `019`"), std::string::npos) << md;
  EXPECT_LT(md.find("Failed:"), md.find("Running:")) << "failures first";
  EXPECT_NE(md.find("## Other metrics"), std::string::npos);
  // What is printed: the table and the counts.
  EXPECT_NE(r.table.find("0.8500 ± 0.0707"), std::string::npos);
  EXPECT_NE(r.table.find("20 trials: 17 done, 1 failed, 1 running, 1 pending (3 without a result)\nfailed: 018 "
                         "(trials/018): RuntimeError: \"CUDA out of memory\", tried to allocate 2.00 GiB\n"),
            std::string::npos)
      << r.table;
  EXPECT_EQ(r.written, (std::vector<std::string>{r.out_dir + "/groups.csv", r.out_dir + "/report.md"}));
}

TEST(SweepReport, MetricOptionAndOutDir) {
  TempDir tmp;
  write_sweep(tmp.sub("sweep"), fixture_trials());
  ReportOptions options;
  options.plots = false;
  options.metric = "best/eval/accuracy";
  options.out_dir = tmp.sub("elsewhere/r");
  ReportResult r = report_sweep(tmp.sub("sweep"), options);
  EXPECT_EQ(r.out_dir, tmp.sub("elsewhere/r"));
  EXPECT_NE(
      read_text(r.out_dir + "/report.md").find("| m10M | prompt_tuning | 20 | sampled_vocab | 2 | 0.8600 ± 0.0707 |"),
      std::string::npos);
  EXPECT_EQ(read_csv(r.out_dir + "/groups.csv").header[10], "best/eval/accuracy_mean");
}

TEST(MetricSeries, ReadsRunLogsAndAveragesSeeds) {
  TempDir tmp;
  write_sweep(tmp.sub("sweep"), fixture_trials());
  auto s0 = read_metric_series(tmp.sub("sweep/trials/000/metrics.h5"), "train/loss");
  auto s1 = read_metric_series(tmp.sub("sweep/trials/001/metrics.h5"), "train/loss");
  ASSERT_TRUE(s0 && s1);
  EXPECT_EQ(s0->step, (std::vector<int64_t>{0, 10, 20}));
  MetricSeries mean = mean_series({*s0, *s1});
  ASSERT_EQ(mean.value.size(), 3u);
  EXPECT_NEAR(mean.value[0], 1.1, 1e-12);
  EXPECT_NEAR(mean.value[1], 0.8, 1e-12);
  EXPECT_NEAR(mean.value[2], 0.5, 1e-12);
  EXPECT_FALSE(read_metric_series(tmp.sub("sweep/trials/000/metrics.h5"), "eval/f1"));
  EXPECT_FALSE(read_metric_series(tmp.sub("sweep/trials/004/metrics.h5"), "train/loss")) << "no file";
  write_text(tmp.sub("sweep/trials/004/metrics.h5"), "not hdf5");
  EXPECT_NE(error_of([&] {
              read_metric_series(tmp.sub("sweep/trials/004/metrics.h5"), "train/loss");
            }).find("trials/004/metrics.h5"),
            std::string::npos);
}

TEST(SweepReport, FiguresArePngAndSvgWithLabelsAndLegends) {
  if (!gnuplot_available()) GTEST_SKIP() << "gnuplot is not installed (Debian: gnuplot-nox); figures not checked";
  TempDir tmp;
  write_sweep(tmp.sub("sweep"), fixture_trials());
  ReportResult r = report_sweep(tmp.sub("sweep"), ReportOptions{});
  EXPECT_TRUE(r.warnings.empty()) << r.warnings.front();
  for (const char* name : {"scale", "prompt_length", "prompt_init", "curves"}) {
    SCOPED_TRACE(name);
    for (const char* ext : {".png", ".svg", ".gp"}) {
      std::string path = r.out_dir + "/" + name + ext;
      ASSERT_TRUE(fs::exists(path)) << path;
      EXPECT_GT(fs::file_size(path), 100u) << path;
    }
  }
  const std::string scale = read_text(r.out_dir + "/scale.svg");
  EXPECT_NE(scale.find("model parameters"), std::string::npos);
  EXPECT_NE(scale.find("test accuracy"), std::string::npos);
  EXPECT_NE(scale.find("linear_head"), std::string::npos) << "one line per method, named as is (noenhanced)";
  EXPECT_NE(scale.find("prompt_tuning, method.length=20, method.init=sampled_vocab"), std::string::npos);
  // The scale data: linear_head at 1e5, 1e6, 1e7 parameters with the group means and stds.
  const std::string scale_dat = read_text(r.out_dir + "/scale.dat");
  EXPECT_NE(scale_dat.find("# index 1: linear_head\n100000 0.53 0.04242640687\n1000000 0.6 0.07071067812\n"
                           "10000000 0.68 0.02828427125\n"),
            std::string::npos)
      << scale_dat;
  const std::string length = read_text(r.out_dir + "/prompt_length.svg");
  EXPECT_NE(length.find("prompt length (tokens)"), std::string::npos);
  EXPECT_NE(length.find("m1M, prompt_tuning, method.init=sampled_vocab"), std::string::npos);
  const std::string length_dat = read_text(r.out_dir + "/prompt_length.dat");
  EXPECT_NE(length_dat.find("5 0.63 0.02828427125\n20 0.72 0.02828427125\n80 0.77 0.02828427125\n"), std::string::npos)
      << length_dat;
  const std::string init = read_text(r.out_dir + "/prompt_init.svg");
  EXPECT_NE(init.find("prompt initialisation"), std::string::npos);
  EXPECT_NE(init.find("uniform"), std::string::npos);
  EXPECT_NE(init.find("m1M, prompt_tuning, method.length=20"), std::string::npos);
  const std::string curves = read_text(r.out_dir + "/curves.svg");
  EXPECT_NE(curves.find("training loss"), std::string::npos);
  EXPECT_NE(curves.find("eval accuracy"), std::string::npos);
  EXPECT_NE(curves.find("m100k, linear_head (mean of 2)"), std::string::npos);
  EXPECT_NE(read_text(r.out_dir + "/curves_loss.dat").find("0 1.1 0\n10 0.8 0\n20 0.5 0\n"), std::string::npos);
  const std::string md = read_text(r.out_dir + "/report.md");
  EXPECT_NE(md.find("![scale](scale.png)"), std::string::npos);
}

TEST(SweepReport, WithoutGnuplotWarnsAndStillWritesTables) {
  TempDir tmp;
  write_sweep(tmp.sub("sweep"), fixture_trials());
  ReportOptions options;
  options.gnuplot = "ptlab-no-such-gnuplot";
  ReportResult r = report_sweep(tmp.sub("sweep"), options);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("gnuplot ('ptlab-no-such-gnuplot') not found"), std::string::npos);
  EXPECT_TRUE(fs::exists(r.out_dir + "/groups.csv"));
  EXPECT_TRUE(fs::exists(r.out_dir + "/report.md"));
  EXPECT_TRUE(fs::exists(r.out_dir + "/scale.gp"));
  EXPECT_FALSE(fs::exists(r.out_dir + "/scale.png"));
}

TEST(SweepReport, ARunningSweepWithoutScoresYet) {
  TempDir tmp;
  const std::string dir = tmp.sub("fresh");
  write_text(dir + "/summary.csv",
             "trial_id,status,task,model,method,seed,model_parameters,trainable_parameters,steps,best_step,"
             "wall_seconds,error,dir\n0,running,sst2,m1M,prompt_tuning,0,,,,,,,trials/0\n"
             "1,pending,sst2,m1M,prompt_tuning,1,,,,,,,trials/1\n");
  ReportResult r = report_sweep(dir, ReportOptions{});
  EXPECT_EQ(r.metric, "");
  const std::string md = read_text(r.out_dir + "/report.md");
  EXPECT_NE(md.find("2 of 2 trials have no result: 1 pending, 1 running, 0 failed, 0 stopped."), std::string::npos)
      << md;
  EXPECT_NE(md.find("| sst2 | m1M | prompt_tuning | 0 | – | – |"), std::string::npos) << md;
}

// ---- errors -------------------------------------------------------------------------------------------------------

TEST(SweepReport, BadInputsGiveOneLineErrors) {
  TempDir tmp;
  fs::create_directories(tmp.sub("empty"));
  std::string e = error_of([&] { report_sweep(tmp.sub("empty"), ReportOptions{}); });
  EXPECT_NE(e.find(tmp.sub("empty") + "/summary.csv: no such file; "), std::string::npos) << e;
  EXPECT_NE(e.find("is not a sweep directory"), std::string::npos) << e;
  EXPECT_NE(e.find("summary.csv, sweep.h5 and trials/<trial_id>/"), std::string::npos) << e;
  EXPECT_EQ(e.find('\n'), std::string::npos);

  e = error_of([&] { report_sweep(tmp.sub("nowhere"), ReportOptions{}); });
  EXPECT_NE(e.find("nowhere: no such directory"), std::string::npos) << e;

  write_sweep(tmp.sub("sweep"), fixture_trials());
  std::string csv = read_text(tmp.sub("sweep/summary.csv"));
  std::size_t line7 = 0;
  for (int i = 0; i < 6; ++i) line7 = csv.find('\n', line7) + 1;
  write_text(tmp.sub("bad/summary.csv"), csv.substr(0, line7) + "006,done,sst2,m1M\n" + csv.substr(line7));
  e = error_of([&] { report_sweep(tmp.sub("bad"), ReportOptions{}); });
  EXPECT_EQ(e, tmp.sub("bad") + "/summary.csv: line 7 has 4 fields, the header has 18");

  write_text(tmp.sub("status/summary.csv"), csv.substr(0, line7) + "006,finished" + csv.substr(line7 + 8));
  e = error_of([&] { report_sweep(tmp.sub("status"), ReportOptions{}); });
  EXPECT_NE(e.find("line 7: status 'finished' is not one of pending, running, done, failed, stopped"),
            std::string::npos)
      << e;

  write_text(tmp.sub("header/summary.csv"), "trial_id,status,task\n");
  e = error_of([&] { report_sweep(tmp.sub("header"), ReportOptions{}); });
  EXPECT_NE(e.find("the header lacks the columns model, method, seed"), std::string::npos) << e;

  ReportOptions options;
  options.metric = "test/acuracy";
  e = error_of([&] { report_sweep(tmp.sub("sweep"), options); });
  EXPECT_EQ(e, tmp.sub("sweep") +
                   "/summary.csv: no metric column 'test/acuracy' (did you mean test/accuracy?); "
                   "metric columns: test/accuracy, best/eval/accuracy, test/loss");
}

// ---- two sweeps ---------------------------------------------------------------------------------------------------

TEST(CompareSweeps, MatchesGroupsAndDiffsTheScores) {
  TempDir tmp;
  write_sweep(tmp.sub("base"), fixture_trials());
  write_sweep(tmp.sub("better"), fixture_trials(0.05, true));
  ReportResult r = compare_sweeps({tmp.sub("base"), tmp.sub("better")}, ReportOptions{});
  EXPECT_EQ(r.out_dir, tmp.sub("base") + "/report-vs-better");
  auto rows = read_groups(r.out_dir + "/groups.csv");
  ASSERT_EQ(rows.size(), 10u);
  const auto* a = find_row(rows, "m100k", "prompt_tuning", "20", "sampled_vocab");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->at("base_n"), "2");
  EXPECT_NEAR(std::stod(a->at("base_mean")), 0.62, 1e-9);
  EXPECT_NEAR(std::stod(a->at("better_mean")), 0.67, 1e-9);
  EXPECT_NEAR(std::stod(a->at("better_std")), 0.04 / std::sqrt(2.0), 1e-9);
  EXPECT_NEAR(std::stod(a->at("better_minus_base")), 0.05, 1e-9);
  const auto* d = find_row(rows, "m100k", "linear_head", "", "");
  EXPECT_NEAR(std::stod(d->at("better_minus_base")), 0.0, 1e-9);
  const auto* g = find_row(rows, "m1M", "prompt_tuning", "5", "sampled_vocab");
  EXPECT_EQ(g->at("better_n"), "") << "not in the second sweep";
  EXPECT_EQ(g->at("better_minus_base"), "");
  const std::string md = read_text(r.out_dir + "/report.md");
  EXPECT_NE(md.find("| model | method | method.length | method.init | base | better | Δ better − base |"),
            std::string::npos)
      << md;
  EXPECT_NE(
      md.find(
          "| m100k | prompt_tuning | 20 | sampled_vocab | 0.6200 ± 0.0283 (n=2) | 0.6700 ± 0.0283 (n=2) | +0.0500 |"),
      std::string::npos)
      << md;
  EXPECT_NE(md.find("| m1M | prompt_tuning | 5 | sampled_vocab | 0.6300 ± 0.0283 (n=2) | (not in sweep) | – |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("20 trials: 17 done, 1 failed, 1 running, 1 pending"), std::string::npos);

  ReportOptions options;
  options.metric = "test/f1";
  EXPECT_NE(error_of([&] {
              compare_sweeps({tmp.sub("base"), tmp.sub("better")}, options);
            }).find("no metric column 'test/f1'"),
            std::string::npos);
}

// ---- the command line ---------------------------------------------------------------------------------------------

// `ptlab report` itself, when the ptlab binary is built (this test does not build it: it stays torch-free).
TEST(ReportCommand, PrintsTheTableAndRejectsUnknownOptions) {
  if (!fs::exists(PTLAB_BINARY)) GTEST_SKIP() << PTLAB_BINARY << " is not built";
  TempDir tmp;
  write_sweep(tmp.sub("sweep"), fixture_trials());
  auto run = [](const std::string& args, int& status) {
    std::string out;
    FILE* p = ::popen((std::string(PTLAB_BINARY) + " report " + args + " 2>&1").c_str(), "r");
    char buffer[4096];
    while (std::size_t n = std::fread(buffer, 1, sizeof buffer, p)) out.append(buffer, n);
    status = ::pclose(p);
    return out;
  };
  int status = 0;
  std::string out = run(tmp.sub("sweep") + " --no-plots", status);
  if (out.find("unknown command 'report'") != std::string::npos) GTEST_SKIP() << "the built ptlab predates report";
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("| m10M | prompt_tuning | 20 | sampled_vocab | 2 | 0.8500 ± 0.0707 | 5.12K |"), std::string::npos)
      << out;
  EXPECT_NE(out.find(tmp.sub("sweep") + "/report/report.md"), std::string::npos) << out;
  out = run(tmp.sub("sweep") + " --metrc test/accuracy", status);
  EXPECT_EQ(WEXITSTATUS(status), 2);
  EXPECT_NE(
      out.find("ptlab report: unknown option '--metrc' (did you mean --metric?); options: --no-plots, --metric, --out"),
      std::string::npos)
      << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  out = run("--help", status);
  EXPECT_EQ(status, 0);
  EXPECT_NE(out.find("usage: ptlab report"), std::string::npos);
}

}  // namespace
}  // namespace ptlab::results
