#include "tasks/synthetic/synthetic_config.h"

#include "framework/core/error.h"

#include <gtest/gtest.h>

namespace ptlab::tasks::synthetic {
namespace {

std::string error_of(const SyntheticConfig& c) {
  try {
    validate(c);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(SyntheticConfig, DefaultsFitTheDemo) {
  SyntheticConfig c;
  EXPECT_NO_THROW(validate(c));
  EXPECT_EQ(c.corpus_sentences, 200000);
  for (auto task : kTaskNames) {
    EXPECT_EQ(c.split_size(task, "train"), 2000);
    EXPECT_EQ(c.split_size(task, "dev"), 500);
    EXPECT_EQ(c.split_size(task, "test"), 1000);
  }
}

TEST(SyntheticConfig, SetTaskSizesSetsEveryTask) {
  SyntheticConfig c;
  c.set_task_sizes(10, 20, 30);
  for (auto task : kTaskNames) {
    EXPECT_EQ(c.sizes(task).train, 10);
    EXPECT_EQ(c.sizes(task).dev, 20);
    EXPECT_EQ(c.sizes(task).test, 30);
  }
}

TEST(SyntheticConfig, ZeroOrNegativeSizesNameTheKey) {
  SyntheticConfig c;
  c.corpus_sentences = 0;
  EXPECT_NE(error_of(c).find("corpus_sentences must be at least 1, got 0"), std::string::npos) << error_of(c);
  c = SyntheticConfig();
  c.sentiment5.dev = 0;
  EXPECT_NE(error_of(c).find("sentiment5.dev must be at least 1, got 0"), std::string::npos) << error_of(c);
  c = SyntheticConfig();
  c.entailment.train = -3;
  EXPECT_NE(error_of(c).find("entailment.train must be at least 1, got -3"), std::string::npos) << error_of(c);
  c = SyntheticConfig();
  c.topic.test = kMaxSplitSize + 1;
  EXPECT_NE(error_of(c).find("topic.test must be at most"), std::string::npos) << error_of(c);
}

TEST(SyntheticConfig, BadCorpusMixNamesTheKey) {
  SyntheticConfig c;
  c.corpus_mix.questions = -0.1;
  EXPECT_NE(error_of(c).find("corpus_mix.questions must be in [0, 1]"), std::string::npos) << error_of(c);
  c = SyntheticConfig();
  c.corpus_mix.facts = 0.6;
  c.corpus_mix.summaries = 0.6;
  EXPECT_NE(error_of(c).find("must sum to at most 1"), std::string::npos) << error_of(c);
}

TEST(SyntheticConfig, UnknownTaskOrSplitIsAnError) {
  SyntheticConfig c;
  try {
    c.sizes("sentiment3");
    FAIL();
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("unknown synthetic task 'sentiment3'"), std::string::npos) << m;
    EXPECT_NE(m.find("sentiment2"), std::string::npos) << m;
  }
  EXPECT_THROW(c.split_size("topic", "validation"), Error);
}

TEST(SyntheticConfig, JsonHoldsEveryField) {
  SyntheticConfig c;
  c.seed = 18446744073709551615ull;
  c.topic.dev = 7;
  auto j = to_json(c);
  EXPECT_EQ(j["seed"], "18446744073709551615");
  EXPECT_EQ(j["corpus_sentences"], 200000);
  EXPECT_EQ(j["tasks"]["topic"]["dev"], 7);
  EXPECT_EQ(j["tasks"]["entailment"]["train"], 2000);
  EXPECT_DOUBLE_EQ(j["corpus_mix"]["facts"].get<double>(), 0.2);
  SyntheticConfig d = c;
  d.corpus_mix.topics = 0.05;
  EXPECT_NE(to_json(d), j);
}

}  // namespace ptlab::tasks::synthetic
