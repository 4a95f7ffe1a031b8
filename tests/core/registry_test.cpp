#include "framework/core/registry.h"

#include <gtest/gtest.h>

#include <functional>

namespace ptlab {

TEST(Registry, AddGetAndList) {
  Registry<std::function<int()>> r("widget");
  r.add("b", "the b widget", [] { return 2; });
  r.add("a", "the a widget", [] { return 1; });
  EXPECT_EQ(r.get("a")(), 1);
  EXPECT_EQ(r.get("b")(), 2);
  EXPECT_EQ(r.names(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(r.description("b"), "the b widget");
  EXPECT_TRUE(r.contains("a"));
  EXPECT_FALSE(r.contains("c"));
}

TEST(Registry, DuplicateIsInternalError) {
  Registry<int> r("widget");
  r.add("x", "", 1);
  EXPECT_THROW(r.add("x", "", 2), InternalError);
}

TEST(Registry, UnknownNameListsKnownAndSuggests) {
  Registry<int> r("method");
  r.add("prompt_tuning", "", 1);
  r.add("prefix_tuning", "", 2);
  try {
    r.get("prefix_tunin");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("unknown method 'prefix_tunin'"), std::string::npos) << m;
    EXPECT_NE(m.find("did you mean prefix_tuning"), std::string::npos) << m;
    EXPECT_NE(m.find("known: prefix_tuning, prompt_tuning"), std::string::npos) << m;
  }
}

}  // namespace ptlab
