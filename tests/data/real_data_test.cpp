// Every registered task (configs/task/*.yaml) reads its real files from ../shared with the official row
// counts of ../shared/README.md, split by split; and the read speed on the largest files.
#include "framework/config/compose.h"
#include "framework/config/config_file.h"
#include "framework/data/dataset.h"
#include "framework/data/line_reader.h"
#include "tests/data/data_test_support.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>

namespace ptlab::data {
namespace {
using testing::shared_path;

struct Expected {
  std::string task;
  std::map<std::string, int64_t> rows;  // per split; a split_from split counts with its source below
  std::map<std::string, int64_t> file_rows;  // split_from source: rows of its file (train + dev)
  std::vector<std::string> labels;
};

// ../shared/README.md's table (and the SOURCE.txt files for the derived subsets).
const std::vector<Expected>& expected() {
  static const std::vector<Expected> table = {
      {"sst2", {{"train", 67349}, {"dev", 872}, {"test", 1821}, {"test_unlabeled", 1821}}, {}, {"negative", "positive"}},
      {"sst5", {{"train", 8544}, {"dev", 1101}, {"test", 2210}}, {},
       {"very_negative", "negative", "neutral", "positive", "very_positive"}},
      {"trec", {{"dev", 545}, {"test", 500}}, {{"train", 5452}},
       {"description", "entity", "abbreviation", "human", "location", "number"}},
      {"boolq",
       {{"train", 9427}, {"dev", 3270}, {"test_unlabeled", 3245}, {"fewglue_train", 32}, {"fewglue_dev32", 32},
        {"pool", 9427}},
       {},
       {"false", "true"}},
      {"cb",
       {{"train", 250}, {"dev", 56}, {"test_unlabeled", 250}, {"fewglue_train", 32}, {"fewglue_dev32", 32},
        {"pool", 250}},
       {},
       {"entailment", "contradiction", "neutral"}},
      {"rte",
       {{"train", 2490}, {"dev", 277}, {"test_unlabeled", 3000}, {"fewglue_train", 32}, {"fewglue_dev32", 32},
        {"glue_dev", 277}, {"glue_test_unlabeled", 3000}, {"pool", 2490}},
       {},
       {"entailment", "not_entailment"}},
      {"ag_news", {{"dev", 1000}, {"test", 7600}}, {{"train", 10001}}, {"World", "Sports", "Business", "Sci/Tech"}},
      {"chnsenticorp", {{"train", 9600}, {"dev", 1200}, {"test_unlabeled", 1200}}, {}, {"negative", "positive"}},
      {"alpaca_en", {{"dev", 100}}, {{"train", 999}}, {}},
      {"alpaca_zh", {{"dev", 100}}, {{"train", 1000}}, {}},
      {"brown_pos", {{"dev", 5734}}, {{"train", 57340}}, {}},
      {"brown_lm", {{"dev", 1147}}, {{"train", 57340}}, {}},
  };
  return table;
}

class RealData : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(shared_path("data")))
      GTEST_SKIP() << "../shared not found: " << shared_path("data");
    setenv("PTLAB_SHARED", PTLAB_SHARED_DIR, 1);
  }
  static DatasetConfig task_config(const std::string& task) {
    static config::Composed composed;  // the Reader's origins must outlive the decode
    const std::string dir = std::string(PTLAB_SOURCE_DIR) + "/configs";
    // `task=` when the primary defaults list has a task entry, `+task=` otherwise (as `ptlab data show`).
    std::string choose = "+task=" + task;
    for (const auto& d : config::load_config_file(dir, "config").defaults)
      if (d.kind == config::DefaultsEntry::Kind::kGroup && (d.name == "task" || d.name == "/task")) choose = "task=" + task;
    composed = config::compose({dir}, {choose});
    return DatasetConfig::from_config(composed.root, composed.origins);
  }
};

TEST_F(RealData, EveryTaskHasItsOfficialRowCounts) {
  for (const Expected& e : expected()) {
    SCOPED_TRACE("task " + e.task);
    const Dataset ds = Dataset::load(task_config(e.task));
    EXPECT_EQ(ds.labels(), e.labels);
    std::size_t splits = e.rows.size();
    for (const auto& [split, rows] : e.rows) EXPECT_EQ(int64_t(ds.split(split).size()), rows) << "split " << split;
    for (const auto& [split, rows] : e.file_rows) {
      ++splits;
      EXPECT_EQ(ds.report(split).rows_read, rows) << "file of split " << split;
      const std::string dev = ds.config().split_from->name;
      EXPECT_EQ(int64_t(ds.split(split).size() + ds.split(dev).size()), rows) << "split " << split << " + " << dev;
    }
    EXPECT_EQ(ds.split_names().size(), splits) << "splits of the config and of this table differ";
    for (const std::string& name : ds.split_names()) {
      const auto& rows = ds.split(name);
      EXPECT_EQ(ds.report(name).skipped, 0) << name;
      const bool unlabeled = name.find("unlabeled") != std::string::npos;
      for (const Example& ex : rows) {
        if (!e.labels.empty()) {
          ASSERT_EQ(ex.has_label(), !unlabeled) << ex.source.describe();
          if (!unlabeled) {
            ASSERT_EQ(ex.label_name, e.labels[std::size_t(ex.label_id)]) << ex.source.describe();
          }
        }
        ASSERT_TRUE(!ex.text_a.empty() || !ex.tokens.empty()) << ex.source.describe();
      }
    }
  }
}

TEST_F(RealData, TaskFilesAreAllCovered) {
  std::set<std::string> files, table;
  for (const auto& f : std::filesystem::directory_iterator(std::string(PTLAB_SOURCE_DIR) + "/configs/task"))
    if (f.path().extension() == ".yaml") files.insert(f.path().stem().string());
  for (const Expected& e : expected()) table.insert(e.task);
  for (const std::string& t : table) EXPECT_TRUE(files.count(t)) << "configs/task/" << t << ".yaml is missing";
}

TEST_F(RealData, ClassesMatchTheSourcesOwnLabels) {
  // TREC's integer labels against the COARSE:fine labels of the same lines.
  const Dataset trec = Dataset::load(task_config("trec"), {"test"});
  LineReader fine(shared_path("data/trec/TREC.test.fine"), FileEncoding::kLatin1);
  const std::map<std::string, std::string> coarse = {{"DESC", "description"}, {"ENTY", "entity"},
                                                     {"ABBR", "abbreviation"}, {"HUM", "human"},
                                                     {"LOC", "location"},   {"NUM", "number"}};
  std::string line;
  for (const Example& ex : trec.split("test")) {
    ASSERT_TRUE(fine.next(line));
    ASSERT_EQ(coarse.at(line.substr(0, line.find(':'))), ex.label_name) << ex.source.describe();
    ASSERT_EQ(line.substr(line.find(' ') + 1), ex.text_a);
  }
  // AG News: 1,900 test rows per class; the train subset's names map to the same classes.
  const Dataset ag = Dataset::load(task_config("ag_news"), {"test"});
  std::map<int, int> per_class;
  for (const Example& ex : ag.split("test")) ++per_class[ex.label_id];
  EXPECT_EQ(per_class, (std::map<int, int>{{0, 1900}, {1, 1900}, {2, 1900}, {3, 1900}}));
  // The one non-ASCII line of TREC.train.all (byte 0xF0, latin-1 'ð') reads as UTF-8.
  const Dataset trec_train = Dataset::load(task_config("trec"), {"train", "dev"});
  bool found = false;
  for (const auto& s : {"train", "dev"})
    for (const Example& ex : trec_train.split(s))
      if (ex.index == 65) found = ex.text_a == "Which city has the oldest relationship as a sister\xC3\xB0" "city with Los Angeles ?";
  EXPECT_TRUE(found);
}

// Read speed (rows/s, wall and CPU) of the largest files: printed, and a loose floor that only a
// pathological slowdown would break on a loaded 2-core machine.
TEST_F(RealData, ReadSpeed) {
  for (const std::string task : {"sst2", "brown_lm", "brown_pos"}) {
    DatasetConfig cfg = task_config(task);
    cfg.split_from.reset();  // time the reading alone
    int64_t rows = 0;
    const auto wall0 = std::chrono::steady_clock::now();
    const std::clock_t cpu0 = std::clock();
    stream_split(cfg, cfg.splits[0].name, Shard{}, [&](Example&&) { return ++rows > 0; });
    const double cpu = double(std::clock() - cpu0) / CLOCKS_PER_SEC;
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
    const auto bytes = std::filesystem::file_size(cfg.splits[0].source.path);
    std::cout << "[ speed    ] " << task << ": " << rows << " rows, " << bytes / 1e6 << " MB in " << wall << " s wall, "
              << cpu << " s CPU: " << int64_t(rows / wall) << " rows/s wall, " << int64_t(rows / std::max(cpu, 1e-9))
              << " rows/s CPU, " << bytes / 1e6 / std::max(cpu, 1e-9) << " MB/s CPU\n";
    RecordProperty(task + "_rows_per_s_cpu", std::to_string(int64_t(rows / std::max(cpu, 1e-9))));
    EXPECT_EQ(rows, task == "sst2" ? 67349 : 57340);
    EXPECT_GT(rows / std::max(cpu, 1e-9), 20000.0) << task;
  }
}

}  // namespace
}  // namespace ptlab::data
