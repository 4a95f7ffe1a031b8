#include "framework/config/origins.h"

#include <gtest/gtest.h>

namespace ptlab::config {
namespace {

TEST(ConfigOrigins, OfWalksUpToTheNearestRecordedAncestor) {
  Origins o;
  o.set("trainer", "configs/trainer/default.yaml");
  o.set("trainer.lr", "override 'trainer.lr=3'");
  EXPECT_EQ(o.of("trainer.lr"), "override 'trainer.lr=3'");
  EXPECT_EQ(o.of("trainer.lrr"), "configs/trainer/default.yaml");
  EXPECT_EQ(o.of("trainer.optim.betas[1]"), "configs/trainer/default.yaml");
  EXPECT_EQ(o.of("model.name"), "");
  EXPECT_EQ(o.from("trainer.x"), " (from configs/trainer/default.yaml)");
  EXPECT_EQ(o.from("model"), "");
}

TEST(ConfigOrigins, SubtreesAreRecordedAndErased) {
  Origins o;
  o.set_subtree("a", YAML::Load("{b: {c: 1}, l: [x, {y: 2}]}"), "f.yaml");
  EXPECT_EQ(o.all().count("a.b.c"), 1u);
  EXPECT_EQ(o.all().count("a.l[1].y"), 1u);
  o.set("a.bc", "g.yaml");
  o.erase_subtree("a.b");
  EXPECT_EQ(o.all().count("a.b"), 0u);
  EXPECT_EQ(o.all().count("a.b.c"), 0u);
  EXPECT_EQ(o.of("a.bc"), "g.yaml");  // a sibling sharing the prefix stays
  EXPECT_EQ(o.of("a.l[1].y"), "f.yaml");
}

TEST(ConfigOrigins, KeyPathHelpers) {
  EXPECT_EQ(parent_key_path("a.b[2]"), "a.b");
  EXPECT_EQ(parent_key_path("a.b"), "a");
  EXPECT_EQ(parent_key_path("a"), "");
  EXPECT_EQ(child_key_path("", "x"), "x");
  EXPECT_EQ(child_key_path("a", "x"), "a.x");
  EXPECT_EQ(item_key_path("a", 3), "a[3]");
}

}  // namespace
}  // namespace ptlab::config
