#include "framework/config/tree.h"

#include "framework/config/yaml_value.h"
#include "tests/config/config_tree.h"

#include <gtest/gtest.h>

namespace ptlab::config {
namespace {
using testing::error_of;

TEST(ConfigKeyTree, SplitKeyPath) {
  EXPECT_EQ(split_key_path("a.b[0].c"), (std::vector<std::string>{"a", "b", "0", "c"}));
  EXPECT_EQ(split_key_path("a.b.0"), (std::vector<std::string>{"a", "b", "0"}));
  EXPECT_TRUE(split_key_path("").empty());
}

TEST(ConfigKeyTree, FindNodeNeverInserts) {
  YAML::Node root = YAML::Load("{a: {b: 1}, l: [10, 20]}");
  EXPECT_EQ(find_node(root, {"a", "b"}).Scalar(), "1");
  EXPECT_EQ(find_node(root, {"l", "1"}).Scalar(), "20");
  EXPECT_FALSE(find_node(root, {"a", "zz"}).IsDefined());
  EXPECT_FALSE(find_node(root, {"a", "b", "c"}).IsDefined());
  EXPECT_FALSE(find_node(root, {"l", "5"}).IsDefined());
  EXPECT_EQ(root["a"].size(), 1u);
  EXPECT_EQ(to_yaml(root), "a:\n  b: 1\nl:\n  - 10\n  - 20\n");
}

TEST(ConfigKeyTree, SetNodeCreatesMappingsAndCopies) {
  YAML::Node root = YAML::Load("{a: {b: 1}, l: [10, 20], s: 5}");
  YAML::Node value = YAML::Load("{x: 1}");
  EXPECT_EQ(set_node(root, {"a", "c", "d"}, value), "a.c.d");
  EXPECT_EQ(set_node(root, {"l", "1"}, make_plain("7")), "l[1]");
  EXPECT_EQ(set_node(root, {"s", "t"}, make_plain("1")), "s.t");  // a scalar in the way becomes a mapping
  value["x"] = 99;                                                // the tree holds a copy
  EXPECT_EQ(find_node(root, {"a", "c", "d", "x"}).Scalar(), "1");
  EXPECT_EQ(find_node(root, {"l", "1"}).Scalar(), "7");
  EXPECT_EQ(find_node(root, {"s", "t"}).Scalar(), "1");
  EXPECT_CONTAINS(error_of([&] { set_node(root, {"l", "9"}, make_plain("1")); }), "no index");
}

TEST(ConfigKeyTree, RemoveNode) {
  YAML::Node root = YAML::Load("{a: {b: 1, c: 2}, l: [10, 20, 30]}");
  EXPECT_TRUE(remove_node(root, {"a", "b"}));
  EXPECT_TRUE(remove_node(root, {"l", "1"}));
  EXPECT_FALSE(remove_node(root, {"a", "zz"}));
  EXPECT_FALSE(remove_node(root, {"l", "7"}));
  EXPECT_EQ(to_yaml(root), "a:\n  c: 2\nl:\n  - 10\n  - 30\n");
}

TEST(ConfigKeyTree, MergeIsDeepListsReplaceAndMissingDoesNotErase) {
  YAML::Node dst = YAML::Load("{a: {x: 1, y: [1, 2]}, keep: 1, must: 5}");
  YAML::Node src = YAML::Load("a: {y: [3], z: 2}\nmust: ???\nnew: {n: 1}\n");
  Origins origins;
  merge_node(dst, src, "", origins, "src.yaml");
  EXPECT_EQ(to_yaml(dst), "a:\n  x: 1\n  y:\n    - 3\n  z: 2\nkeep: 1\nmust: 5\nnew:\n  n: 1\n");
  EXPECT_EQ(origins.of("a.z"), "src.yaml");
  EXPECT_EQ(origins.of("new.n"), "src.yaml");
  EXPECT_EQ(origins.of("must"), "");  // not written
  // No aliasing: changing the merged tree leaves the source alone, and the other way round.
  dst["new"]["n"] = 5;
  src["a"]["z"] = 7;
  EXPECT_EQ(src["new"]["n"].Scalar(), "1");
  EXPECT_EQ(dst["a"]["z"].Scalar(), "2");
}

TEST(ConfigKeyTree, MissingMarksAnUnsetValue) {
  YAML::Node dst = YAML::Load("{a: null}");
  Origins origins;
  merge_node(dst, YAML::Load("a: ???\nb: ???\n"), "", origins, "f");
  EXPECT_TRUE(is_missing_value(dst["a"]));
  EXPECT_TRUE(is_missing_value(dst["b"]));
}

TEST(ConfigKeyTree, KeyPathsInDocumentOrder) {
  EXPECT_EQ(key_paths(YAML::Load("{b: {c: 1}, a: [x, {y: 1}]}")),
            (std::vector<std::string>{"b", "b.c", "a", "a[0]", "a[1]", "a[1].y"}));
}

}  // namespace
}  // namespace ptlab::config
