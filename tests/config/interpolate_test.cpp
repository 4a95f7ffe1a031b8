#include "framework/config/interpolate.h"

#include "framework/config/tree.h"
#include "framework/config/yaml_value.h"
#include "tests/config/config_tree.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>

namespace ptlab::config {
namespace {
using testing::error_of;

YAML::Node resolved(const std::string& yaml, const Origins& origins = Origins()) {
  YAML::Node root = YAML::Load(yaml);
  resolve_interpolations(root, origins);
  return root;
}

TEST(ConfigInterpolate, AbsoluteReferencesKeepTheTargetType) {
  YAML::Node r =
      resolved("a: {b: 1, f: 0.5, s: '1', t: true}\nx: ${a.b}\ny: ${a.f}\nz: ${a.s}\nw: ${a.t}\nv: n${a.b}\n");
  EXPECT_EQ(r["x"].Scalar(), "1");
  EXPECT_EQ(scalar_kind(r["x"]), ScalarKind::kInt);
  EXPECT_EQ(scalar_kind(r["y"]), ScalarKind::kFloat);
  EXPECT_EQ(scalar_kind(r["z"]), ScalarKind::kString);
  EXPECT_EQ(scalar_kind(r["w"]), ScalarKind::kBool);
  EXPECT_EQ(r["v"].Scalar(), "n1");
  EXPECT_EQ(scalar_kind(r["v"]), ScalarKind::kString);
  EXPECT_EQ(to_yaml(r["z"]), "\"1\"\n");
}

TEST(ConfigInterpolate, RelativeReferences) {
  YAML::Node r =
      resolved("top: 5\nouter:\n  x: 1\n  inner:\n    y: 2\n    sib: ${.y}\n    up: ${..x}\n    root: ${...top}\n");
  EXPECT_EQ(r["outer"]["inner"]["sib"].Scalar(), "2");
  EXPECT_EQ(r["outer"]["inner"]["up"].Scalar(), "1");
  EXPECT_EQ(r["outer"]["inner"]["root"].Scalar(), "5");
  EXPECT_CONTAINS(error_of([] { resolved("a: ${...x}\n"); }), "past the root");
}

TEST(ConfigInterpolate, StringNestedAndSubtree) {
  YAML::Node r = resolved(
      "host: localhost\nport: 8080\nurl: \"http://${host}:${port}/\"\n"
      "selected: b\nplans: {a: 1, b: 2}\nplan: ${plans.${selected}}\n"
      "base: {lr: 0.1, opt: {name: adam}}\ncopy: ${base}\n");
  EXPECT_EQ(r["url"].Scalar(), "http://localhost:8080/");
  EXPECT_EQ(r["plan"].Scalar(), "2");
  EXPECT_EQ(scalar_kind(r["plan"]), ScalarKind::kInt);
  ASSERT_TRUE(r["copy"].IsMap());
  EXPECT_EQ(r["copy"]["opt"]["name"].Scalar(), "adam");
  r["copy"]["opt"]["name"] = "sgd";  // a copy, not an alias
  EXPECT_EQ(r["base"]["opt"]["name"].Scalar(), "adam");
}

TEST(ConfigInterpolate, ChainsListItemsAndOrderIndependence) {
  YAML::Node r = resolved("a: ${b}\nb: ${c}\nc: [10, 20]\nd: ${c[1]}\ne: ${c.0}\nf: ${a}\n");
  EXPECT_EQ(r["a"][1].Scalar(), "20");
  EXPECT_EQ(r["d"].Scalar(), "20");
  EXPECT_EQ(r["e"].Scalar(), "10");
  EXPECT_EQ(r["f"][0].Scalar(), "10");
}

TEST(ConfigInterpolate, EnvironmentVariables) {
  setenv("PTLAB_TEST_VAR", "from_env", 1);
  unsetenv("PTLAB_TEST_UNSET");
  YAML::Node r = resolved(
      "a: ${oc.env:PTLAB_TEST_VAR}\nb: ${oc.env:PTLAB_TEST_UNSET,fallback}\nc: ${oc.env:PTLAB_TEST_UNSET,null}\n"
      "d: ${oc.env:PTLAB_TEST_VAR,ignored}\ne: ${oc.env:PTLAB_TEST_UNSET,'a,b'}\n");
  EXPECT_EQ(r["a"].Scalar(), "from_env");
  EXPECT_EQ(r["b"].Scalar(), "fallback");
  EXPECT_TRUE(r["c"].IsNull());
  EXPECT_EQ(r["d"].Scalar(), "from_env");
  EXPECT_EQ(r["e"].Scalar(), "a,b");
  Origins origins;
  origins.set("path", "configs/x.yaml");
  std::string m = error_of([&] { resolved("path: ${oc.env:PTLAB_TEST_UNSET}\n", origins); });
  EXPECT_CONTAINS(m, "'path' (from configs/x.yaml): environment variable 'PTLAB_TEST_UNSET' is not set");
  EXPECT_CONTAINS(m, "${oc.env:PTLAB_TEST_UNSET,default}");
  unsetenv("PTLAB_TEST_VAR");
}

// configs/config.yaml's paths.models: a default that is itself an interpolation (${oc.env:HOME}) and a path
// after it, the form OmegaConf accepts; the variable wins when set.
TEST(ConfigInterpolate, EnvironmentDefaultWithNestedInterpolation) {
  setenv("PTLAB_TEST_HOME", "/home/someone", 1);
  unsetenv("PTLAB_TEST_UNSET");
  const char* text = "models: ${oc.env:PTLAB_TEST_UNSET,${oc.env:PTLAB_TEST_HOME}/.cache/ptlab/models}\n"
                     "root: /data\nunder: ${oc.env:PTLAB_TEST_UNSET,${root}/models}\n";
  YAML::Node r = resolved(text);
  EXPECT_EQ(r["models"].Scalar(), "/home/someone/.cache/ptlab/models");
  EXPECT_EQ(r["under"].Scalar(), "/data/models");
  setenv("PTLAB_TEST_UNSET", "/elsewhere", 1);
  r = resolved(text);
  EXPECT_EQ(r["models"].Scalar(), "/elsewhere");
  EXPECT_EQ(r["under"].Scalar(), "/elsewhere");
  unsetenv("PTLAB_TEST_UNSET");
  unsetenv("PTLAB_TEST_HOME");
}

TEST(ConfigInterpolate, Now) {
  YAML::Node r = resolved("day: ${now:%Y-%m-%d}\nyear: run-${now:%Y}\n");
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  EXPECT_EQ(r["year"].Scalar(), "run-" + std::to_string(1900 + tm.tm_year));
  EXPECT_EQ(r["day"].Scalar().size(), 10u);
  EXPECT_CONTAINS(error_of([] { resolved("a: ${now:}\n"); }), "needs a strftime format");
}

TEST(ConfigInterpolate, EscapedInterpolationStaysLiteral) {
  YAML::Node r = resolved("a: 1\nb: \\${a}\nc: x\\${a}-${a}\nd: ${b}\n");
  EXPECT_EQ(r["b"].Scalar(), "${a}");
  EXPECT_EQ(r["c"].Scalar(), "x${a}-1");
  EXPECT_EQ(r["d"].Scalar(), "${a}");  // resolved once: the literal is not resolved again
}

TEST(ConfigInterpolate, CyclesAreErrorsShowingThePath) {
  EXPECT_CONTAINS(error_of([] { resolved("a: ${b}\nb: ${a}\n"); }), "interpolation cycle: a -> b -> a");
  EXPECT_CONTAINS(error_of([] { resolved("a: ${a}\n"); }), "interpolation cycle: a -> a");
  EXPECT_CONTAINS(error_of([] { resolved("x:\n  y: ${x}\n"); }), "interpolation cycle: x -> x.y -> x");
}

TEST(ConfigInterpolate, MissingKeysAndValues) {
  Origins origins;
  origins.set("model", "configs/model/x.yaml");
  std::string m = error_of([&] { resolved("model: {name: a}\nrun: ${model.nam}\n", origins); });
  EXPECT_CONTAINS(m,
                  "interpolation '${model.nam}' refers to 'model.nam', which does not exist; did you mean model.name?");
  m = error_of([&] { resolved("model:\n  path: ???\nfile: ${model.path}/w.bin\n", origins); });
  EXPECT_CONTAINS(m, "missing mandatory value 'model.path' (from configs/model/x.yaml)");
  EXPECT_CONTAINS(error_of([] { resolved("a: ${foo:bar}\n"); }), "unknown resolver 'foo'");
  EXPECT_CONTAINS(error_of([] { resolved("a: {b: 1}\nc: x${a}\n"); }), "cannot be inserted into a string");
  EXPECT_CONTAINS(error_of([] { resolved("a: ${b\n"); }), "unterminated interpolation");
}

TEST(ConfigInterpolate, CheckNoMissing) {
  Origins origins;
  origins.set("model", "configs/model/x.yaml");
  YAML::Node root = YAML::Load("model:\n  path: ???\n  layers:\n    - 1\n    - ???\n");
  EXPECT_EQ(error_of([&] { check_no_missing(root, origins); }),
            "missing mandatory value 'model.path' (from configs/model/x.yaml); set it with model.path=...");
  root["model"]["path"] = "/x";
  EXPECT_CONTAINS(error_of([&] { check_no_missing(root, origins); }), "'model.layers[1]'");
  root["model"]["layers"] = YAML::Load("[1, 2]");
  check_no_missing(root, origins);
}

TEST(ConfigInterpolate, HasInterpolation) {
  EXPECT_TRUE(has_interpolation("a${b}"));
  EXPECT_FALSE(has_interpolation("a\\${b}"));
  EXPECT_FALSE(has_interpolation("$ {b}"));
}

}  // namespace
}  // namespace ptlab::config
