#include "framework/config/config_file.h"

#include "tests/config/config_tree.h"

#include <gtest/gtest.h>

namespace ptlab::config {
namespace {
using testing::ConfigTree;
using testing::error_of;
using testing::fixture_dir;
using Kind = DefaultsEntry::Kind;

TEST(ConfigFile, ReadsTheDefaultsListAndContent) {
  ConfigFile f = load_config_file(fixture_dir(), "config");
  EXPECT_EQ(f.path, fixture_dir() + "/config.yaml");
  ASSERT_EQ(f.defaults.size(), 6u);
  EXPECT_EQ(f.defaults[0].kind, Kind::kGroup);
  EXPECT_EQ(f.defaults[0].name, "model");
  EXPECT_EQ(f.defaults[0].option, "tiny");
  EXPECT_TRUE(f.defaults[3].optional);
  EXPECT_EQ(f.defaults[3].name, "task");
  EXPECT_FALSE(f.defaults[4].option.has_value());  // sweep: null
  EXPECT_EQ(f.defaults[5].kind, Kind::kSelf);
  EXPECT_CONTAINS(f.defaults[1].source, "config.yaml:4:");
  EXPECT_FALSE(f.content["defaults"].IsDefined());
  EXPECT_EQ(f.content["seed"].Scalar(), "0");
  EXPECT_FALSE(f.package_header.has_value());
}

TEST(ConfigFile, ReadsPackageHeaderOverridesAndPackages) {
  ConfigFile exp = load_config_file(fixture_dir(), "experiment/scale");
  EXPECT_EQ(exp.package_header, "_global_");
  ASSERT_EQ(exp.defaults.size(), 2u);
  EXPECT_TRUE(exp.defaults[0].is_override);
  EXPECT_EQ(exp.defaults[0].name, "/model");
  EXPECT_EQ(exp.defaults[0].option, "small");

  ConfigFile fast = load_config_file(fixture_dir(), "trainer/fast");
  ASSERT_EQ(fast.defaults.size(), 2u);
  EXPECT_EQ(fast.defaults[0].kind, Kind::kConfig);
  EXPECT_EQ(fast.defaults[0].name, "/trainer/default");
  EXPECT_EQ(fast.defaults[0].package, "_here_");
}

TEST(ConfigFile, GroupOptionsAreSorted) {
  EXPECT_EQ(group_options(fixture_dir(), "model"), (std::vector<std::string>{"local", "small", "tiny"}));
  EXPECT_TRUE(group_options(fixture_dir(), "nope").empty());
  EXPECT_TRUE(group_exists(fixture_dir(), "method"));
  EXPECT_FALSE(group_exists(fixture_dir(), "method.lr"));
  EXPECT_TRUE(config_exists(fixture_dir(), "model/tiny"));
  EXPECT_FALSE(config_exists(fixture_dir(), "model/huge"));
}

TEST(ConfigFile, BadYamlNamesFileLineAndColumn) {
  ConfigTree tree;
  tree.write("config.yaml", "a: 1\nb: [1, 2\nc: 3\n");
  std::string msg = error_of([&] { load_config_file(tree.dir(), "config"); });
  EXPECT_CONTAINS(msg, tree.dir() + "/config.yaml:3:");
  EXPECT_CONTAINS(msg, "bad YAML");
  tree.write("indent.yaml", "a: 1\n  b: 2\n");
  EXPECT_CONTAINS(error_of([&] { load_config_file(tree.dir(), "indent"); }), "indent.yaml:2:4: bad YAML");
}

TEST(ConfigFile, RejectsDuplicateKeysNonMappingsAndBadEntries) {
  ConfigTree tree;
  tree.write("dup.yaml", "a: 1\nb:\n  x: 1\n  x: 2\n");
  EXPECT_CONTAINS(error_of([&] { load_config_file(tree.dir(), "dup"); }), "dup.yaml:4:3: duplicate key 'x'");
  tree.write("list.yaml", "- 1\n- 2\n");
  EXPECT_CONTAINS(error_of([&] { load_config_file(tree.dir(), "list"); }), "must hold a mapping");
  tree.write("opts.yaml", "defaults:\n  - db: [a, b]\n");
  EXPECT_CONTAINS(error_of([&] { load_config_file(tree.dir(), "opts"); }), "lists of options are not supported");
  tree.write("kw.yaml", "defaults:\n  - optinal db: a\n");
  EXPECT_CONTAINS(error_of([&] { load_config_file(tree.dir(), "kw"); }), "'optinal' is no keyword");
  tree.write("notlist.yaml", "defaults: {db: a}\n");
  EXPECT_CONTAINS(error_of([&] { load_config_file(tree.dir(), "notlist"); }), "'defaults' must be a list");
  EXPECT_CONTAINS(error_of([&] { load_config_file(tree.dir(), "absent"); }), "cannot read config file");
}

TEST(ConfigFile, PackageHeaderOnlyInTheLeadingComments) {
  ConfigTree tree;
  tree.write("a.yaml", "# Some description\n\n# @package foo.bar\nx: 1\n");
  EXPECT_EQ(load_config_file(tree.dir(), "a").package_header, "foo.bar");
  tree.write("b.yaml", "# @package: _global_\nx: 1\n");
  EXPECT_EQ(load_config_file(tree.dir(), "b").package_header, "_global_");
  tree.write("c.yaml", "x: 1\n# @package late\n");
  EXPECT_FALSE(load_config_file(tree.dir(), "c").package_header.has_value());
}

TEST(ConfigFile, EmptyFileIsAnEmptyMapping) {
  ConfigTree tree;
  tree.write("empty.yaml", "# nothing here\n");
  ConfigFile f = load_config_file(tree.dir(), "empty");
  EXPECT_TRUE(f.content.IsMap());
  EXPECT_EQ(f.content.size(), 0u);
  EXPECT_TRUE(f.defaults.empty());
}

}  // namespace
}  // namespace ptlab::config

namespace ptlab::config {
namespace {

// A search path "user:builtin": the user's folder overlays the built-in configs file by file.
TEST(ConfigSearchPath, TheFirstDirectoryThatHasAFileWins) {
  testing::ConfigTree user, builtin;
  builtin.write("config.yaml", "defaults:\n  - task: a\n  - _self_\nx: 1\n");
  builtin.write("task/a.yaml", "name: builtin_a\n");
  builtin.write("task/b.yaml", "name: builtin_b\n");
  user.write("task/b.yaml", "name: user_b\n");
  user.write("task/mine.yaml", "name: user_mine\n");
  const std::string path = user.dir() + ":" + builtin.dir();

  EXPECT_EQ(search_path(path), (std::vector<std::string>{user.dir(), builtin.dir()}));
  EXPECT_EQ(search_path("configs"), (std::vector<std::string>{"configs"}));
  EXPECT_EQ(config_file_path(path, "config"), builtin.dir() + "/config.yaml");  // the user has none
  EXPECT_EQ(config_file_path(path, "task/b"), user.dir() + "/task/b.yaml");     // the user's overrides
  EXPECT_EQ(load_config_file(path, "task/b").content["name"].as<std::string>(), "user_b");
  EXPECT_TRUE(config_exists(path, "task/mine"));
  EXPECT_FALSE(config_exists(path, "task/nope"));
  EXPECT_TRUE(group_exists(path, "task"));
  EXPECT_FALSE(group_exists(path, "model"));
  // Options of a group over the whole path, each once.
  EXPECT_EQ(group_options(path, "task"), (std::vector<std::string>{"a", "b", "mine"}));
  // A file no directory has is named in the first one.
  EXPECT_EQ(config_file_path(path, "task/nope"), user.dir() + "/task/nope.yaml");
}

}  // namespace
}  // namespace ptlab::config
