// PEFT prompt-tuning adapters: export ptlab's trained prompts as a directory that Hugging Face PEFT loads
// with `PeftModel.from_pretrained(model, dir)`, and import such directories (PEFT's own or ours).
//
// Format (what PEFT 0.10.0's `save_pretrained` writes for PROMPT_TUNING, checked byte for byte against
// ../shared/golden/peft/*/prompt_*/adapter_{init,final}):
//  - adapter_config.json: `json.dumps(config.to_dict(), indent=2, sort_keys=True)` — keys sorted, two-space
//    indent, ", " / ": " separators, non-ASCII escaped as \uXXXX, Python float repr, no trailing newline.
//  - adapter_model.safetensors: metadata {"format":"pt"}; `prompt_embeddings` [n*S, d] (n virtual tokens,
//    S transformer submodules: 2 for SEQ_2_SEQ_LM, whose prompt-tuning forward uses only rows 0..n-1), plus
//    any modules_to_save weights such as `base_model.classifier.{weight,bias}` for SEQ_CLS. Tensors are in
//    the safetensors library's order: by dtype (widest/"largest" first), then by name.
//  - README.md: PEFT writes a model-card template; we write a short card saying ptlab produced the adapter,
//    with the same front matter (library_name: peft, base_model) so the Hub recognises it.
//
// Only prompt tuning is handled here: P-tuning and projected prefix tuning save the *output* of their
// encoders (the encoder weights are not in the file), and prefix tuning saves per-layer KV rows, so those
// adapters are not prompt embeddings and are rejected on import with a message saying so (PREFIX_TUNING
// adapters have their own reader and writer: peft_prefix_adapter.h).
#pragma once

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ptlab::io {

/// The adapter_config.json fields of PEFT's PromptTuningConfig (peft_type is always "PROMPT_TUNING").
/// Defaults are PEFT's; the dimensions must be filled in (PEFT fills them from the base model's config).
struct PeftPromptConfig {
  std::string base_model_name_or_path;        ///< the base model's path or Hub id (PEFT: model.config._name_or_path)
  std::optional<std::string> revision;        ///< the base model's revision; null when unset
  std::string task_type = "CAUSAL_LM";        ///< CAUSAL_LM | SEQ_2_SEQ_LM | SEQ_CLS | TOKEN_CLS | QUESTION_ANS |
                                              ///< FEATURE_EXTRACTION (see peft_task_type)
  bool inference_mode = true;                 ///< PEFT always saves true
  int64_t num_virtual_tokens = 0;             ///< n: virtual tokens per submodule
  int64_t token_dim = 0;                      ///< d: the base model's hidden size
  int64_t num_transformer_submodules = 1;     ///< S: 2 for SEQ_2_SEQ_LM, else 1 (see peft_num_transformer_submodules)
  int64_t num_attention_heads = 0;            ///< the base model's attention heads
  int64_t num_layers = 0;                     ///< the base model's layers
  std::string prompt_tuning_init = "RANDOM";  ///< RANDOM | TEXT | SAMPLE_VOCAB
  std::optional<std::string> prompt_tuning_init_text;       ///< required with TEXT
  std::optional<std::string> tokenizer_name_or_path;        ///< required with TEXT (PEFT loads it to embed the text)
  nlohmann::json tokenizer_kwargs;                          ///< null or an object of AutoTokenizer kwargs
  nlohmann::json auto_mapping;                              ///< null, or PEFT's base-class info when task_type is unset
  std::optional<std::vector<std::string>> modules_to_save;  ///< written only when set: PEFT 0.10.0 writes no such
                                                            ///< key for prompt tuning (newer PEFT does)
  /// Keys this struct does not model (e.g. "peft_version" from newer PEFT), kept on import and written back
  /// as read (a null modules_to_save too), so import + export reproduces a file. Must not repeat a key that
  /// export writes from the typed fields.
  std::map<std::string, nlohmann::json> other_fields;
};

/// A prompt-tuning adapter: the config and the tensors of adapter_model.safetensors.
struct PeftPromptAdapter {
  PeftPromptConfig config;
  at::Tensor prompt_embeddings;             ///< [n*S, d] float32 (import converts other float dtypes)
  std::map<std::string, at::Tensor> extra;  ///< other saved tensors as stored, e.g. base_model.classifier.weight
};

/// Writes dir/adapter_config.json (byte-identical to PEFT's json.dumps output), dir/adapter_model.safetensors
/// (prompt_embeddings as float32 plus `extra` in their own dtypes, in the order PEFT's safetensors writes) and
/// a short dir/README.md, creating dir and its parents. Each file is written atomically (temp + rename).
/// Errors: an invalid config (unknown task_type / prompt_tuning_init, TEXT without init text or tokenizer,
/// non-positive sizes), prompt_embeddings not [n*S, d] floating point, an extra tensor named
/// "prompt_embeddings" or undefined, other_fields repeating a modelled key, an unwritable dir.
void export_peft_prompt_adapter(const std::string& dir, const PeftPromptAdapter& adapter);

/// Reads a PEFT adapter directory (adapter_config.json + adapter_model.safetensors). Errors (one line,
/// naming the file): a missing directory or file (adapter_model.bin: re-save with safe_serialization=True),
/// malformed JSON, a field of the wrong type, peft_type other than PROMPT_TUNING (names the type found),
/// a missing or non-floating prompt_embeddings tensor, a shape other than
/// [num_virtual_tokens * num_transformer_submodules, token_dim], a truncated or corrupt safetensors file.
PeftPromptAdapter import_peft_prompt_adapter(const std::string& dir);

/// The PEFT task type for one of our backbone families ("llama", "gpt2", "gpt_neox", "bert", "t5"):
/// a trained sequence-classification head -> SEQ_CLS (its weights go to PeftPromptAdapter::extra as
/// base_model.<head>.<param>); otherwise gpt2 / gpt_neox / llama -> CAUSAL_LM, t5 -> SEQ_2_SEQ_LM,
/// bert -> FEATURE_EXTRACTION (what PEFT was given for BERT's MLM cloze runs in the goldens: PEFT has no
/// masked-LM task type). Unknown family: Error listing the known ones.
std::string peft_task_type(const std::string& backbone_family, bool sequence_classification);

/// PEFT's default num_transformer_submodules for a task type: 2 for SEQ_2_SEQ_LM (encoder and decoder each
/// get n rows; prompt tuning uses only the first n), else 1.
int64_t peft_num_transformer_submodules(const std::string& task_type);

/// `json.dumps(value, indent=2, sort_keys=True)` of Python's json module, byte for byte (ensure_ascii
/// escapes, float repr such as 1e-05 / 100.0, NaN / Infinity, no trailing newline). Invalid UTF-8: Error.
std::string python_json_dumps(const nlohmann::json& value);

}  // namespace ptlab::io
