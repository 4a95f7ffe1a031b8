#include "framework/data/field_map.h"

#include "tests/data/data_test_support.h"

#include <gtest/gtest.h>

namespace ptlab::data {
namespace {
using testing::error_of;
using testing::row_error_of;
using testing::TempDir;

FieldMap map_from(const std::string& yaml) {
  static config::Origins origins;
  origins = config::Origins();
  YAML::Node node = YAML::Load(yaml);
  origins.set_subtree("data.fields", node, "test.yaml");
  return FieldMap::decode(config::Reader(node, "data.fields", origins), origins);
}

TEST(FieldMap, DecodesTargetsAndBothMetaSpellings) {
  const FieldMap m = map_from("{text_a: sentence, label: 1, meta.idx: idx, meta: {title: info/title}}");
  ASSERT_EQ(m.specs.size(), 4u);
  EXPECT_EQ(m.specs[0].field, Field::kTextA);
  EXPECT_EQ(m.specs[0].source, "sentence");
  EXPECT_EQ(m.specs[1].source, "1");
  EXPECT_EQ(m.specs[2].field, Field::kMeta);
  EXPECT_EQ(m.specs[2].meta_key, "idx");
  EXPECT_EQ(m.specs[3].meta_key, "title");
  EXPECT_EQ(m.specs[3].config_key, "data.fields.meta.title");
  EXPECT_TRUE(m.has(Field::kLabel));
  EXPECT_FALSE(m.has(Field::kTarget));
}

TEST(FieldMap, UnknownTargetIsAnError) {
  const std::string msg = error_of([] { map_from("{text_c: x}"); });
  EXPECT_CONTAINS(msg, "data.fields.text_c: unknown field 'text_c' (did you mean text_a");
  EXPECT_CONTAINS(msg, "(from test.yaml)");
}

TEST(FieldExtractor, ColumnsByNameAndIndex) {
  TempDir dir;
  auto reader = open_row_reader(SourceConfig::with_defaults(dir.write("a.tsv", "s1\ts2\tlab\nA\tB\t1\n"), Format::kTsv));
  const FieldExtractor ex(map_from("{text_a: s1, text_b: 1, label: lab}"), *reader);
  RawRow row;
  ASSERT_TRUE(reader->next(row));
  Example e;
  ex.extract(row, e);
  EXPECT_EQ(e.text_a, "A");
  EXPECT_EQ(e.text_b, "B");
  EXPECT_EQ(e.label, "1");
  EXPECT_EQ(e.source.line, 2);
  EXPECT_EQ(e.index, 0);
}

TEST(FieldExtractor, MissingColumnNamesFileColumnsAndClosest) {
  TempDir dir;
  const std::string path = dir.write("a.tsv", "sentence\tlabel\nA\t1\n");
  auto reader = open_row_reader(SourceConfig::with_defaults(path, Format::kTsv));
  const std::string msg = error_of([&] { FieldExtractor(map_from("{text_a: sentense}"), *reader); });
  EXPECT_CONTAINS(msg, "data.fields.text_a: missing column 'sentense' for field text_a in '" + path + "' (line 1)");
  EXPECT_CONTAINS(msg, "did you mean sentence?");
  EXPECT_CONTAINS(msg, "its columns are: sentence, label");
  EXPECT_CONTAINS(error_of([&] { FieldExtractor(map_from("{text_a: 5}"), *reader); }), "column index 5 is out of range");
}

TEST(FieldExtractor, HeaderlessFileNeedsIndices) {
  TempDir dir;
  auto src = SourceConfig::with_defaults(dir.write("a.tsv", "A\t1\nB\n"), Format::kTsv);
  src.header = false;
  auto reader = open_row_reader(src);
  EXPECT_CONTAINS(error_of([&] { FieldExtractor(map_from("{text_a: text}"), *reader); }),
                  "has no header (header: false), so column 'text' cannot be found by name");
  const FieldExtractor ex(map_from("{text_a: 0, label: 1}"), *reader);
  RawRow row;
  Example e;
  ASSERT_TRUE(reader->next(row));
  ex.extract(row, e);
  EXPECT_EQ(e.label, "1");
  ASSERT_TRUE(reader->next(row));
  EXPECT_CONTAINS(row_error_of([&] { ex.extract(row, e); }), ":2: the row has 1 field, field label needs column 1");
}

TEST(FieldExtractor, JsonKeysNestedPathsAndTypes) {
  TempDir dir;
  const std::string path = dir.write(
      "a.jsonl",
      "{\"q\": \"why\", \"info\": {\"title\": \"T\", \"ids\": [7, 8]}, \"label\": false, \"toks\": [\"a\", \"b\"], "
      "\"tags\": \"x y\"}\n"
      "{\"q\": \"no label\", \"info\": {}, \"toks\": [], \"tags\": \"\"}\n"
      "{\"q\": {\"nested\": 1}, \"info\": {\"title\": null}, \"label\": 1, \"toks\": [1], \"tags\": \"\"}\n");
  auto reader = open_row_reader(SourceConfig::with_defaults(path, Format::kJsonLines));
  const FieldExtractor ex(
      map_from("{text_a: q, label: label, meta.title: info/title, meta.id: info/ids/1, tokens: toks, tags: tags}"), *reader);
  RawRow row;
  Example e;
  ASSERT_TRUE(reader->next(row));
  ex.extract(row, e);
  EXPECT_EQ(e.text_a, "why");
  EXPECT_EQ(e.label, "false");
  EXPECT_EQ(e.meta.at("title"), "T");
  EXPECT_EQ(e.meta.at("id"), "8");
  EXPECT_EQ(e.tokens, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(e.tags, (std::vector<std::string>{"x", "y"}));

  ASSERT_TRUE(reader->next(row));
  EXPECT_CONTAINS(row_error_of([&] {
    Example fresh;
    ex.extract(row, fresh);
  }),
                  path + ":2: missing key 'label' for field label (keys of the row: info, q, tags, toks)");

  const FieldExtractor only_title(map_from("{text_a: q, meta.title: info/title}"), *reader);
  EXPECT_CONTAINS(row_error_of([&] { only_title.extract(row, e); }), "missing key 'info/title' for field meta.title");

  ASSERT_TRUE(reader->next(row));
  const FieldExtractor text_only(map_from("{text_a: q}"), *reader);
  EXPECT_CONTAINS(row_error_of([&] { text_only.extract(row, e); }), ":3: field text_a: expected a string, 'q' is a JSON object");
  const FieldExtractor title(map_from("{text_a: info/title}"), *reader);
  EXPECT_CONTAINS(row_error_of([&] { title.extract(row, e); }), "field text_a: 'info/title' is null");
  const FieldExtractor toks(map_from("{tokens: toks}"), *reader);
  EXPECT_CONTAINS(row_error_of([&] { toks.extract(row, e); }), "item 0 of 'toks' is a JSON number, expected a string");
}

TEST(FieldExtractor, TokensAndTagsMustAlign) {
  TempDir dir;
  const std::string path = dir.write("a.jsonl", "{\"tokens\": [\"a\", \"b\"], \"tags\": [\"x\"]}\n");
  auto reader = open_row_reader(SourceConfig::with_defaults(path, Format::kJsonLines));
  const FieldExtractor ex(map_from("{tokens: tokens, tags: tags}"), *reader);
  RawRow row;
  ASSERT_TRUE(reader->next(row));
  Example e;
  EXPECT_CONTAINS(row_error_of([&] { ex.extract(row, e); }), ":1: 2 tokens but 1 tags");
}

}  // namespace
}  // namespace ptlab::data
