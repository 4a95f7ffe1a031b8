#include "framework/config/compose.h"

#include "framework/config/tree.h"
#include "framework/config/yaml_value.h"
#include "tests/config/config_tree.h"

#include <gtest/gtest.h>

namespace ptlab::config {
namespace {
using testing::ConfigTree;
using testing::error_of;
using testing::fixture_dir;

Composed fixture(const std::vector<std::string>& overrides, bool resolve = true) {
  return compose(ComposeOptions{fixture_dir()}, overrides, resolve);
}

std::string at(const Composed& c, const std::string& path) {
  YAML::Node n = find_node(c.root, split_key_path(path));
  EXPECT_TRUE(n.IsDefined()) << path;
  return n.IsScalar() ? n.Scalar() : describe(n);
}

TEST(ConfigCompose, FixtureDefaultsMergeAndResolve) {
  Composed c = fixture({});
  EXPECT_EQ(at(c, "model.name"), "tiny");
  EXPECT_EQ(at(c, "method.lr"), "0.3");
  EXPECT_EQ(at(c, "trainer.steps"), "1_000");  // files keep their text; the Reader decodes 1_000
  EXPECT_EQ(at(c, "run_name"), "prompt_tuning-tiny");
  EXPECT_EQ(at(c, "output.dir"), "outputs/prompt_tuning-tiny");
  EXPECT_FALSE(c.root["sweep"].IsDefined());  // sweep: null
  EXPECT_FALSE(c.root["task"].IsDefined());   // optional and absent
  EXPECT_EQ(c.origins.of("model.d_model"), fixture_dir() + "/model/tiny.yaml");
  EXPECT_EQ(c.origins.of("seed"), fixture_dir() + "/config.yaml");
  EXPECT_EQ(c.choices.at("method"), "prompt_tuning");
  // The top-level order is the merge order: groups first, then the primary's own keys.
  std::vector<std::string> keys;
  for (auto it = c.root.begin(); it != c.root.end(); ++it) keys.push_back(it->first.Scalar());
  EXPECT_EQ(keys, (std::vector<std::string>{"model", "method", "trainer", "seed", "run_name", "output"}));
}

TEST(ConfigCompose, GroupChoicesAndExperiments) {
  Composed c = fixture({"method=prefix_tuning", "model=small"});
  EXPECT_EQ(at(c, "method.name"), "prefix_tuning");
  EXPECT_EQ(at(c, "model.d_model"), "128");
  EXPECT_EQ(at(c, "model.n_layers"), "2");  // from tiny, through small's defaults list
  EXPECT_EQ(at(c, "run_name"), "prefix_tuning-small");

  Composed e = fixture({"+experiment=scale"});
  EXPECT_EQ(at(e, "model.name"), "small");
  EXPECT_EQ(at(e, "method.name"), "prefix_tuning");
  EXPECT_EQ(at(e, "seed"), "7");            // the experiment merges after the primary
  EXPECT_EQ(at(e, "trainer.steps"), "50");  // a delta...
  EXPECT_EQ(at(e, "trainer.lr"), "1e-3");   // ...on top of the default trainer
  EXPECT_EQ(e.origins.of("trainer.steps"), fixture_dir() + "/experiment/scale.yaml");

  Composed q = fixture({"+experiment=quick"});
  EXPECT_EQ(at(q, "trainer.steps"), "10");          // trainer=fast, chosen by the experiment
  EXPECT_EQ(at(q, "trainer.optim.name"), "adamw");  // fast starts from default (@_here_)
  EXPECT_EQ(at(q, "method.prompt_len"), "4");
}

TEST(ConfigCompose, ValueOverrides) {
  Composed c = fixture({"trainer.lr=3", "+trainer.extra=1", "++trainer.steps=5", "++new.deep.key=x",
                        "~trainer.schedule", "~trainer.batch_size=8", "trainer.optim.betas=[0.8,0.9]"});
  EXPECT_EQ(at(c, "trainer.lr"), "3");
  EXPECT_EQ(c.origins.of("trainer.lr"), "override 'trainer.lr=3'");
  EXPECT_EQ(at(c, "trainer.extra"), "1");
  EXPECT_EQ(at(c, "trainer.steps"), "5");
  EXPECT_EQ(at(c, "new.deep.key"), "x");
  EXPECT_FALSE(c.root["trainer"]["schedule"].IsDefined());
  EXPECT_FALSE(c.root["trainer"]["batch_size"].IsDefined());
  EXPECT_EQ(at(c, "trainer.optim.betas"), "[0.8, 0.9]");
  EXPECT_EQ(c.origins.of("trainer.optim.betas[1]"), "override 'trainer.optim.betas=[0.8,0.9]'");
}

TEST(ConfigCompose, DictOverridesMergeIntoExistingDicts) {
  Composed c = fixture({"trainer.optim={weight_decay:0.1,extra:{a:1}}", "model={d_model:256}"});
  EXPECT_EQ(at(c, "trainer.optim.name"), "adamw");
  EXPECT_EQ(at(c, "trainer.optim.weight_decay"), "0.1");
  EXPECT_EQ(at(c, "trainer.optim.extra.a"), "1");
  EXPECT_EQ(at(c, "model.name"), "tiny");  // `model` is a group, but a dict value is a value override
  EXPECT_EQ(at(c, "model.d_model"), "256");
}

TEST(ConfigCompose, ValueOverrideErrors) {
  std::string m = error_of([] { fixture({"trainer.lrr=3"}); });
  EXPECT_CONTAINS(m, "override 'trainer.lrr=3': key 'trainer.lrr' is not in the config; did you mean trainer.lr?");
  EXPECT_CONTAINS(m, "to add it use +trainer.lrr=3");
  EXPECT_CONTAINS(error_of([] { fixture({"trainr.lr=3"}); }), "did you mean trainer.lr?");
  m = error_of([] { fixture({"+trainer.lr=1"}); });
  EXPECT_CONTAINS(m, "key 'trainer.lr' already exists (= 1e-3 (from " + fixture_dir() + "/trainer/default.yaml))");
  EXPECT_CONTAINS(m, "use trainer.lr=1 (or ++trainer.lr=1");
  EXPECT_CONTAINS(error_of([] { fixture({"~trainer.batch_size=9"}); }),
                  "not deleting 'trainer.batch_size': its value is 8");
  EXPECT_CONTAINS(error_of([] { fixture({"~trainer.nope"}); }), "key 'trainer.nope' is not in the config");
  EXPECT_CONTAINS(error_of([] { fixture({"seed=1,2"}); }), "override 'seed=1,2' is a sweep; sweeps need -m/--multirun");
  EXPECT_CONTAINS(error_of([] { fixture({"nogroup@pkg=x"}); }), "looks like a config group override");
  EXPECT_CONTAINS(error_of([] { fixture({"method=prefix_tunin"}); }), "did you mean method=prefix_tuning?");
  EXPECT_CONTAINS(error_of([] { fixture({"trainer.lr=[1"}); }), "never closed");
}

TEST(ConfigCompose, SelfFirstLetsDefaultsWin) {
  ConfigTree tree;
  tree.write("config.yaml", "defaults:\n  - _self_\n  - db: a\ndb:\n  x: from_primary\n  y: 1\n");
  tree.write("db/a.yaml", "x: from_db\n");
  Composed c = compose(ComposeOptions{tree.dir()}, {});
  EXPECT_EQ(at(c, "db.x"), "from_db");
  EXPECT_EQ(at(c, "db.y"), "1");
  tree.write("config.yaml", "defaults:\n  - db: a\ndb:\n  x: from_primary\n");
  EXPECT_EQ(at(compose(ComposeOptions{tree.dir()}, {}), "db.x"), "from_primary");
}

TEST(ConfigCompose, MissingMandatoryValue) {
  std::string m = error_of([] { fixture({"model=local"}); });
  EXPECT_CONTAINS(m, "missing mandatory value 'model.path' (from " + fixture_dir() +
                         "/model/local.yaml); set it with model.path=...");
  Composed ok = fixture({"model=local", "model.path=/models/x"});
  EXPECT_EQ(at(ok, "model.path"), "/models/x");
  Composed unresolved = fixture({"model=local"}, false);  // allowed while unresolved
  EXPECT_EQ(at(unresolved, "model.path"), "???");
  EXPECT_EQ(at(unresolved, "run_name"), "${method.name}-${model.name}");
}

TEST(ConfigCompose, StringsStayStringsInOutput) {
  Composed c = fixture({"+tag='007'", "+flag=TRUE", "+empty="});
  std::string text = to_yaml(c.root);
  EXPECT_CONTAINS(text, "tag: \"007\"\n");
  EXPECT_CONTAINS(text, "flag: true\n");
  EXPECT_CONTAINS(text, "empty: \"\"\n");
}

TEST(ConfigCompose, NoAliasingBetweenCompositions) {
  Composed first = fixture({"+experiment=scale"});
  std::string before = to_yaml(first.root);
  Composed second = fixture({"+experiment=scale"});
  EXPECT_EQ(to_yaml(second.root), before);
  // Mutating one result never reaches a later composition (nor the other result).
  first.root["model"]["name"] = "mutated";
  first.root["trainer"]["optim"]["betas"].push_back(1);
  first.root.remove("seed");
  YAML::Node sub = first.root["method"];
  sub["lr"] = 42;
  EXPECT_EQ(to_yaml(second.root), before);
  EXPECT_EQ(to_yaml(fixture({"+experiment=scale"}).root), before);
  // An interpolated subtree is a copy, not a reference to its source.
  ConfigTree tree;
  tree.write("config.yaml", "a: {x: 1}\nb: ${a}\n");
  Composed c = compose(ComposeOptions{tree.dir()}, {});
  c.root["b"]["x"] = 2;
  EXPECT_EQ(at(c, "a.x"), "1");
}

TEST(ConfigCompose, ConfigDirProblems) {
  EXPECT_CONTAINS(error_of([] { compose(ComposeOptions{"/nonexistent/configs"}, {}); }),
                  "config directory '/nonexistent/configs' does not exist");
  EXPECT_CONTAINS(error_of([] { compose(ComposeOptions{fixture_dir(), "nope"}, {}); }), "primary config");
  ConfigTree tree;
  tree.write("config.yaml", "defaults:\n  - db: a\n");
  tree.write("db/a.yaml", "x: [1, 2\n");
  EXPECT_CONTAINS(error_of([&] { compose(ComposeOptions{tree.dir()}, {}); }), tree.dir() + "/db/a.yaml:2:1: bad YAML");
}

TEST(ConfigCompose, DefaultConfigDir) {
  unsetenv("PTLAB_CONFIG_DIR");
  // A working directory without configs/: the built-in configs alone; with one: it overlays them.
  const auto cwd = std::filesystem::current_path();
  {
    ConfigTree tree;
    std::filesystem::current_path(tree.dir());
    EXPECT_EQ(default_config_dir(), builtin_config_dir());
    tree.write("configs/task/mine.yaml", "type: classification\n");
    EXPECT_EQ(default_config_dir(), "configs:" + builtin_config_dir());
    std::filesystem::current_path(cwd);
  }
  setenv("PTLAB_CONFIG_DIR", "/x/y", 1);
  EXPECT_EQ(default_config_dir(), "/x/y");
  unsetenv("PTLAB_CONFIG_DIR");
}

}  // namespace
}  // namespace ptlab::config

namespace ptlab::config {
namespace {

TEST(ConfigSearchPath, ComposesAUsersTaskWithTheBuiltinPrimaryConfig) {
  testing::ConfigTree user;
  user.write("task/mine.yaml", "type: classification\nmax_length: 9\n");
  const std::string path = user.dir() + ":" + std::string(PTLAB_SOURCE_DIR) + "/configs";
  Composed c = compose(ComposeOptions{path}, {"task=mine"});
  EXPECT_EQ(c.root["task"]["max_length"].as<int>(), 9);
  EXPECT_EQ(c.choices.at("task"), "mine");
  EXPECT_TRUE(c.root["trainer"]["optimizer"].IsDefined());  // the built-in trainer group still composes
  // An unknown option lists the built-in ones and the user's.
  const std::string e = testing::error_of([&] { compose(ComposeOptions{path}, {"task=mne"}); });
  EXPECT_NE(e.find("mine"), std::string::npos) << e;
  EXPECT_NE(e.find("sst2"), std::string::npos) << e;
}

TEST(ConfigSearchPath, BuiltinConfigsOfABuildTree) {
  // Test binaries live in the build tree: their built-in configs are the sources' configs/.
  const std::string builtin = builtin_config_dir();
  ASSERT_FALSE(builtin.empty());
  EXPECT_TRUE(std::filesystem::is_regular_file(builtin + "/config.yaml")) << builtin;
}

}  // namespace
}  // namespace ptlab::config
