// Tasks: what a config's `task:` group says about turning examples into model inputs and scoring them.
//
//   task:                                   # configs/task/<name>.yaml
//     type: classification                  # classification | pair_classification | generation |
//                                           #   token_classification | lm   (the task-type registry)
//     max_length: 256                       # tokens per rendered example (0: no limit)
//     template: "{text_a} It was {mask}."   # the prompt (template.h)
//     templates: {ptuning: "..."}           # alternatives, picked with template_name
//     template_name: null
//     template_no_input: "..."              # generation: the prompt for examples with an empty text_b
//     verbalizer: {mode: auto, label_words: {negative: [terrible], positive: [great]}}   (verbalizer.h)
//     verbalizers: {linear: {mode: linear_head}}                                         # alternatives
//     verbalizer_name: null
//     pvps:                                 # PET's pattern-verbalizer pairs (methods/pet/pet.h): each a
//       - {template: pet0, verbalizer: null}  #   template name in `templates` ("" or null: `template`) and a
//                                           #   verbalizer name in `verbalizers` (null: `verbalizer`)
//     metric: [accuracy]                    # metrics.h; the type's default when absent
//     task_names: [sentiment, topic]        # mixed-task data: the tasks in id order, each example's from
//                                           #   its meta.task (methods with num_tasks > 1 prompt per task)
//     task_classes: {sentiment: [negative, positive], topic: [food, film]}   # classification: the classes
//                                           #   each task scores over (others -inf); unlisted tasks: all
//     data: {...}                           # decoded by data::DatasetConfig (framework/data)
//
// The task is built for one tokenizer and one backbone kind (models::BackboneInfo):
//  - verbalizer mode `auto` resolves to mlm for encoder-only models (BERT), next_token for decoder-only
//    models, and generate for encoder-decoder models (T5 produces the label word as text);
//  - a template that names no special token ({bos} {eos} {sep} {cls}) is wrapped in the tokenizer's own
//    single-sequence template ([CLS] ... [SEP] for BERT, <s> ... for Llama, ... </s> for T5, nothing for
//    GPT-2) — as PET and OpenPrompt do; a template that names one is used exactly as written;
//  - classes follow the dataset's label order (data.labels, else the label_map's classes), so that a
//    class index means the same to the data, the verbalizer and the metrics.
#pragma once

#include "framework/config/reader.h"
#include "framework/core/registry.h"
#include "framework/data/dataset_config.h"
#include "framework/data/example.h"
#include "framework/models/backbone.h"
#include "framework/text/tokenizer.h"
#include "tasks/metrics.h"
#include "tasks/template.h"
#include "tasks/verbalizer.h"

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ptlab::tasks {

/// One pattern-verbalizer pair (PET): the names of a template (in `templates`; "" = the `template` key)
/// and a verbalizer (in `verbalizers`; "" = the `verbalizer` key).
struct PatternVerbalizerPair {
  std::string template_name;
  std::string verbalizer_name;
  std::string where;  ///< its key path and file ("task.pvps[1] (configs/task/cb.yaml)")
};

struct TaskConfig {
  std::string name;  ///< the task's name (the config group option, "sst2"), for messages and logs
  std::string type = "classification";
  int64_t max_length = 256;

  std::string template_text;                     ///< the chosen template (template_name applied)
  std::string template_where;                    ///< its key path and file, for messages
  std::map<std::string, std::string> templates;  ///< the alternatives, by name
  std::string template_name;                     ///< "" = the `template` key
  std::optional<std::string> template_no_input;  ///< generation only

  std::optional<VerbalizerConfig> verbalizer;  ///< the chosen verbalizer (verbalizer_name applied)
  std::map<std::string, VerbalizerConfig> verbalizers;
  std::string verbalizer_name;

  /// PET's pattern-verbalizer pairs, in order (`pvps:`). Each names a known template with a {mask} slot
  /// and a known verbalizer (else an Error with its key path). Empty: the task has none.
  std::vector<PatternVerbalizerPair> pvps;

  std::vector<std::string> metrics;  ///< empty: the type's default
  /// Mixed-task data: the task names in id order. Each example's task is its meta "task" (map the column
  /// with data.fields.meta.task); its index here becomes RenderedExample::task_id, so methods with
  /// per-task prompts give every example its own task's prompt. Empty: no task ids.
  std::vector<std::string> task_names;
  /// Mixed-task classification: the classes each task scores over, by task name (every other class gets
  /// score -inf for that task's examples, in the loss and in predictions). Tasks not listed score all.
  std::map<std::string, std::vector<std::string>> task_classes;
  std::optional<data::DatasetConfig> data;
  std::string where = "task";  ///< "task (configs/task/sst2.yaml)"

  /// Decodes the `task:` mapping `reader` points at (key path e.g. "task") and calls finish(). An unknown
  /// type, template_name or verbalizer_name is an Error naming the key and the known names.
  static TaskConfig decode(config::Reader reader, const config::Origins& origins, std::string name = "");
  /// Decodes the mapping at `key_path` of a composed config (absent -> Error).
  static TaskConfig from_config(const YAML::Node& root, const config::Origins& origins,
                                const std::string& key_path = "task", std::string name = "");
};

/// What an encoded example is for: training renders the answer into the input where the type needs it
/// (generation appends the target); evaluation renders the prompt only.
enum class Purpose { kTrain, kEval };

class Task {
 public:
  virtual ~Task() = default;

  const TaskConfig& config() const { return config_; }
  const std::string& name() const { return config_.name; }
  const std::string& type() const { return config_.type; }
  const Template& prompt() const { return template_; }
  const text::Tokenizer& tokenizer() const { return *tokenizer_; }
  /// The classification verbalizer; nullptr for the other types.
  const Verbalizer* verbalizer() const { return verbalizer_.get(); }
  /// Mixed-task classification: per task id, whether each class (class-index order) is scored for that
  /// task's examples (task_classes); empty when every task scores every class.
  const std::vector<std::vector<bool>>& task_class_mask() const { return task_class_mask_; }

  /// The example's index in config().task_names (its meta "task"), or -1 when the task has none. An
  /// example without a task name or with an unlisted one is an Error.
  int64_t task_id(const data::Example& example) const;

  /// The class (or tag) names, in class-index order. Empty for generation and lm, and for
  /// token_classification until its tag set is known.
  virtual std::vector<std::string> class_names() const;
  int64_t num_classes() const { return static_cast<int64_t>(class_names().size()); }

  /// token_classification: takes the tag set from `examples` (sorted) unless data.labels lists it; a no-op
  /// for the other types. Call it with the training split before encoding.
  virtual void learn_labels(const std::vector<data::Example>& examples);

  /// One example as model input (see template.h for the fields). Errors name the task and the example.
  virtual RenderedExample encode(const data::Example& example, Purpose purpose) const = 0;

  /// The metrics of this task (config's list or the type's default), over its classes.
  MetricSet make_metrics() const;
  /// The metric names used.
  std::vector<std::string> metric_names() const;

 protected:
  Task(TaskConfig config, const text::Tokenizer& tokenizer, const models::BackboneInfo& backbone);

  virtual std::vector<std::string> default_metrics() const = 0;

  /// Renders with `tmpl` and wraps the result in the tokenizer's single-sequence special tokens when the
  /// template names none (see the header comment). With `prefix_only` only the leading ones are added.
  /// `reserve` tokens of max_length are left free for what the caller appends.
  RenderedExample render(const Template& tmpl, const data::Example& example, bool prefix_only = false,
                         int64_t reserve = 0) const;

  /// Parses the configured template into template_, or `default_text` when none is configured (empty:
  /// the type needs one; an Error says so).
  void set_template(const std::string& default_text);

  /// "task sst2" / "task" — the start of messages.
  std::string where() const;

  TaskConfig config_;
  const text::Tokenizer* tokenizer_;
  models::BackboneInfo backbone_;
  Template template_;
  std::unique_ptr<Verbalizer> verbalizer_;
  std::vector<std::vector<bool>> task_class_mask_;  // [task][class]; empty: all classes for every task
  std::vector<int64_t> special_prefix_, special_suffix_;  // the tokenizer's single-sequence template
};

/// A task type: builds the task for a config, a tokenizer and a backbone kind.
struct TaskType {
  std::function<std::unique_ptr<Task>(const TaskConfig&, const text::Tokenizer&, const models::BackboneInfo&)> make;
};

/// The task-type registry; register_builtin_tasks() fills it with the built-in types once. Projects can
/// add their own types to it.
Registry<TaskType>& task_registry();

/// Registers classification, pair_classification, generation, token_classification and lm (once; thread
/// safe; later calls do nothing).
void register_builtin_tasks();

/// Builds the task of `config` (registering the built-ins first). `tokenizer` must outlive the task.
std::unique_ptr<Task> make_task(const TaskConfig& config, const text::Tokenizer& tokenizer,
                                const models::BackboneInfo& backbone);

}  // namespace ptlab::tasks
