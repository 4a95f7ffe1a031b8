// PET / iPET (methods/pet/pet.h): the ensemble's scores, the soft labels and the distillation loss on a
// fixture checked by hand; iPET's sizes, subsets and draws; the task's pattern-verbalizer pairs and PET's
// config errors. The pipeline itself runs in tests/launchers/pet_pipeline_test.cpp.
#include "methods/pet/pet.h"

#include "framework/config/reader.h"
#include "framework/core/error.h"
#include "tasks/batch.h"
#include "tasks/task.h"
#include "tests/methods/methods_test_support.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <set>

namespace ptlab::methods::pet {
namespace {
using ::testing::HasSubstr;

using testing::error_of;

at::Tensor table(std::vector<float> values, int64_t rows, int64_t cols) {
  return at::tensor(values, at::kFloat).reshape({rows, cols});
}

// Two pattern models, two examples, two classes, weights w = (3, 1):
//   s_1 = [[0, 2], [1, 1]],  s_2 = [[2, 0], [3, 1]]
//   s   = (3 s_1 + 1 s_2) / 4 = [[(0 + 2)/4, (6 + 0)/4], [(3 + 3)/4, (3 + 1)/4]] = [[0.5, 1.5], [1.5, 1.0]]
//   q   = softmax(s / 2): row 0 softmax(0.25, 0.75) = (1, e^0.5) / (1 + e^0.5) = (0.3775407, 0.6224593)
//                         row 1 softmax(0.75, 0.50) = (e^0.25, 1) / (1 + e^0.25) = (0.5621765, 0.4378235)
TEST(PetEnsemble, WeightedMeanAndSoftLabelsAsComputedByHand) {
  const at::Tensor s1 = table({0, 2, 1, 1}, 2, 2), s2 = table({2, 0, 3, 1}, 2, 2);
  const at::Tensor s = ensemble_scores({s1, s2}, {3.0, 1.0});
  EXPECT_TRUE(at::allclose(s, table({0.5, 1.5, 1.5, 1.0}, 2, 2), 0, 1e-6)) << s;
  const at::Tensor q = soft_labels(s, 2.0);
  EXPECT_TRUE(at::allclose(q, table({0.3775407f, 0.6224593f, 0.5621765f, 0.4378235f}, 2, 2), 0, 1e-6)) << q;
  // Uniform weights: the plain mean (1, 1) and (2, 1).
  EXPECT_TRUE(at::allclose(ensemble_scores({s1, s2}, {1.0, 1.0}), table({1, 1, 2, 1}, 2, 2), 0, 1e-6));
  // T -> small sharpens towards the argmax; every row sums to 1.
  EXPECT_GT(soft_labels(s, 0.1)[0][1].item<float>(), 0.9999f);
  EXPECT_TRUE(at::allclose(q.sum(1), at::ones({2}), 0, 1e-6));
  EXPECT_THAT(error_of([&] { ensemble_scores({s1, s2}, {0.0, 0.0}); }), HasSubstr("ensemble_weighting: uniform"));
  EXPECT_THAT(error_of([&] { soft_labels(s, 0.0); }), HasSubstr("temperature must be > 0"));
}

// The student's scores z = [[0, ln 3], [0, 0]] against q above:
//   log softmax(z) = [[ln 1/4, ln 3/4], [ln 1/2, ln 1/2]] = [[-1.3862944, -0.2876821], [-0.6931472, -0.6931472]]
//   row 0: 0.3775407 * 1.3862944 + 0.6224593 * 0.2876821 = 0.7024529;  row 1: ln 2 = 0.6931472
//   L = (0.7024529 + 0.6931472) / 2 = 0.6978000
TEST(PetDistillation, SoftLabelLossAsComputedByHand) {
  const at::Tensor q = table({0.3775407f, 0.6224593f, 0.5621765f, 0.4378235f}, 2, 2);
  const at::Tensor z = table({0.0f, static_cast<float>(std::log(3.0)), 0.0f, 0.0f}, 2, 2).requires_grad_(true);
  const at::Tensor loss = distillation_loss(z, q);
  EXPECT_NEAR(loss.item<double>(), 0.6978000, 1e-6);
  // Its gradient is (softmax(z) - q) / B: row 0 (0.25 - 0.3775407, 0.75 - 0.6224593) / 2.
  loss.backward();
  EXPECT_NEAR(z.grad()[0][0].item<double>(), (0.25 - 0.3775407) / 2, 1e-6);
  EXPECT_NEAR(z.grad()[1][1].item<double>(), (0.5 - 0.4378235) / 2, 1e-6);
  // One-hot targets give the ordinary cross-entropy.
  const at::Tensor onehot = table({0, 1, 1, 0}, 2, 2);
  EXPECT_NEAR(distillation_loss(z.detach(), onehot).item<double>(),
              at::cross_entropy_loss(z.detach(), at::tensor({1, 0}, at::kLong)).item<double>(), 1e-6);
  // A class scored -inf with q = 0 adds nothing (task_classes masking).
  const at::Tensor masked = table({0.0f, -INFINITY, 1.0f, 2.0f}, 2, 2);
  EXPECT_TRUE(std::isfinite(distillation_loss(masked, table({1, 0, 0.5, 0.5}, 2, 2)).item<double>()));
}

TEST(PetDistillation, CollateCarriesSoftLabels) {
  tasks::RenderedExample a, b;
  for (auto* e : {&a, &b}) {
    e->input_ids = {5, 6};
    e->token_type_ids = {0, 0};
    e->length = 2;
  }
  a.soft_labels = {0.25f, 0.75f};
  b.soft_labels = {1.0f, 0.0f};
  const tasks::Batch batch = tasks::collate({a, b}, {});
  ASSERT_TRUE(batch.soft_labels.defined());
  EXPECT_TRUE(at::equal(batch.soft_labels, table({0.25f, 0.75f, 1.0f, 0.0f}, 2, 2)));
  b.soft_labels = {1.0f};
  EXPECT_THAT(error_of([&] { tasks::collate({a, b}, {}); }), HasSubstr("batch row 1 has 1 soft labels but row 0 has 2"));
  // Without soft labels the batch has none (hard-label training is unchanged).
  a.soft_labels.clear();
  b.soft_labels.clear();
  EXPECT_FALSE(tasks::collate({a, b}, {}).soft_labels.defined());
}

// |T_g| = growth^g |T|: with |T| = 32, d = 5, generation 1 adds 4 * 32 = 128 and generation 2 adds 24 * 32 = 768.
TEST(Ipet, SizesSubsetsAndQuotas) {
  EXPECT_EQ(ipet_added(1, 32, 5.0, 100000), 128);
  EXPECT_EQ(ipet_added(2, 32, 5.0, 100000), 768);
  EXPECT_EQ(ipet_added(2, 32, 5.0, 500), 500);  // capped by |D|
  // lambda = 0.25 of the n - 1 others: n = 4 -> round(0.75) = 1; n = 9 -> 2; never j itself.
  for (uint64_t seed = 0; seed < 20; ++seed) {
    const auto one = ipet_subset(1, 4, 0.25, seed);
    ASSERT_EQ(one.size(), 1u);
    EXPECT_NE(one[0], 1);
    const auto two = ipet_subset(3, 9, 0.25, seed);
    ASSERT_EQ(two.size(), 2u);
    EXPECT_TRUE(two[0] != 3 && two[1] != 3 && two[0] < two[1]);
  }
  EXPECT_THAT(error_of([] { ipet_subset(0, 1, 0.25, 0); }), HasSubstr("at least 2 pattern models"));
  // T's classes 3 : 1 and 10 to add: exactly 7.5 : 2.5 -> floors 7 : 2, the tie goes to class 0 -> 8 : 2.
  EXPECT_EQ(ipet_class_quota({3, 1}, 10), (std::vector<int64_t>{8, 2}));
  EXPECT_EQ(ipet_class_quota({1, 1, 1}, 7), (std::vector<int64_t>{3, 2, 2}));
}

TEST(Ipet, DrawFollowsClassDistributionAndConfidence) {
  // 12 rows: rows 0-7 lean to class 0, rows 8-11 to class 1 (logits (a, 0) or (0, a)).
  std::vector<float> values;
  for (int i = 0; i < 12; ++i) {
    const float a = 0.5f + 0.25f * static_cast<float>(i % 4);
    values.push_back(i < 8 ? a : 0.0f);
    values.push_back(i < 8 ? 0.0f : a);
  }
  const at::Tensor scores = table(values, 12, 2);
  // T has classes 1 : 1, 6 to add -> 3 of each; every drawn row carries its argmax label; no row twice.
  const IpetDraw draw = ipet_sample(scores, {16, 16}, 6, 7);
  ASSERT_EQ(draw.rows.size(), 6u);
  std::set<int64_t> seen;
  int per_class[2] = {0, 0};
  for (std::size_t i = 0; i < draw.rows.size(); ++i) {
    EXPECT_TRUE(seen.insert(draw.rows[i]).second);
    EXPECT_EQ(draw.labels[i], draw.rows[i] < 8 ? 0 : 1);
    ++per_class[draw.labels[i]];
  }
  EXPECT_EQ(per_class[0], 3);
  EXPECT_EQ(per_class[1], 3);
  // T 1 : 3 and 12 to add -> 3 of class 0 and 9 of class 1, but only 4 rows are labelled 1: all of them.
  const IpetDraw short_draw = ipet_sample(scores, {8, 24}, 12, 7);
  EXPECT_EQ(short_draw.rows.size(), 7u);
  // Confidence: two class-0 candidates with p = softmax(4, 0)_0 = 0.982 and softmax(0.2, 0)_0 = 0.550, one draw:
  // P(first) = 0.982 / (0.982 + 0.550) = 0.641 — over 400 seeds it is drawn 0.641 * 400 = 256 +- 10 times.
  const at::Tensor two = table({4.0f, 0.0f, 0.2f, 0.0f}, 2, 2);
  int first = 0;
  for (uint64_t seed = 0; seed < 400; ++seed) first += ipet_sample(two, {1, 0}, 1, seed).rows.at(0) == 0;
  EXPECT_GT(first, 226);
  EXPECT_LT(first, 286);
}

tasks::TaskConfig task_of(const std::string& yaml) {
  YAML::Node node = YAML::Load(yaml);
  config::Origins origins;
  origins.set_subtree("task", node, "configs/task/test.yaml");
  return tasks::TaskConfig::decode(config::Reader(node, "task", origins), origins, "test");
}

const char* kTask = R"(
type: classification
template: "{text_a} It was {mask}."
templates: {short: "{text_a} {mask}!", nomask: "{text_a} It was good."}
verbalizer: {mode: auto, label_words: {negative: [bad], positive: [good]}}
verbalizers: {alt: {mode: auto, label_words: {negative: [awful], positive: [fine]}}}
)";

TEST(PetPatterns, TaskDecodesPatternVerbalizerPairs) {
  const auto task = task_of(std::string(kTask) + "pvps: [{template: null, verbalizer: null}, {template: short, "
                                                 "verbalizer: alt}]");
  ASSERT_EQ(task.pvps.size(), 2u);
  EXPECT_EQ(task.pvps[0].template_name, "");
  EXPECT_EQ(task.pvps[0].verbalizer_name, "");
  EXPECT_EQ(task.pvps[1].template_name, "short");
  EXPECT_EQ(task.pvps[1].verbalizer_name, "alt");
  EXPECT_THAT(task.pvps[1].where, HasSubstr("task.pvps[1]"));
  EXPECT_TRUE(task_of(kTask).pvps.empty());
}

TEST(PetPatterns, BadPairsAreOneLineErrorsWithTheirKeyPath) {
  auto error = [](const std::string& pvps) { return error_of([&] { task_of(std::string(kTask) + "pvps: " + pvps); }); };
  EXPECT_THAT(error("[{template: nomask}]"),
              HasSubstr("task.pvps[0].template (from configs/task/test.yaml): pattern '{text_a} It was good.' has no {mask}"));
  EXPECT_THAT(error("[{template: null}, {template: shrt}]"),
              HasSubstr("task.pvps[1].template (from configs/task/test.yaml): no template named 'shrt'"));
  EXPECT_THAT(error("[{template: short, verbalizer: alts}]"), HasSubstr("task.pvps[0].verbalizer (from configs/task/test.yaml): no verbalizer named 'alts'"));
  EXPECT_THAT(error("[{verbalizer: alt}]"), HasSubstr("task.pvps[0] (from configs/task/test.yaml): no template"));
  EXPECT_THAT(error("[{template: short, words: x}]"), HasSubstr("unknown key 'words'"));
  for (const char* bad : {"[{template: nomask}]", "[{template: short, verbalizer: alts}]"})
    EXPECT_EQ(error(bad).find('\n'), std::string::npos) << error(bad);
}

PetConfig pet_of(const std::string& yaml) {
  YAML::Node node = YAML::Load(yaml);
  config::Origins origins;
  origins.set_subtree("method", node, "configs/method/pet.yaml");
  return PetConfig::decode(node, origins);
}

TEST(PetConfigTest, DecodesDefaultsAndRejectsBadValues) {
  const PetConfig c = pet_of("{name: pet}");
  EXPECT_EQ(c.pattern_method["name"].Scalar(), "full_finetune");
  EXPECT_EQ(c.final_method["name"].Scalar(), "full_finetune");
  EXPECT_EQ(c.temperature, 2.0);
  EXPECT_EQ(c.ensemble_weighting, "uniform");
  EXPECT_EQ(c.ipet.generations, 0);
  const PetConfig d = pet_of("{name: pet, pattern_method: {name: prompt_tuning, length: 10}, patterns: [2, 0], "
                             "ipet: {generations: 2, fraction: 0.5, growth: 3}, unlabeled_limit: 100}");
  EXPECT_EQ(d.pattern_method["length"].as<int>(), 10);
  EXPECT_EQ(d.patterns, (std::vector<int64_t>{2, 0}));
  EXPECT_EQ(d.ipet.generations, 2);
  EXPECT_EQ(d.unlabeled_limit, 100);
  EXPECT_THAT(error_of([] { pet_of("{name: pet, temperature: 0}"); }),
              HasSubstr("method.temperature (from configs/method/pet.yaml): the soft labels' temperature must be > 0"));
  EXPECT_THAT(error_of([] { pet_of("{name: pet, temperature: -1}"); }), HasSubstr("must be > 0"));
  EXPECT_THAT(error_of([] { pet_of("{name: pet, ensemble_weighting: best}"); }), HasSubstr("method.ensemble_weighting"));
  EXPECT_THAT(error_of([] { pet_of("{name: pet, patterns: [0, 0]}"); }), HasSubstr("pattern 0 is listed twice"));
  EXPECT_THAT(error_of([] { pet_of("{name: pet, ipet: {growth: 1}}"); }), HasSubstr("method.ipet.growth"));
  EXPECT_THAT(error_of([] { pet_of("{name: pet, ipet: {generation: 1}}"); }), HasSubstr("generation"));
  EXPECT_THAT(error_of([] { pet_of("{name: pet, final_method: {name: pet}}"); }), HasSubstr("method.final_method.name (from configs/method/pet.yaml): pet cannot"));
}

}  // namespace
}  // namespace ptlab::methods::pet
