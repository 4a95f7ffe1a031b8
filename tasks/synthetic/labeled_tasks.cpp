#include "tasks/synthetic/labeled_tasks.h"

#include "framework/core/error.h"
#include "framework/core/suggest.h"
#include "tasks/synthetic/fnv1a.h"
#include "tasks/synthetic/random.h"
#include "tasks/synthetic/sentence_generator.h"
#include "tasks/synthetic/sentiment.h"

#include <unordered_set>

namespace ptlab::tasks::synthetic {
namespace {

std::vector<TaskSpec> make_specs() {
  std::vector<std::string> topics;
  for (const auto& t : lexicon().topics) topics.push_back(t.name);
  const std::string sentiment_prompt = "{sentence} overall , it was {mask} .";
  return {
      {"sentiment2", false, {"negative", "positive"}, {"bad", "good"}, sentiment_prompt},
      {"sentiment5",
       false,
       {"very_negative", "negative", "neutral", "positive", "very_positive"},
       {"terrible", "bad", "okay", "good", "great"},
       sentiment_prompt},
      {"topic", false, topics, topics, "{sentence} this is about {mask} ."},
      {"entailment", true, {"entailment", "not_entailment"}, {"yes", "no"}, "{sentence1} so , {sentence2} ? {mask} ."},
  };
}

// Draws one candidate example of `task` into the buffers; returns its class, or -1 to reject it.
// `wanted` is the class the caller still needs most (used where the generator can aim at a class).
int draw(std::string_view task, int wanted, SentenceGenerator& gen, const Lexicon& lex, std::vector<WordId>& a,
         std::vector<WordId>& b) {
  const int topic = gen.random_topic();
  if (task == "sentiment2" || task == "sentiment5") {
    gen.opinion(topic, a);
    const int score = sentiment_score(lex, a.data(), a.size());
    if (task == "sentiment5") return sentiment5_class(score);
    return score == 0 ? -1 : (score > 0 ? 1 : 0);
  }
  if (task == "topic") {
    if (gen.rng().chance(0.7)) {
      gen.opinion(topic, a);
    } else {
      gen.fact(topic, a);
    }
    return topic;
  }
  gen.entailment(topic, wanted == 0, a, b);
  return wanted;
}

}  // namespace

const std::vector<TaskSpec>& task_specs() {
  static const std::vector<TaskSpec> specs = make_specs();
  return specs;
}

const TaskSpec& task_spec(std::string_view name) {
  for (const auto& s : task_specs())
    if (s.name == name) return s;
  std::vector<std::string> known(kTaskNames.begin(), kTaskNames.end());
  PTLAB_FAIL("unknown synthetic task '{}'{}; known: {}", name, did_you_mean(name, known), join_names(known));
}

std::vector<int64_t> class_quotas(int64_t size, int classes) {
  std::vector<int64_t> q(static_cast<std::size_t>(classes), size / classes);
  for (int64_t i = 0; i < size % classes; ++i) ++q[static_cast<std::size_t>(i)];
  return q;
}

std::array<std::vector<Example>, 3> generate_task(const Lexicon& lex, std::string_view name, const TaskSizes& sizes,
                                                  uint64_t seed) {
  const TaskSpec& spec = task_spec(name);
  const int classes = static_cast<int>(spec.labels.size());
  SentenceGenerator gen(lex, derive_seed(seed, "task/" + spec.name));
  std::unordered_set<uint64_t> seen;
  std::vector<WordId> a, b;
  std::string text;
  std::array<std::vector<Example>, 3> splits;
  const int64_t split_sizes[3] = {sizes.train, sizes.dev, sizes.test};
  for (std::size_t s = 0; s < 3; ++s) {
    std::vector<int64_t> left = class_quotas(split_sizes[s], classes);
    auto& out = splits[s];
    out.reserve(static_cast<std::size_t>(split_sizes[s]));
    const int64_t max_attempts = 1000 * split_sizes[s] + 100000;
    for (int64_t attempt = 0; static_cast<int64_t>(out.size()) < split_sizes[s]; ++attempt) {
      PTLAB_CHECK(attempt < max_attempts,
                  "synthetic task {}: could not draw {} distinct {} examples with balanced classes after {} attempts "
                  "(the language has too few distinct sentences for this size); use a smaller {}.{}",
                  spec.name, split_sizes[s], kSplitNames[s], attempt, spec.name, kSplitNames[s]);
      int wanted = 0;
      for (int c = 1; c < classes; ++c)
        if (left[static_cast<std::size_t>(c)] > left[static_cast<std::size_t>(wanted)]) wanted = c;
      if (spec.pair && left[0] > 0 && left[1] > 0) wanted = static_cast<int>(gen.rng().below(2));
      a.clear();
      b.clear();
      const int label = draw(spec.name, wanted, gen, lex, a, b);
      if (label < 0 || left[static_cast<std::size_t>(label)] == 0) continue;
      Example ex;
      lex.render(a.data(), a.size(), ex.text1);
      lex.render(b.data(), b.size(), ex.text2);
      text = ex.text1;
      text += '\t';
      text += ex.text2;
      if (!seen.insert(fnv1a64(text)).second) continue;
      ex.label = label;
      --left[static_cast<std::size_t>(label)];
      out.push_back(std::move(ex));
    }
  }
  return splits;
}

}  // namespace ptlab::tasks::synthetic
