#include "framework/config/reader.h"

#include "framework/config/compose.h"
#include "tests/config/config_tree.h"

#include <gtest/gtest.h>

#include <cmath>

namespace ptlab::config {
namespace {
using testing::ConfigTree;
using testing::error_of;
using testing::fixture_dir;

Composed fixture(const std::vector<std::string>& overrides) {
  return compose(ComposeOptions{fixture_dir()}, overrides);
}

// A typical component config, decoded the way components do it.
struct TrainerConfig {
  double lr = 0;
  std::int64_t steps = 0;
  int batch_size = 0;
  std::string optim_name;
  std::vector<double> betas;
  double weight_decay = 0;
  std::map<std::string, std::string> schedule;
  bool resume = false;
};

TrainerConfig decode_trainer(const Composed& c) {
  TrainerConfig cfg;
  Reader r(c.root["trainer"], "trainer", c.origins);
  cfg.lr = r.get<double>("lr", 1.0);
  cfg.steps = r.require<std::int64_t>("steps");
  cfg.batch_size = r.get<int>("batch_size", 1);
  Reader optim = r.child("optim");
  cfg.optim_name = optim.require<std::string>("name");
  cfg.betas = optim.get<std::vector<double>>("betas", {});
  cfg.weight_decay = optim.get<double>("weight_decay", 0.0);
  cfg.schedule = r.get<std::map<std::string, std::string>>("schedule", {});
  cfg.resume = r.get<bool>("resume", false);
  r.finish();
  return cfg;
}

TEST(ConfigReader, DecodesTypedValuesWithDefaults) {
  TrainerConfig cfg = decode_trainer(fixture({}));
  EXPECT_DOUBLE_EQ(cfg.lr, 1e-3);
  EXPECT_EQ(cfg.steps, 1000);  // written 1_000
  EXPECT_EQ(cfg.batch_size, 8);
  EXPECT_EQ(cfg.optim_name, "adamw");
  EXPECT_EQ(cfg.betas, (std::vector<double>{0.9, 0.999}));
  EXPECT_EQ(cfg.schedule, (std::map<std::string, std::string>{{"kind", "linear"}, {"warmup", "100"}}));
  EXPECT_FALSE(cfg.resume);  // absent: the default
  TrainerConfig set = decode_trainer(fixture({"+trainer.resume=True", "trainer.lr=inf", "trainer.steps=20"}));
  EXPECT_TRUE(set.resume);
  EXPECT_TRUE(std::isinf(set.lr));
  EXPECT_EQ(set.steps, 20);
}

TEST(ConfigReader, UnknownKeyNamesOriginAndClosestKey) {
  std::string m = error_of([] { decode_trainer(fixture({"+trainer.lrr=3"})); });
  EXPECT_EQ(m, "unknown key 'trainer.lrr' (override '+trainer.lrr=3'); did you mean trainer.lr?");
  ConfigTree tree;
  tree.write("config.yaml", "defaults:\n  - trainer: default\n");
  tree.write("trainer/default.yaml", "lr: 1\nsteps: 2\noptim: {name: sgd, betass: [1]}\n");
  m = error_of([&] { decode_trainer(compose(ComposeOptions{tree.dir()}, {})); });
  EXPECT_EQ(m, "unknown key 'trainer.optim.betass' (" + tree.dir() +
                   "/trainer/default.yaml); did you mean trainer.optim.betas?");
  tree.write("trainer/default.yaml", "lr: 1\nsteps: 2\noptim: {name: sgd}\nzzz: 1\nqqq: 2\n");
  m = error_of([&] { decode_trainer(compose(ComposeOptions{tree.dir()}, {})); });
  EXPECT_CONTAINS(m, "unknown key 'trainer.zzz'");
  EXPECT_CONTAINS(m, "known keys: trainer.batch_size, trainer.lr");
  EXPECT_CONTAINS(m, "also unknown: trainer.qqq");
}

TEST(ConfigReader, TypeMismatchNamesKeyExpectedValueAndOrigin) {
  EXPECT_EQ(error_of([] { decode_trainer(fixture({"trainer.lr=abc"})); }),
            "trainer.lr: expected a float, got 'abc' (from override 'trainer.lr=abc')");
  EXPECT_EQ(error_of([] { decode_trainer(fixture({"trainer.steps=1.5"})); }),
            "trainer.steps: expected an int, got '1.5' (from override 'trainer.steps=1.5')");
  EXPECT_CONTAINS(error_of([] { decode_trainer(fixture({"trainer.batch_size=3000000000"})); }),
                  "trainer.batch_size: expected an int between");
  EXPECT_EQ(error_of([] { decode_trainer(fixture({"+trainer.resume=yes"})); }),
            "trainer.resume: expected a bool (true or false), got 'yes' (from override '+trainer.resume=yes')");
  EXPECT_CONTAINS(error_of([] { decode_trainer(fixture({"trainer.optim.betas=[0.9,x]"})); }),
                  "trainer.optim.betas[1]: expected a float, got 'x'");
  EXPECT_CONTAINS(error_of([] { decode_trainer(fixture({"trainer.optim.betas=0.9"})); }),
                  "trainer.optim.betas: expected a list, got '0.9'");
  EXPECT_CONTAINS(error_of([] { decode_trainer(fixture({"trainer.optim=null"})); }),
                  "missing required key 'trainer.optim.name'");
  EXPECT_CONTAINS(error_of([] { decode_trainer(fixture({"trainer.optim=5"})); }),
                  "trainer.optim: expected a mapping, got '5'");
  EXPECT_CONTAINS(error_of([] { decode_trainer(fixture({"trainer.schedule=[1]"})); }),
                  "trainer.schedule: expected a mapping, got a list [1]");
}

TEST(ConfigReader, RequiredKeysNullsOptionalsAndMissingValues) {
  Origins origins;
  origins.set("m", "configs/m.yaml");
  YAML::Node root = YAML::Load(
      "m:\n  a: null\n  n: 1_000\n  f: 3\n  i: .NaN\n  ok: FALSE\n  s: 12\n  must: ???\n  seq: [[1, 2], [3]]\n");
  Reader r(root["m"], "m", origins);
  EXPECT_FALSE(r.get<std::optional<int>>("a", 5).has_value());
  EXPECT_EQ(r.get<std::optional<int>>("n", std::nullopt), 1000);
  EXPECT_DOUBLE_EQ(r.get<double>("f", 0), 3.0);
  EXPECT_TRUE(std::isnan(r.get<double>("i", 0)));
  EXPECT_FALSE(r.get<bool>("ok", true));
  EXPECT_EQ(r.get<std::string>("s", ""), "12");
  EXPECT_EQ(r.get<std::vector<std::vector<int>>>("seq", {}), (std::vector<std::vector<int>>{{1, 2}, {3}}));
  EXPECT_EQ(error_of([&] { r.require<int>("absent"); }),
            "missing required key 'm.absent' (from configs/m.yaml); set it with +m.absent=...");
  EXPECT_EQ(error_of([&] { r.get<int>("must", 0); }),
            "missing mandatory value 'm.must' (from configs/m.yaml); set it with m.must=...");
  EXPECT_EQ(error_of([&] { r.get<std::string>("a", ""); }), "m.a: expected a string, got null (from configs/m.yaml)");
  EXPECT_TRUE(r.has("n"));
  EXPECT_FALSE(r.has("nothing"));
  r.finish();  // every key was asked for
  EXPECT_EQ(r.keys().size(), 8u);
  EXPECT_CONTAINS(error_of([&] { Reader bad(root["m"]["n"], "m.n", origins); }), "m.n: expected a mapping");
  Reader empty(YAML::Node(), "x", origins);
  EXPECT_EQ(empty.get<int>("y", 7), 7);
  empty.finish();
}

}  // namespace
}  // namespace ptlab::config
