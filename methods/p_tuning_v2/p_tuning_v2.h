// P-Tuning v2 (Liu et al. 2022, "P-Tuning v2: Prompt Tuning Can Be Comparable to Fine-tuning Universally
// Across Scales and Tasks"; THUDM/P-tuning-v2's *PrefixFor{Sequence,Token}Classification): deep prompts —
// P trained key/value positions in front of every attention layer, exactly Prefix Tuning's PrefixEncoder
// (this class derives from PrefixTuning: same parameters, split, placement and PEFT prefix adapter) — plus
// a randomly initialised linear task head instead of a verbalizer.
//
//   method:                     # configs/method/p_tuning_v2.yaml
//     name: p_tuning_v2
//     length: 8                 # P (THUDM's --pre_seq_len: default 4, its run scripts 8..224)
//     prefix_projection: false  # THUDM's default: no reparameterisation
//     encoder_hidden_size: null # projection only; THUDM's --prefix_hidden_size is 512
//     init: normal              # normal | zero (see prefix_tuning.h)
//     prefix_dropout: 0.1       # THUDM's hidden_dropout_prob on the prefix
//     head: linear              # linear | verbalizer
//
// head: linear (the paper's setting) — the method owns a tasks::LinearHead (methods/task_head.h, the same
// code as the linear_head baseline), parameters "head.weight" [C, d] and "head.bias" [C]:
//  - sequence classification: on the hidden state the task verbalizer's `pooling` names ([CLS] = cls,
//    BERT's pooler output = pooler, the last token = last, or the mask); the verbalizer must be in mode
//    linear_head (task.verbalizer_name=linear_head);
//  - token classification (task=brown_pos): on every position's last hidden state. Prefix positions sit in
//    the attention keys only, so hidden states line up with the task's token_labels.
// head: verbalizer — no head: the task's verbalizer scores with label words (mlm / next_token), as prefix
// tuning does; the task's verbalizer must not be linear_head, and token tasks need head=linear.
//
// Exports: dir/adapter is PEFT's PREFIX_TUNING adapter (prefix_tuning_peft.cpp) with the head where PEFT
// keeps a modules_to_save classifier: "base_model.classifier.{weight,bias}", task_type SEQ_CLS (TOKEN_CLS
// for token tasks) — what PeftModelForSequenceClassification / ForTokenClassification load into
// BertFor*Classification's `classifier`. That model applies it to the pooler output (sequence) or to every
// token, so the adapter means the same thing in PEFT for pooling: pooler and for token tasks (checked byte
// for byte against ../shared/golden/peft/bert_seqcls/prefix). Not matched: decoder-only
// *ForSequenceClassification models (GPT-2, GPT-NeoX, Llama) call their head `score` and give it no bias, so
// PEFT would not load this head into them as it is; their prefix loads (ptlab reads the adapter back whole).
#pragma once

#include "methods/prefix_tuning/prefix_tuning.h"
#include "tasks/linear_head.h"

#include <memory>
#include <string>

namespace ptlab::methods {

enum class PTuningV2Head { kLinear, kVerbalizer };

struct PTuningV2Config {
  PrefixTuningConfig prefix;  ///< with P-Tuning v2's defaults: length 8, prefix_dropout 0.1
  PTuningV2Head head = PTuningV2Head::kLinear;

  /// Decodes the `method:` mapping (head, then the prefix keys) and calls reader.finish(). Errors name the
  /// key path: an unknown head, and those of PrefixTuningConfig::decode.
  static PTuningV2Config decode(config::Reader reader);
};

class PTuningV2 final : public PrefixTuning {
 public:
  /// The prefix (see PrefixTuning) and, with head=linear, the task head. Errors: a verbalizer mode that does
  /// not fit the head (head=linear: not linear_head on a classification task; head=verbalizer: linear_head,
  /// or a token task), a task type without classes or tags, and PrefixTuning's.
  PTuningV2(PTuningV2Config config, const MethodContext& context);

  static std::unique_ptr<Method> make(config::Reader reader, const MethodContext& context);

  std::string name() const override { return "p_tuning_v2"; }
  tasks::LinearHeadImpl* head() override { return head_ ? head_.get() : nullptr; }

  /// dir/adapter: the PEFT prefix adapter plus, with a head, base_model.classifier.{weight,bias}.
  void save_exports(const std::string& dir) override;
  /// A prompt.safetensors, or a PEFT prefix adapter directory (ours or PEFT's): the prefix as prefix_tuning
  /// loads it and, with a head, its base_model.classifier.{weight,bias}. Errors: an adapter without a
  /// classifier for a method with a head, a classifier of another shape.
  void load_state(const std::string& path) override;

 private:
  PTuningV2Head head_kind_;
  tasks::LinearHead head_{nullptr};
  std::string peft_task_type_;  ///< with a head: SEQ_CLS, or TOKEN_CLS for token tasks
};

}  // namespace ptlab::methods
