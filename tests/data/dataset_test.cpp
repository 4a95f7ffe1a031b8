#include "framework/data/dataset.h"

#include "framework/config/compose.h"
#include "tests/data/data_test_support.h"

#include <gtest/gtest.h>

#include <set>

namespace ptlab::data {
namespace {
using testing::config_from_yaml;
using testing::error_of;
using testing::TempDir;

// A new classification task defined by YAML alone: four files in four formats, composed like any task.
TEST(Dataset, NewClassificationDatasetFromYamlAlone) {
  TempDir dir;
  dir.write("data/train.tsv", "sentence\tlabel\na fine film\t1\na \"dull\" one\t0\n");
  dir.write("data/dev.csv", "title,text,label\n\"Two, lines\",\"first line\nsecond \"\"quoted\"\" line\",pos\nT,short,neg\n");
  dir.write("data/test.jsonl", "{\"id\": 7, \"body\": {\"text\": \"nested text\"}, \"y\": \"pos\"}\n{\"id\": 8, \"body\": {\"text\": \"other\"}, \"y\": 0}\n");
  dir.write("data/extra.json", "[\n  {\"q\": \"what\", \"a\": \"neg\"},\n  {\"q\": \"why\", \"a\": \"pos\"}\n]\n");
  dir.write("configs/config.yaml", "defaults:\n  - _self_\npaths:\n  data: " + dir.path() + "/data\n");
  dir.write("configs/task/mytask.yaml", R"(# mytask: a classification task made in a test
type: classification
data:
  splits:
    train: {path: "${paths.data}/train.tsv"}
    dev:
      path: "${paths.data}/dev.csv"
      fields: {text_a: text, text_b: title, label: label}
    test:
      path: "${paths.data}/test.jsonl"
      fields: {text_a: body/text, label: y, meta.id: id}
    extra:
      path: "${paths.data}/extra.json"
      fields: {text_a: q, label: a}
  fields: {text_a: sentence, label: label}
  label_map: {0: negative, 1: positive, neg: negative, pos: positive}
)");
  const config::Composed composed = config::compose({dir.path() + "/configs"}, {"+task=mytask"});
  const DatasetConfig cfg = DatasetConfig::from_config(composed.root, composed.origins);
  const Dataset ds = Dataset::load(cfg);
  EXPECT_EQ(ds.split_names(), (std::vector<std::string>{"train", "dev", "test", "extra"}));
  EXPECT_EQ(ds.labels(), (std::vector<std::string>{"negative", "positive"}));

  const auto& train = ds.split("train");
  ASSERT_EQ(train.size(), 2u);
  EXPECT_EQ(train[1].text_a, "a \"dull\" one");
  EXPECT_EQ(train[1].label, "0");
  EXPECT_EQ(train[1].label_name, "negative");
  EXPECT_EQ(train[1].label_id, 0);
  EXPECT_EQ(train[1].source.line, 3);

  const auto& dev = ds.split("dev");
  ASSERT_EQ(dev.size(), 2u);
  EXPECT_EQ(dev[0].text_a, "first line\nsecond \"quoted\" line");
  EXPECT_EQ(dev[0].text_b, "Two, lines");
  EXPECT_EQ(dev[0].label_id, 1);
  EXPECT_EQ(dev[1].source.line, 4);

  const auto& test = ds.split("test");
  ASSERT_EQ(test.size(), 2u);
  EXPECT_EQ(test[0].text_a, "nested text");
  EXPECT_EQ(test[0].meta.at("id"), "7");
  EXPECT_EQ(test[1].label, "0");  // a JSON number reads as its text
  EXPECT_EQ(test[1].label_name, "negative");

  const auto& extra = ds.split("extra");
  ASSERT_EQ(extra.size(), 2u);
  EXPECT_EQ(extra[1].source.pointer, "/1");
  EXPECT_EQ(extra[1].source.line, 3);
  EXPECT_EQ(extra[1].label_name, "positive");
  EXPECT_EQ(ds.report("dev").rows_read, 2);
}

// The bad inputs a user meets, each a clear Error naming the file and the line (or byte offset).
class BadInputs : public ::testing::Test {
 protected:
  std::string load_error(const std::string& file, const std::string& content, const std::string& split_yaml,
                         const std::string& extra = "") {
    path_ = dir_.write(file, content);
    const std::string yaml = "splits: {train: {path: '" + path_ + "'" + split_yaml + "}}\n" + extra;
    return error_of([&] { Dataset::load(config_from_yaml(yaml)); });
  }
  TempDir dir_;
  std::string path_;
};

TEST_F(BadInputs, MissingColumn) {
  const std::string msg = load_error("a.tsv", "sentence\tlabel\nx\t1\n", "", "fields: {text_a: text, label: label}\n");
  EXPECT_CONTAINS(msg, "data.fields.text_a: missing column 'text' for field text_a in '" + path_ + "' (line 1)");
  EXPECT_CONTAINS(msg, "its columns are: sentence, label");
}

TEST_F(BadInputs, LabelNotInTheMap) {
  const std::string msg = load_error("a.tsv", "sentence\tlabel\nx\t1\ny\t2\n", "",
                                     "fields: {text_a: sentence, label: label}\nlabel_map: {0: neg, 1: pos}\n");
  EXPECT_CONTAINS(msg, path_ + ":3: label '2' is not in label_map (data (test.yaml)); known labels: 0, 1");
}

TEST_F(BadInputs, EmptyFileAndHeaderOnly) {
  EXPECT_CONTAINS(load_error("a.tsv", "", "", "fields: {text_a: 0}\n"),
                  "data file '" + path_ + "' for data.splits.train (test.yaml) is empty");
  EXPECT_CONTAINS(load_error("b.tsv", "sentence\tlabel\n", "", "fields: {text_a: sentence}\n"),
                  "data file '" + path_ + "' for data.splits.train (test.yaml) has no data rows (only a header line)");
  EXPECT_CONTAINS(load_error("c.jsonl", "\n\n", "", "fields: {text_a: a}\n"), "has no data rows (only blank lines)");
}

TEST_F(BadInputs, InvalidUtf8WithByteOffset) {
  const std::string msg = load_error("t.all", "0 fine\n1 caf\xE9 au lait\n", ", format: prefix_label",
                                     "fields: {text_a: text, label: label}\n");
  EXPECT_CONTAINS(msg, "invalid UTF-8 in '" + path_ + "' line 2 at byte offset 12");
  EXPECT_CONTAINS(msg, "set encoding: latin-1");
  // The same file is fine as latin-1.
  dir_.write("t2.all", "0 fine\n1 caf\xE9 au lait\n");
  const Dataset ds = Dataset::load(config_from_yaml(
      "splits: {train: {path: '" + dir_.path() + "/t2.all', format: prefix_label, encoding: latin-1}}\n"
      "fields: {text_a: text, label: label}\n"));
  EXPECT_EQ(ds.split("train")[1].text_a, "caf\xC3\xA9 au lait");
}

TEST_F(BadInputs, MalformedJsonLine) {
  const std::string msg = load_error("a.jsonl", "{\"a\": \"x\"}\n{\"a\": \"y\"\n", "", "fields: {text_a: a}\n");
  EXPECT_CONTAINS(msg, path_ + ":2: malformed JSON at column");
}

TEST_F(BadInputs, CsvUnterminatedQuote) {
  const std::string msg = load_error("a.csv", "text,label\n\"ok\",1\n\"open,0\nmore,1\n", "", "fields: {text_a: text}\n");
  EXPECT_CONTAINS(msg, "'" + path_ + "' line 3: unterminated quoted field");
}

TEST_F(BadInputs, MissingFileNamesTheConfigKey) {
  const std::string msg = error_of([] {
    Dataset::load(config_from_yaml("splits: {train: {path: /no/such/train.tsv}}\nfields: {text_a: s}\n"));
  });
  EXPECT_CONTAINS(msg, "data file '/no/such/train.tsv' not found for data.splits.train (test.yaml)");
}

TEST(Dataset, SkipBadRowsCountsAndKeepsTheRest) {
  TempDir dir;
  const std::string path = dir.write("a.jsonl",
                                     "{\"t\": \"a\", \"l\": \"pos\"}\n{\"t\": \"b\", \"l\": \"maybe\"}\n{broken\n"
                                     "{\"l\": \"neg\"}\n{\"t\": \"e\", \"l\": \"neg\"}\n");
  const std::string yaml = "splits: {train: {path: '" + path + "'}}\nfields: {text_a: t, label: l}\nlabels: [neg, pos]\n";
  EXPECT_CONTAINS(error_of([&] { Dataset::load(config_from_yaml(yaml)); }), path + ":2: label 'maybe' is not one of labels");
  const Dataset ds = Dataset::load(config_from_yaml(yaml + "on_bad_row: skip\n"));
  const auto& rows = ds.split("train");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].text_a, "a");
  EXPECT_EQ(rows[1].text_a, "e");
  EXPECT_EQ(rows[1].index, 4);  // indices count the skipped rows
  const SplitReport& r = ds.report("train");
  EXPECT_EQ(r.rows_read, 5);
  EXPECT_EQ(r.skipped, 3);
  ASSERT_EQ(r.skip_reasons.size(), 3u);
  EXPECT_CONTAINS(r.skip_reasons[0], ":2: label 'maybe'");
  EXPECT_CONTAINS(r.skip_reasons[1], ":3: malformed JSON");
  EXPECT_CONTAINS(r.skip_reasons[2], ":4: missing key 't'");
  // A file whose rows are all bad is still an error.
  const std::string all_bad = dir.write("b.jsonl", "{broken\n{\"t\": 1, \"l\": \"x\"}\n");
  EXPECT_CONTAINS(error_of([&] {
                    Dataset::load(config_from_yaml("splits: {train: {path: '" + all_bad +
                                                   "'}}\nfields: {text_a: t, label: l}\nlabels: [neg]\non_bad_row: skip\n"));
                  }),
                  "all 2 rows of '" + all_bad + "'");
}

TEST(Dataset, StreamingShardsPartitionTheRows) {
  TempDir dir;
  std::string text;
  for (int i = 0; i < 23; ++i) text += "line " + std::to_string(i) + "\n";
  const std::string yaml = "splits: {train: {path: '" + dir.write("c.txt", text) + "'}}\nfields: {text_a: text}\n";
  const DatasetConfig cfg = config_from_yaml(yaml);
  for (ShardMode mode : {ShardMode::kStrided, ShardMode::kContiguous}) {
    std::multiset<int64_t> seen;
    std::size_t smallest = 100, largest = 0;
    for (int rank = 0; rank < 4; ++rank) {
      std::vector<int64_t> mine;
      const SplitReport r = stream_split(cfg, "train", Shard{rank, 4, mode}, [&](Example&& ex) {
        EXPECT_EQ(ex.text_a, "line " + std::to_string(ex.index));
        mine.push_back(ex.index);
        return true;
      });
      EXPECT_EQ(r.examples, int64_t(mine.size()));
      smallest = std::min(smallest, mine.size());
      largest = std::max(largest, mine.size());
      seen.insert(mine.begin(), mine.end());
      if (mode == ShardMode::kContiguous) {
        EXPECT_TRUE(std::is_sorted(mine.begin(), mine.end()));
      } else {
        for (int64_t i : mine) EXPECT_EQ(i % 4, rank);
      }
    }
    EXPECT_EQ(seen.size(), 23u);
    EXPECT_EQ(std::set<int64_t>(seen.begin(), seen.end()).size(), 23u);
    EXPECT_LE(largest - smallest, 1u);
  }
  // A limit applies before sharding; a sink returning false stops the read.
  int count = 0;
  stream_split(config_from_yaml(yaml + "limit: 10\n"), "train", Shard{1, 2, ShardMode::kContiguous}, [&](Example&& ex) {
    EXPECT_GE(ex.index, 5);
    EXPECT_LT(ex.index, 10);
    ++count;
    return true;
  });
  EXPECT_EQ(count, 5);
  count = 0;
  stream_split(cfg, "train", Shard{}, [&](Example&&) { return ++count < 3; });
  EXPECT_EQ(count, 3);
}

TEST(Dataset, SplitFromAndFewShot) {
  TempDir dir;
  std::string text;
  for (int i = 0; i < 100; ++i) text += std::to_string(i % 3) + " sentence " + std::to_string(i) + "\n";
  const std::string base = "splits: {train: {path: '" + dir.write("t.all", text) +
                           "', format: prefix_label}}\nfields: {text_a: text, label: label}\n"
                           "label_map: {0: a, 1: b, 2: c}\nsplit_from: {source: train, dev_fraction: 0.2, seed: 3}\n";
  const Dataset ds = Dataset::load(config_from_yaml(base));
  EXPECT_EQ(ds.split_names(), (std::vector<std::string>{"train", "dev"}));
  ASSERT_EQ(ds.split("dev").size(), 20u);
  ASSERT_EQ(ds.split("train").size(), 80u);
  std::set<int64_t> all;
  for (const auto& s : {"train", "dev"})
    for (const Example& e : ds.split(s)) all.insert(e.index);
  EXPECT_EQ(all.size(), 100u);
  // Loading only dev gives the same rows; another seed other rows.
  const Dataset only_dev = Dataset::load(config_from_yaml(base), {"dev"});
  EXPECT_EQ(only_dev.split_names(), (std::vector<std::string>{"dev"}));
  EXPECT_EQ(only_dev.split("dev")[7].index, ds.split("dev")[7].index);

  const std::string few = base + "few_shot: {k: 4, seed: 13}\n";
  const Dataset fs = Dataset::load(config_from_yaml(few));
  const auto& train = fs.split("train");
  ASSERT_EQ(train.size(), 12u);
  for (std::size_t i = 0; i < 12; ++i) EXPECT_EQ(train[i].label_id, int(i / 4));
  EXPECT_EQ(fs.split("dev").size(), 20u);  // few_shot.splits defaults to [train]
  EXPECT_CONTAINS(fs.report("train").note, "few-shot: 4 per class from 80 rows, seed 13");
  const Dataset fs2 = Dataset::load(config_from_yaml(few));
  const Dataset fs3 = Dataset::load(config_from_yaml(base + "few_shot: {k: 4, seed: 14}\n"));
  std::vector<int64_t> i1, i2, i3;
  for (const auto& e : train) i1.push_back(e.index);
  for (const auto& e : fs2.split("train")) i2.push_back(e.index);
  for (const auto& e : fs3.split("train")) i3.push_back(e.index);
  EXPECT_EQ(i1, i2);
  EXPECT_NE(i1, i3);
  // Few-shot splits stream through the same path (loaded whole, then sharded).
  int64_t streamed = 0;
  stream_split(config_from_yaml(few), "train", Shard{0, 2}, [&](Example&&) { return ++streamed > 0; });
  EXPECT_EQ(streamed, 6);
  EXPECT_CONTAINS(error_of([&] { Dataset::load(config_from_yaml(few), {"tran"}); }), "no split 'tran' in data (test.yaml) (did you mean train?)");
}

}  // namespace
}  // namespace ptlab::data
