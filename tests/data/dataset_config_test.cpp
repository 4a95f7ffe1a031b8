#include "framework/data/dataset_config.h"

#include "tests/data/data_test_support.h"

#include <gtest/gtest.h>

namespace ptlab::data {
namespace {
using testing::config_from_yaml;
using testing::error_of;

TEST(DatasetConfig, DecodesSplitsInOrderWithFormatOptions) {
  const DatasetConfig c = config_from_yaml(R"(
splits:
  train: {path: a/train.tsv}
  dev: {path: a/dev.x, format: prefix_label, encoding: latin-1}
  test: {path: t.csv, header: false, columns: [label, text], delimiter: ";", quote: none, limit: 5,
         fields: {text_a: text, label: label}}
fields: {text_a: sentence, label: label}
label_map: {0: negative, 1: positive}
on_bad_row: skip
few_shot: {k: 16, seed: 21}
)");
  ASSERT_EQ(c.splits.size(), 3u);
  EXPECT_EQ(c.split_names(), (std::vector<std::string>{"train", "dev", "test"}));
  EXPECT_EQ(c.splits[0].source.format, Format::kTsv);
  EXPECT_EQ(c.splits[1].source.format, Format::kPrefixLabel);
  EXPECT_EQ(c.splits[1].source.encoding, FileEncoding::kLatin1);
  const SourceConfig& t = c.splits[2].source;
  EXPECT_EQ(t.format, Format::kCsv);
  EXPECT_FALSE(t.header);
  EXPECT_EQ(t.delimiter, ';');
  EXPECT_EQ(t.quote, 0);
  EXPECT_EQ(c.limit_for(c.splits[2]), 5);
  EXPECT_FALSE(c.limit_for(c.splits[0]).has_value());
  EXPECT_EQ(c.fields_for(c.splits[2]).specs[0].source, "text");
  EXPECT_EQ(c.fields_for(c.splits[0]).specs[0].source, "sentence");
  EXPECT_EQ(c.label_map, (std::vector<std::pair<std::string, std::string>>{{"0", "negative"}, {"1", "positive"}}));
  EXPECT_EQ(c.on_bad_row, BadRowPolicy::kSkip);
  EXPECT_EQ(c.few_shot.k, 16);
  EXPECT_EQ(c.few_shot.seed, 21u);
  EXPECT_EQ(c.few_shot.splits, (std::vector<std::string>{"train"}));
  EXPECT_EQ(c.dev_split, "dev");
  EXPECT_EQ(c.test_split, "test");
  EXPECT_EQ(c.splits[0].source.config_where, "data.splits.train (test.yaml)");
}

TEST(DatasetConfig, SplitFromAddsASplit) {
  const DatasetConfig c = config_from_yaml(R"(
splits: {train: {path: t.txt}, test: {path: s.txt}}
fields: {text_a: text}
split_from: {source: train, dev_fraction: 0.2, seed: 4}
test_split: null
)");
  ASSERT_TRUE(c.split_from.has_value());
  EXPECT_EQ(c.split_from->name, "dev");
  EXPECT_DOUBLE_EQ(c.split_from->dev_fraction, 0.2);
  EXPECT_EQ(c.split_from->seed, 4u);
  EXPECT_EQ(c.split_names(), (std::vector<std::string>{"train", "test", "dev"}));
  EXPECT_EQ(c.dev_split, "dev");
  EXPECT_EQ(c.test_split, "");
}

TEST(DatasetConfig, TrainAndUnlabeledSplitsNameSplits) {
  const DatasetConfig plain = config_from_yaml("splits: {train: {path: t.tsv}}\nfields: {text_a: s}\n");
  EXPECT_EQ(plain.train_split, "train");
  EXPECT_EQ(plain.unlabeled_split, "");
  const DatasetConfig c = config_from_yaml(R"(
splits: {train: {path: t.tsv}, few: {path: f.tsv}, pool: {path: p.tsv}, dev: {path: d.tsv}}
fields: {text_a: s}
train_split: few
unlabeled_split: pool
)");
  EXPECT_EQ(c.train_split, "few");
  EXPECT_EQ(c.unlabeled_split, "pool");
  auto err = [](const std::string& yaml) { return error_of([&] { config_from_yaml(yaml); }); };
  const std::string base = "splits: {train: {path: t.tsv}, few: {path: f.tsv}}\nfields: {text_a: s}\n";
  EXPECT_CONTAINS(err(base + "train_split: fwe\n"), "data.train_split: no split 'fwe' (from test.yaml); splits: train, few");
  EXPECT_CONTAINS(err(base + "unlabeled_split: pol\n"), "data.unlabeled_split: no split 'pol'");
}

TEST(DatasetConfig, ErrorsNameTheKeyAndOrigin) {
  auto err = [](const std::string& yaml) { return error_of([&] { config_from_yaml(yaml); }); };
  const std::string base = "splits: {train: {path: t.tsv}}\nfields: {text_a: s}\n";
  EXPECT_CONTAINS(err(base + "lable_map: {0: a}\n"), "unknown key 'data.lable_map' (test.yaml); did you mean data.label_map?");
  EXPECT_CONTAINS(err("splits: {train: {path: t.tsv, encodng: latin-1}}\nfields: {text_a: s}\n"),
                  "unknown key 'data.splits.train.encodng'");
  EXPECT_CONTAINS(err("splits: {train: {path: t.data}}\nfields: {text_a: s}\n"),
                  "data.splits.train.path (from test.yaml): cannot tell the format of 't.data'");
  EXPECT_CONTAINS(err("splits: {train: {path: t.jsonl, delimiter: ','}}\nfields: {text_a: s}\n"),
                  "data.splits.train.delimiter: 'delimiter' applies to tsv and csv files only, this split's format is jsonl");
  EXPECT_CONTAINS(err("splits: {train: {path: t.tsv}}\n"), "split 'train' maps no fields");
  EXPECT_CONTAINS(err("splits: {}\nfields: {text_a: s}\n"), "data (test.yaml): no splits");
  EXPECT_CONTAINS(err(base + "on_bad_row: ignore\n"), "data.on_bad_row: on_bad_row must be error or skip, got 'ignore'");
  EXPECT_CONTAINS(err(base + "split_from: {source: trainn}\n"),
                  "data.split_from.source: no split 'trainn' to split from (did you mean train?) (from test.yaml); splits: train");
  EXPECT_CONTAINS(err(base + "split_from: {source: train, dev_fraction: 1.5}\n"), "data.split_from.dev_fraction: must be between 0 and 1");
  EXPECT_CONTAINS(err(base + "few_shot: {k: 4, splits: [dev]}\n"), "data.few_shot.splits[0]: no split 'dev'");
  EXPECT_CONTAINS(err(base + "few_shot: {k: -1}\n"), "data.few_shot.k: must be 0 or more, got -1");
  EXPECT_CONTAINS(err(base + "limit: 0\n"), "data.limit: must be positive, got 0");
  EXPECT_CONTAINS(err(base + "test_split: tset\n"), "data.test_split: no split 'tset'");
  EXPECT_CONTAINS(err(base + "labels: {a: 1}\n"), "data.labels: expected a list");
}

}  // namespace
}  // namespace ptlab::data
