#include "framework/config/defaults_list.h"

#include "tests/config/config_tree.h"

#include <gtest/gtest.h>

namespace ptlab::config {
namespace {
using testing::ConfigTree;
using testing::error_of;
using testing::fixture_dir;

DefaultsList build(const std::string& dir, const std::vector<std::string>& overrides) {
  std::vector<Override> parsed;
  for (const auto& o : overrides) parsed.push_back(parse_override(o));
  return build_defaults_list(dir, "config", parsed);
}

// "origin@package" per item, origin relative to the config dir.
std::vector<std::string> summary(const DefaultsList& list, const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& item : list.items) out.push_back(item.origin.substr(dir.size() + 1) + "@" + item.package);
  return out;
}

TEST(ConfigDefaultsList, FixtureOrderPackagesAndChoices) {
  auto list = build(fixture_dir(), {});
  EXPECT_EQ(summary(list, fixture_dir()),
            (std::vector<std::string>{"model/tiny.yaml@model", "method/prompt_tuning.yaml@method",
                                      "trainer/default.yaml@trainer", "config.yaml@"}));
  EXPECT_EQ(list.choices, (std::map<std::string, std::string>{
                              {"method", "prompt_tuning"}, {"model", "tiny"}, {"trainer", "default"}}));
}

TEST(ConfigDefaultsList, GroupFileWithItsOwnDefaultsAndPlainConfig) {
  auto list = build(fixture_dir(), {"model=small", "trainer=fast"});
  EXPECT_EQ(
      summary(list, fixture_dir()),
      (std::vector<std::string>{"model/tiny.yaml@model", "model/small.yaml@model", "method/prompt_tuning.yaml@method",
                                "trainer/default.yaml@trainer", "trainer/fast.yaml@trainer", "config.yaml@"}));
  EXPECT_EQ(list.choices.at("model"), "small");
}

TEST(ConfigDefaultsList, ExperimentPatternOverridesEarlierChoices) {
  auto list = build(fixture_dir(), {"+experiment=scale"});
  EXPECT_EQ(
      summary(list, fixture_dir()),
      (std::vector<std::string>{"model/tiny.yaml@model", "model/small.yaml@model", "method/prefix_tuning.yaml@method",
                                "trainer/default.yaml@trainer", "config.yaml@", "experiment/scale.yaml@"}));
  EXPECT_EQ(list.choices.at("model"), "small");
  EXPECT_EQ(list.choices.at("experiment"), "scale");
  // The command line beats the experiment's `override` entry.
  auto cli = build(fixture_dir(), {"+experiment=scale", "model=local"});
  EXPECT_EQ(cli.choices.at("model"), "local");
  EXPECT_EQ(cli.choices.at("method"), "prefix_tuning");
}

TEST(ConfigDefaultsList, DeleteGroup) {
  auto list = build(fixture_dir(), {"~method"});
  EXPECT_EQ(list.choices.count("method"), 0u);
  EXPECT_EQ(list.items.size(), 3u);
  build(fixture_dir(), {"~method=prompt_tuning"});  // matches the choice: fine
  EXPECT_CONTAINS(error_of([] { build(fixture_dir(), {"~method=prefix_tuning"}); }),
                  "config group 'method' has option 'prompt_tuning', not 'prefix_tuning'");
  EXPECT_CONTAINS(error_of([] { build(fixture_dir(), {"~experiment"}); }),
                  "override '~experiment': config group 'experiment' is not in the defaults list");
}

TEST(ConfigDefaultsList, UnknownOptionSuggestsAndListsOptions) {
  std::string m = error_of([] { build(fixture_dir(), {"method=prefix_tunin"}); });
  EXPECT_CONTAINS(m,
                  "unknown option 'prefix_tunin' for group 'method' (from override 'method=prefix_tunin'); "
                  "did you mean method=prefix_tuning? options: p_tuning_v2, prefix_tuning, prompt_tuning");
  ConfigTree tree;
  tree.write("config.yaml", "defaults:\n  - db: mysq\n");
  tree.write("db/mysql.yaml", "x: 1\n");
  EXPECT_CONTAINS(error_of([&] { build(tree.dir(), {}); }), "unknown option 'mysq' for group 'db' (in " + tree.dir() +
                                                                "/config.yaml:2:5); did you mean db=mysql?");
}

TEST(ConfigDefaultsList, AppendAndOverrideRules) {
  EXPECT_CONTAINS(error_of([] { build(fixture_dir(), {"+model=small"}); }),
                  "config group 'model' is already in the defaults list");
  EXPECT_CONTAINS(error_of([] { build(fixture_dir(), {"experiment=scale"}); }),
                  "config group 'experiment' is not in the defaults list; to add it use +experiment=scale");
  EXPECT_CONTAINS(error_of([] { build(fixture_dir(), {"++model=small"}); }), "++ (force-add) is not supported");
  EXPECT_CONTAINS(error_of([] { build(fixture_dir(), {"model=null"}); }), "config group 'model' takes one option name");
  // A null placeholder can be filled from the command line.
  EXPECT_EQ(build(fixture_dir(), {"sweep=grid"}).choices.at("sweep"), "grid");
}

TEST(ConfigDefaultsList, SelfPositionAndMandatoryChoice) {
  ConfigTree tree;
  tree.write("config.yaml", "defaults:\n  - _self_\n  - db: ???\nx: 1\n");
  tree.write("db/a.yaml", "y: 1\n");
  tree.write("db/b.yaml", "y: 2\n");
  EXPECT_CONTAINS(error_of([&] { build(tree.dir(), {}); }), "no option chosen for config group 'db' (in " + tree.dir() +
                                                                "/config.yaml:3:5); pick one with "
                                                                "db=<option>; options: a, b");
  auto list = build(tree.dir(), {"db=b"});
  EXPECT_EQ(summary(list, tree.dir()), (std::vector<std::string>{"config.yaml@", "db/b.yaml@db"}));
}

TEST(ConfigDefaultsList, PackagesNestedGroupsAndHeaders) {
  ConfigTree tree;
  tree.write("config.yaml",
             "defaults:\n  - server: apache\n  - db@backup: mysql\n  - other\n  - /extra/thing@deep.place\n");
  tree.write("server/apache.yaml", "defaults:\n  - db: pg\nport: 80\n");
  tree.write("server/db/pg.yaml", "kind: pg\n");
  tree.write("db/mysql.yaml", "kind: mysql\n");
  tree.write("db/pg.yaml", "kind: pg\n");
  tree.write("other.yaml", "top: 1\n");
  tree.write("extra/thing.yaml", "# @package pinned.here\nv: 1\n");
  auto list = build(tree.dir(), {"db@backup=pg", "server/db=pg"});
  EXPECT_EQ(summary(list, tree.dir()),
            (std::vector<std::string>{"server/db/pg.yaml@server.db", "server/apache.yaml@server", "db/pg.yaml@backup",
                                      "other.yaml@", "extra/thing.yaml@deep.place", "config.yaml@"}));
  EXPECT_EQ(list.choices.at("db@backup"), "pg");
  EXPECT_EQ(list.choices.at("server/db"), "pg");
  // Without an explicit package, the header decides (and it is absolute).
  tree.write("config.yaml", "defaults:\n  - /extra/thing\n");
  EXPECT_EQ(summary(build(tree.dir(), {}), tree.dir()),
            (std::vector<std::string>{"extra/thing.yaml@pinned.here", "config.yaml@"}));
}

TEST(ConfigDefaultsList, OverrideInThePrimaryAndImplicitSelfInGroupFiles) {
  ConfigTree tree;
  tree.write("config.yaml", "defaults:\n  - db: a\n  - override db: b\n");
  tree.write("db/a.yaml", "defaults:\n  - base\nx: a\n");
  tree.write("db/b.yaml", "defaults:\n  - base\nx: b\n");
  tree.write("db/base.yaml", "x: base\n");
  auto list = build(tree.dir(), {});
  // db/b's own content comes after its defaults (implicit _self_ last), the primary's after everything.
  EXPECT_EQ(summary(list, tree.dir()), (std::vector<std::string>{"db/base.yaml@db", "db/b.yaml@db", "config.yaml@"}));
  EXPECT_EQ(list.choices.at("db"), "b");
  EXPECT_EQ(build(tree.dir(), {"db=a"}).choices.at("db"), "a");  // the command line beats `override`
}

TEST(ConfigDefaultsList, OptionalAndStructuralErrors) {
  ConfigTree tree;
  tree.write("config.yaml", "defaults:\n  - optional db: none\n  - _self_\n");
  EXPECT_EQ(build(tree.dir(), {}).items.size(), 1u);
  tree.write("db/x.yaml", "k: 1\n");
  EXPECT_EQ(build(tree.dir(), {"db=x"}).items.size(), 2u);  // optional, and present: loaded
  tree.write("config.yaml", "defaults:\n  - _self_\n  - _self_\n");
  EXPECT_CONTAINS(error_of([&] { build(tree.dir(), {}); }), "_self_ appears 2 times");
  tree.write("config.yaml", "defaults:\n  - db: a\n  - override db: b\n  - other: c\n");
  tree.write("db/a.yaml", "");
  tree.write("db/b.yaml", "");
  EXPECT_CONTAINS(error_of([&] { build(tree.dir(), {}); }), "override entries must come at the end");
  tree.write("config.yaml", "defaults:\n  - db: a\n  - override dbb: b\n");
  EXPECT_CONTAINS(error_of([&] { build(tree.dir(), {}); }), "'override dbb: b' matches no entry of the defaults list");
  tree.write("config.yaml", "defaults:\n  - loop_a\n");
  tree.write("loop_a.yaml", "defaults:\n  - loop_b\n");
  tree.write("loop_b.yaml", "defaults:\n  - loop_a\n");
  EXPECT_CONTAINS(error_of([&] { build(tree.dir(), {}); }), "cycle: config -> loop_a -> loop_b -> loop_a");
  tree.write("config.yaml", "defaults:\n  - db: a\n  - db: b\n");
  EXPECT_CONTAINS(error_of([&] { build(tree.dir(), {}); }), "config group 'db' is listed twice");
  tree.write("config.yaml", "defaults:\n  - nothing_here\n");
  EXPECT_CONTAINS(error_of([&] { build(tree.dir(), {}); }), "config 'nothing_here' not found");
  tree.write("config.yaml", "defaults:\n  - nogroup: x\n");
  EXPECT_CONTAINS(error_of([&] { build(tree.dir(), {}); }), "config group 'nogroup' does not exist");
  EXPECT_CONTAINS(error_of([&] { build_defaults_list(tree.dir(), "absent", {}); }), "primary config");
  EXPECT_CONTAINS(error_of([&] { build_defaults_list(tree.dir() + "/missing_dir", "config", {}); }),
                  "config directory");
}

}  // namespace
}  // namespace ptlab::config
