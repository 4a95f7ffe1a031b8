#include "framework/config/override.h"

#include "framework/config/yaml_value.h"
#include "tests/config/config_tree.h"

#include <gtest/gtest.h>

#include <cmath>

namespace ptlab::config {
namespace {
using testing::error_of;

YAML::Node value_of(const std::string& text) {
  Override ov = parse_override(text);
  EXPECT_FALSE(ov.is_sweep()) << text;
  return ov.value.element.node;
}

TEST(ConfigOverride, Forms) {
  Override a = parse_override("trainer.lr=3");
  EXPECT_EQ(a.type, OverrideType::kChange);
  EXPECT_EQ(a.key, "trainer.lr");
  EXPECT_TRUE(a.has_value);
  EXPECT_EQ(a.key_element(), "trainer.lr");
  EXPECT_EQ(parse_override("+x.y=1").type, OverrideType::kAdd);
  EXPECT_EQ(parse_override("++x.y=1").type, OverrideType::kForceAdd);
  Override d = parse_override("~x.y");
  EXPECT_EQ(d.type, OverrideType::kDelete);
  EXPECT_FALSE(d.has_value);
  Override dv = parse_override("~x.y=5");
  EXPECT_TRUE(dv.has_value);
  EXPECT_EQ(dv.value.element.node.Scalar(), "5");
  EXPECT_FALSE(parse_override("~x.y=").has_value);
  Override p = parse_override("+db@backup=mysql");
  EXPECT_EQ(p.key, "db");
  EXPECT_EQ(p.package, "backup");
  EXPECT_EQ(p.key_element(), "+db@backup");
  EXPECT_EQ(parse_override("server/db=mysql").key, "server/db");
  EXPECT_EQ(parse_override("a.b[0]=1").key, "a.b[0]");
  EXPECT_EQ(parse_override("x=1").origin(), "override 'x=1'");
}

TEST(ConfigOverride, PrimitivesAreTypedLikeYaml) {
  EXPECT_TRUE(value_of("a=null").IsNull());
  EXPECT_TRUE(value_of("a=NULL").IsNull());
  EXPECT_EQ(value_of("a=1_000").Scalar(), "1000");
  EXPECT_EQ(scalar_kind(value_of("a=1_000")), ScalarKind::kInt);
  EXPECT_EQ(scalar_kind(value_of("a=1e-3")), ScalarKind::kFloat);
  EXPECT_EQ(value_of("a=inf").Scalar(), ".inf");
  EXPECT_EQ(value_of("a=-inf").Scalar(), "-.inf");
  EXPECT_EQ(value_of("a=nan").Scalar(), ".nan");
  EXPECT_EQ(value_of("a=True").Scalar(), "true");
  EXPECT_EQ(scalar_kind(value_of("a=fAlSe")), ScalarKind::kBool);
  EXPECT_EQ(scalar_kind(value_of("a=abc")), ScalarKind::kString);
  EXPECT_EQ(value_of("a= hello world ").Scalar(), "hello world");
  EXPECT_EQ(value_of("a=10:30").Scalar(), "10:30");
  EXPECT_EQ(value_of("a=/path/to-file_1.txt").Scalar(), "/path/to-file_1.txt");
}

TEST(ConfigOverride, EmptyValueIsTheEmptyString) {
  YAML::Node v = value_of("a.b=");
  EXPECT_EQ(scalar_kind(v), ScalarKind::kString);
  EXPECT_EQ(v.Scalar(), "");
}

TEST(ConfigOverride, QuotedStringsAndEscapes) {
  YAML::Node q = value_of("a='1'");
  EXPECT_EQ(scalar_kind(q), ScalarKind::kString);
  EXPECT_EQ(q.Scalar(), "1");
  EXPECT_EQ(value_of("a='x, y = [z]'").Scalar(), "x, y = [z]");
  EXPECT_EQ(value_of(R"(a="it\"s")").Scalar(), "it\"s");
  EXPECT_EQ(value_of(R"(a='it\'s')").Scalar(), "it's");
  EXPECT_EQ(value_of(R"(a='back\\slash')").Scalar(), "back\\slash");
  EXPECT_EQ(value_of("a=''").Scalar(), "");
  // Backslash escapes of \()[]{}:=, space and tab in unquoted values.
  YAML::Node e = value_of(R"(a=x\,y\ z\=\(1\)\[2\]\{3\}\:\\)");
  EXPECT_EQ(e.Scalar(), R"(x,y z=(1)[2]{3}:\)");
  EXPECT_EQ(scalar_kind(value_of(R"(a=1\,000)")), ScalarKind::kString);
  EXPECT_EQ(value_of(R"(a=\ padded\ )").Scalar(), " padded ");
}

TEST(ConfigOverride, InterpolationsStayText) {
  YAML::Node v = value_of("a=${model.name}");
  EXPECT_EQ(v.Scalar(), "${model.name}");
  EXPECT_EQ(scalar_kind(v), ScalarKind::kString);
  EXPECT_EQ(value_of("a=run-${plans.${sel}}-x").Scalar(), "run-${plans.${sel}}-x");
  EXPECT_EQ(value_of("a=${oc.env:HOME,/tmp}").Scalar(), "${oc.env:HOME,/tmp}");
  EXPECT_EQ(value_of("a='${x}'").Scalar(), "${x}");
}

TEST(ConfigOverride, ListsAndDicts) {
  YAML::Node l = value_of("a=[1, 'b', [3, x], []]");
  ASSERT_TRUE(l.IsSequence());
  ASSERT_EQ(l.size(), 4u);
  EXPECT_EQ(scalar_kind(l[0]), ScalarKind::kInt);
  EXPECT_EQ(l[1].Scalar(), "b");
  EXPECT_EQ(l[2][1].Scalar(), "x");
  EXPECT_EQ(l[3].size(), 0u);
  YAML::Node d = value_of("a={a:10,b:{c:1},s:'x,y',t:10:30}");
  ASSERT_TRUE(d.IsMap());
  EXPECT_EQ(d["a"].Scalar(), "10");
  EXPECT_EQ(d["b"]["c"].Scalar(), "1");
  EXPECT_EQ(d["s"].Scalar(), "x,y");
  EXPECT_EQ(d["t"].Scalar(), "10:30");
  EXPECT_EQ(value_of("a={}").size(), 0u);
}

TEST(ConfigOverride, ChoiceSweeps) {
  Override c = parse_override("a=1, 'x,y' ,[1,2],{k:v}");
  ASSERT_EQ(c.value.sweep, SweepKind::kChoice);
  ASSERT_EQ(c.value.choices.size(), 4u);
  EXPECT_EQ(c.value.choices[0].text, "1");
  EXPECT_EQ(c.value.choices[1].text, "'x,y'");
  EXPECT_EQ(c.value.choices[1].node.Scalar(), "x,y");
  EXPECT_EQ(c.value.choices[2].text, "[1,2]");
  EXPECT_EQ(c.value.choices[3].text, "{k:v}");
  EXPECT_FALSE(parse_override("a=[1,2]").is_sweep());
  Override f = parse_override("a=choice(x, y)");
  ASSERT_EQ(f.value.sweep, SweepKind::kChoice);
  EXPECT_EQ(f.value.choices[1].text, "y");
}

TEST(ConfigOverride, RangeAndGlobSweeps) {
  Override r = parse_override("a=range(0,1,0.25)");
  ASSERT_EQ(r.value.sweep, SweepKind::kRange);
  EXPECT_FALSE(r.value.range.integers);
  EXPECT_DOUBLE_EQ(r.value.range.step, 0.25);
  Override r2 = parse_override("a=range(5)");
  EXPECT_TRUE(r2.value.range.integers);
  EXPECT_DOUBLE_EQ(r2.value.range.start, 0);
  EXPECT_DOUBLE_EQ(r2.value.range.stop, 5);
  Override r3 = parse_override("a=range(start=5, stop=0, step=-2)");
  EXPECT_DOUBLE_EQ(r3.value.range.step, -2);
  Override g = parse_override("model=glob(*, exclude=[w*, x])");
  ASSERT_EQ(g.value.sweep, SweepKind::kGlob);
  EXPECT_EQ(g.value.glob.include, (std::vector<std::string>{"*"}));
  EXPECT_EQ(g.value.glob.exclude, (std::vector<std::string>{"w*", "x"}));
  EXPECT_EQ(parse_override("lr=interval(0, 1)").value.sweep, SweepKind::kInterval);
  EXPECT_EQ(parse_override("lr=tag(log, interval(0.001, 1))").value.sweep, SweepKind::kTag);
}

TEST(ConfigOverride, UnbalancedBracketsAndQuotesNameTheColumn) {
  std::string m = error_of([] { parse_override("a=[1,2"); });
  EXPECT_CONTAINS(m, "bad override 'a=[1,2'");
  EXPECT_CONTAINS(m, "'[' at column 3 is never closed (missing ']')");
  EXPECT_CONTAINS(error_of([] { parse_override("a={x:{y:1}"); }), "'{' at column 3 is never closed");
  EXPECT_CONTAINS(error_of([] { parse_override("a='abc"); }), "the quote ' opened here is never closed at column 3");
  EXPECT_CONTAINS(error_of([] { parse_override("a=1]"); }),
                  "unexpected ']' with no matching opening bracket at column 4");
  EXPECT_CONTAINS(error_of([] { parse_override("a=range(1,3"); }), "'(' at column 8 is never closed");
  EXPECT_CONTAINS(error_of([] { parse_override("a=${x"); }),
                  "unterminated interpolation '${' (missing '}') at column 3");
  EXPECT_CONTAINS(error_of([] { parse_override("a=b'c"); }),
                  "quote inside an unquoted value (quote the whole value or escape it) at column 4");
}

TEST(ConfigOverride, OtherSyntaxErrors) {
  EXPECT_CONTAINS(error_of([] { parse_override("trainer.lr"); }), "missing '=value'");
  EXPECT_CONTAINS(error_of([] { parse_override("=3"); }), "missing key at column 1");
  EXPECT_CONTAINS(error_of([] { parse_override("a b=1"); }),
                  "a space in the key (quote the whole key=value for the shell, not the key) at column 2");
  EXPECT_CONTAINS(error_of([] { parse_override("a=b=c"); }),
                  "unexpected '=' (escape it as \\= or quote the value) at column 4");
  EXPECT_CONTAINS(error_of([] { parse_override("a=1,,2"); }), "missing value at column 5");
  EXPECT_CONTAINS(error_of([] { parse_override("a=[1,]"); }), "missing value at column 6");
  EXPECT_CONTAINS(error_of([] { parse_override("a=sort(1,2)"); }), "unknown function 'sort()'");
  EXPECT_CONTAINS(error_of([] { parse_override("a=range(1,x)"); }), "range() needs numbers, got 'x'");
  EXPECT_CONTAINS(error_of([] { parse_override("a=range(0,3,0)"); }), "step must not be 0");
  EXPECT_CONTAINS(error_of([] { parse_override("a={x:1,x:2}"); }), "duplicate dict key 'x'");
  EXPECT_CONTAINS(error_of([] { parse_override("db@a:b=x"); }), "package renaming");
  EXPECT_CONTAINS(error_of([] { parse_override("a%=1"); }), "'%' is not allowed in a key");
}

TEST(ConfigOverride, RenderOverride) {
  EXPECT_EQ(render_override(parse_override("+a=1,2"), "2"), "+a=2");
  EXPECT_EQ(render_override(parse_override("~a"), ""), "~a");
  EXPECT_EQ(render_override(parse_override("db@x=a,b"), "b"), "db@x=b");
}

}  // namespace
}  // namespace ptlab::config
