#include "framework/data/example.h"

#include <gtest/gtest.h>

namespace ptlab::data {
namespace {

TEST(Provenance, Describe) {
  EXPECT_EQ((Provenance{"a.tsv", 12, ""}).describe(), "a.tsv:12");
  EXPECT_EQ((Provenance{"a.json", 40, "/3"}).describe(), "a.json:40 (/3)");
  EXPECT_EQ((Provenance{"a.json", 0, "/3"}).describe(), "a.json (/3)");
  EXPECT_EQ((Provenance{"a.txt", 0, ""}).describe(), "a.txt");
}

TEST(Example, LabeledMeansAClassName) {
  Example ex;
  EXPECT_FALSE(ex.has_label());
  ex.label = "1";
  ex.label_name = "positive";
  EXPECT_TRUE(ex.has_label());
}

}  // namespace
}  // namespace ptlab::data
