// PPT: Pre-trained Prompt Tuning (Gu et al. 2022, ACL; METHODS.md §3.4 and §4.5). A soft prompt is first
// trained with self-supervised tasks on unlabeled text (ppt_formats.h: nsp, nss, cls, unified), then used
// as the initial value of prompt tuning on the downstream task. Its output, the pre-trained prompt, is a
// prompt.safetensors any prompt method loads with its `file` init:
//
//   ptlab train method=ppt method.stop_after=pretrain          # pre-train only; prints the prompt's path
//   ptlab train task=sst2 method=prompt_tuning method.init=file method.init_file=<cache>/prompt.safetensors
//   ptlab train task=sst2 method=ppt                           # both: the transfer is the pipeline's last stage
//
// `method=ppt` is a PIPELINE (launchers/pipeline.h, launchers/ppt_pipeline.cpp), not a Method:
//   data      the corpus -> the format's examples -> train.jsonl / dev.jsonl (inspectable, with provenance)
//             in the pre-training directory; for cls a labeler stage first predicts the corpus' classes
//             with a trained classifier (method.labeler: its run directory), writing labels.jsonl
//   pretrain  prompt tuning (name prompt_tuning, method.length tokens, init method.init — `mask`, the
//             paper's: every row the <mask> embedding) on that data, the format's template and verbalizer,
//             and the trainer with method.pretrain_trainer's keys set
//   final     prompt tuning on the downstream `task:` with init: file = the pre-trained prompt.safetensors
//             (method.transfer_method's keys added), in the pipeline's own run directory
//
// The cache. Pre-training depends neither on the downstream task nor on its seed, so it runs once in
//   <cache_dir>/<format>-<16 hex digits>/     (cache_dir default: ${paths.outputs}/ppt_pretrain)
// keyed by the FNV-1a hash of what defines it (key.yaml there lists it): the model (path and dtype), the
// format and its sizes, the corpus (absolute path, byte size and modification time), the labeler, the
// template, the verbalizer, the prompt length and init, method.pretrain_method, the resolved pre-training
// trainer and method.seed (the pre-training seed; runtime.seed is the downstream seed). A complete cache
// directory (its summary.json says completed) is reused; an interrupted one resumes like any stage.
// Trainer keys that pretrain_trainer does not set come from `trainer:` and so enter the key: sweeping
// trainer.optimizer.lr downstream re-pre-trains unless pretrain_trainer sets its own lr (ppt.yaml does).
// Concurrency: sweep trials of one process run one after another, so the second trial finds the first's
// cache complete. Two PROCESSES starting the same pre-training at once (mpirun/slurm sweeps, parallel
// `ptlab train`) would both write the one directory: run the pre-training alone first (stop_after:
// pretrain), or give method.pretrained.
//
//   method:                       # configs/method/ppt.yaml
//     name: ppt
//     format: nsp                 # nsp | nss | cls | unified
//     corpus: ${paths.shared}/corpus/brown/brown.txt
//     corpus_limit: 0             # read only the first N sentences (0 = all)
//     block_sentences: 10         # pseudo-document size when the corpus has no blank lines
//     train_examples: 2000        # generated pre-training examples (cls: at most train + dev of the kept
//     dev_examples: 200           #   sentences, of which dev_examples but at most a tenth are the dev split)
//     options: 4                  # nss: K options
//     min_options: 2              # unified: K drawn per example in [min_options, max_options]
//     max_options: 4
//     labeler: null               # cls: the run directory of a trained classifier
//     min_confidence: 0.0         # cls: keep predictions at least this probable
//     template: null              # null: the format's (ppt.cpp); cls: the labeler task's
//     verbalizer: null            # null: the format's (nsp: yes / maybe / no; nss/unified: the letters)
//     max_length: 128             # task.max_length of the pre-training task
//     seed: 0                     # pre-training seed (data draw, prompt init, data order)
//     length: 20                  # virtual tokens, pre-training and transfer
//     init: mask                  # the pre-training init (any prompt_tuning init)
//     pretrain_method: {}         # more prompt_tuning keys for pre-training (init_text, sample_top_k, ...)
//     pretrain_trainer: {...}     # trainer keys for pre-training (dotted paths allowed: optimizer.lr)
//     transfer_method: {}         # more prompt_tuning keys for the downstream stage
//     pretrained: null            # a prompt.safetensors (or run directory holding one): skip pre-training
//     stop_after: null            # pretrain: stop after pre-training (no downstream task needed)
//     cache_dir: null             # null: ${paths.outputs}/ppt_pretrain
//
// The unified format (Unified PPT): every task is multiple choice with its options in the input. The
// pre-training is nss with a varying number of options in the unified template; downstream, the pipeline
// picks the task's `unified` template and verbalizer (task.templates.unified, task.verbalizers.unified:
// the classes listed as lettered options, answered by letter) unless task.template_name is set.
#pragma once

#include "framework/config/reader.h"
#include "methods/ppt/ppt_formats.h"

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <optional>
#include <string>

namespace ptlab::methods::ppt {

struct PptConfig {
  Format format = Format::kNsp;
  std::string corpus;
  int64_t corpus_limit = 0;
  int64_t block_sentences = 10;
  int64_t train_examples = 2000;
  int64_t dev_examples = 200;
  int64_t options = 4;
  int64_t min_options = 2;
  int64_t max_options = 4;
  std::optional<std::string> labeler;
  double min_confidence = 0.0;
  std::optional<std::string> template_text;
  YAML::Node verbalizer;  ///< null: the format's
  int64_t max_length = 128;
  uint64_t seed = 0;
  int64_t length = 20;
  std::string init = "mask";
  YAML::Node pretrain_method;   ///< mapping (maybe empty)
  YAML::Node pretrain_trainer;  ///< mapping (maybe empty)
  YAML::Node transfer_method;   ///< mapping (maybe empty)
  std::optional<std::string> pretrained;
  std::optional<std::string> stop_after;  ///< "pretrain"
  std::optional<std::string> cache_dir;
  std::string where = "method";

  /// Decodes the `method:` mapping (name ppt). Errors name the key path: an unknown format, options < 2 or
  /// > 26, min_options > max_options, sizes < 1 (dev_examples >= 0), length < 1, cls without labeler, a
  /// labeler with another format, min_confidence outside [0, 1], stop_after other than pretrain, a
  /// non-mapping pretrain_method / pretrain_trainer / transfer_method.
  static PptConfig decode(const YAML::Node& method, const config::Origins& origins, const std::string& where = "method");

  std::string at(const std::string& key) const { return where + "." + key; }
};

/// The format's default template: the answer slot last, so that causal LMs see both texts before it (the
/// paper's T5 template "{text_a} ? {mask} , {text_b}" suits MLMs and T5; set method.template for it).
std::string default_template(Format format);
/// The format's default verbalizer mapping ({mode: auto, label_words: {...}}); cls: null (the labeler's).
YAML::Node default_verbalizer(Format format, int64_t max_options);

/// The pre-training `task:` mapping: type, template, verbalizer, labels, and data reading train.jsonl /
/// dev.jsonl of `data_dir` (fields text_a, text_b, label, meta.task). unified: task_names options2..optionsK
/// with task_classes, so each example scores over its own options. cls: `labeler_task` (the labeler's
/// task mapping) gives the type, template and verbalizer unless the config sets them; labels = `labels`.
YAML::Node pretraining_task(const PptConfig& config, const std::string& data_dir, const YAML::Node& labeler_task,
                            const std::vector<std::string>& labels);

}  // namespace ptlab::methods::ppt
