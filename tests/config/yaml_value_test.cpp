#include "framework/config/yaml_value.h"

#include <gtest/gtest.h>

#include <cmath>

namespace ptlab::config {
namespace {

TEST(ConfigYamlValue, ClassifiesPlainScalarsLikeHydra) {
  for (const char* s : {"null", "Null", "NULL", "~", ""}) EXPECT_EQ(classify_plain(s), ScalarKind::kNull) << s;
  for (const char* s : {"true", "True", "FALSE", "tRuE"}) EXPECT_EQ(classify_plain(s), ScalarKind::kBool) << s;
  for (const char* s : {"0", "1_000", "-3", "+7", "007"}) EXPECT_EQ(classify_plain(s), ScalarKind::kInt) << s;
  for (const char* s :
       {"1e-3", "1.5", ".5", "5.", "1.5E+3", "1_000.5", "inf", "-inf", ".inf", "+.Inf", "nan", "NaN", ".nan"})
    EXPECT_EQ(classify_plain(s), ScalarKind::kFloat) << s;
  for (const char* s : {"abc", "1_", "_1", "1e", "yes", "--1", "-nan", "1.2.3", "1 2", "0x10", "e5"})
    EXPECT_EQ(classify_plain(s), ScalarKind::kString) << s;
}

TEST(ConfigYamlValue, ParsesNumbers) {
  EXPECT_EQ(parse_int("1_000"), 1000);
  EXPECT_EQ(parse_int("-42"), -42);
  EXPECT_EQ(parse_int("-9223372036854775808"), INT64_MIN);
  EXPECT_FALSE(parse_int("9223372036854775808").has_value());
  EXPECT_FALSE(parse_int("1.0").has_value());
  EXPECT_DOUBLE_EQ(*parse_float("1e-3"), 0.001);
  EXPECT_DOUBLE_EQ(*parse_float("7"), 7.0);
  EXPECT_DOUBLE_EQ(*parse_float("1_000.5"), 1000.5);
  EXPECT_TRUE(std::isinf(*parse_float("-.inf")) && *parse_float("-.inf") < 0);
  EXPECT_TRUE(std::isnan(*parse_float("NaN")));
  EXPECT_FALSE(parse_float("abc").has_value());
  EXPECT_EQ(parse_bool("TRUE"), true);
  EXPECT_EQ(parse_bool("False"), false);
  EXPECT_FALSE(parse_bool("yes").has_value());
}

TEST(ConfigYamlValue, QuotedScalarsAreStrings) {
  YAML::Node n = YAML::Load("a: 1\nb: '1'\nc: \"true\"\nd: !!str 3\ne: null\nf: x\n");
  EXPECT_EQ(scalar_kind(n["a"]), ScalarKind::kInt);
  EXPECT_EQ(scalar_kind(n["b"]), ScalarKind::kString);
  EXPECT_EQ(scalar_kind(n["c"]), ScalarKind::kString);
  EXPECT_EQ(scalar_kind(n["d"]), ScalarKind::kString);
  EXPECT_EQ(scalar_kind(n["e"]), ScalarKind::kNull);
  EXPECT_EQ(kind_name(n["f"]), "a string");
  EXPECT_EQ(kind_name(YAML::Load("[1]")), "a list");
  EXPECT_EQ(scalar_kind(make_string("12")), ScalarKind::kString);
}

TEST(ConfigYamlValue, MakePlainWritesCanonicalText) {
  EXPECT_EQ(make_plain("1_000").Scalar(), "1000");
  EXPECT_EQ(make_plain("INF").Scalar(), ".inf");
  EXPECT_EQ(make_plain("-inf").Scalar(), "-.inf");
  EXPECT_EQ(make_plain("nan").Scalar(), ".nan");
  EXPECT_EQ(make_plain("True").Scalar(), "true");
  EXPECT_TRUE(make_plain("NULL").IsNull());
  EXPECT_EQ(make_plain("1e-3").Scalar(), "1e-3");
}

TEST(ConfigYamlValue, ToYamlQuotesStringsThatLookTyped) {
  YAML::Node n(YAML::NodeType::Map);
  n["z"] = make_string("1");
  n["a"] = make_plain("1");
  n["t"] = make_string("true");
  n["e"] = make_string("");
  n["s"] = make_string("plain text");
  n["n"] = YAML::Node(YAML::NodeType::Null);
  n["m"] = YAML::Node(YAML::NodeType::Map);
  n["l"] = YAML::Load("[1, [2, 3]]");
  std::string text = to_yaml(n);
  EXPECT_EQ(text,
            "z: \"1\"\na: 1\nt: \"true\"\ne: \"\"\ns: plain text\nn: null\nm: {}\nl:\n  - 1\n  -\n    - 2\n    - 3\n");
  EXPECT_EQ(to_yaml(YAML::Load("a: 1_000\nb: 1_0.5\nc: '1_000'\n")), "a: 1000\nb: 10.5\nc: \"1_000\"\n");
  // It reads back to the same config, types included.
  YAML::Node back = YAML::Load(text);
  EXPECT_TRUE(same_value(back, n));
  EXPECT_EQ(scalar_kind(back["z"]), ScalarKind::kString);
  EXPECT_EQ(scalar_kind(back["a"]), ScalarKind::kInt);
}

TEST(ConfigYamlValue, SameValueComparesByTypeAndContent) {
  EXPECT_TRUE(same_value(make_plain("1"), make_plain("1.0")));
  EXPECT_FALSE(same_value(make_string("1"), make_plain("1")));
  EXPECT_TRUE(same_value(YAML::Load("{a: 1, b: [x]}"), YAML::Load("{b: [x], a: 1}")));
  EXPECT_FALSE(same_value(YAML::Load("{a: 1}"), YAML::Load("{a: 1, b: 2}")));
  EXPECT_FALSE(same_value(YAML::Load("[1, 2]"), YAML::Load("[2, 1]")));
  EXPECT_TRUE(same_value(make_plain("True"), make_plain("true")));
  EXPECT_TRUE(same_value(make_plain("nan"), make_plain("NaN")));
}

TEST(ConfigYamlValue, DescribeIsOneShortLine) {
  EXPECT_EQ(describe(YAML::Load("{a: 1, b: [1, 2]}")), "{a: 1, b: [1, 2]}");
  EXPECT_EQ(describe(YAML::Node(YAML::NodeType::Null)), "null");
  std::string long_text(200, 'x');
  EXPECT_EQ(describe(make_string(long_text)).size(), 80u);
  EXPECT_EQ(describe(make_string("a\nb")), "a b");
}

}  // namespace
}  // namespace ptlab::config
