// The labeled tasks of the synthetic language and how their examples are drawn.
//
//   sentiment2  sentence -> negative | positive             (sentences of score != 0, see sentiment.h)
//   sentiment5  sentence -> very_negative .. very_positive  (sentiment5_class of the score)
//   topic       sentence -> food | film | travel | tech | sport  (the topic of the sentence's entities)
//   entailment  sentence1, sentence2 -> entailment | not_entailment  (see SentenceGenerator::entailment)
//
// Each split has balanced classes (size / classes each; the first size % classes classes get one more)
// and no example occurs twice within a task, across its splits included. Every task draws from its own
// seeded stream, so changing one task's sizes never changes another task.
#pragma once

#include "tasks/synthetic/lexicon.h"
#include "tasks/synthetic/synthetic_config.h"

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ptlab::tasks::synthetic {

struct TaskSpec {
  std::string name;
  bool pair = false;                    // columns sentence1, sentence2, label (else sentence, label)
  std::vector<std::string> labels;      // label strings as written in the TSV, by class index
  std::vector<std::string> verbalizer;  // by class index: a word of the language that names the class
  /// A prompt in the language with {sentence} (or {sentence1}, {sentence2}) and {mask}, the form in which the
  /// pretraining corpus states the label; for entailment the final "." of sentence2 is left out.
  std::string prompt;
};

/// The four tasks, in kTaskNames order.
const std::vector<TaskSpec>& task_specs();
/// The spec of task `name`; an unknown name is an Error listing the tasks.
const TaskSpec& task_spec(std::string_view name);

struct Example {
  std::string text1;
  std::string text2;  // pair tasks only
  int label = 0;      // class index into TaskSpec::labels
};

/// Examples per class for a split of `size` examples over `classes` classes.
std::vector<int64_t> class_quotas(int64_t size, int classes);

/// Generates the train, dev and test splits of task `name` with `sizes` examples from `seed`'s stream for
/// the task. Fails with an Error when the language cannot provide that many distinct examples.
std::array<std::vector<Example>, 3> generate_task(const Lexicon& lex, std::string_view name, const TaskSizes& sizes,
                                                  uint64_t seed);

}  // namespace ptlab::tasks::synthetic
