// PEFT prefix-tuning adapters (peft_type PREFIX_TUNING): export ptlab's trained prefixes as a directory that
// Hugging Face PEFT loads with `PeftModel.from_pretrained(model, dir)`, and import such directories.
//
// Format (PEFT 0.10.0's save_pretrained, checked byte for byte against ../shared/golden/peft/*/prefix*/
// adapter_{init,final}): adapter_config.json written as python_json_dumps (peft_adapter.h) of the keys
// below; adapter_model.safetensors with metadata {"format":"pt"} and `prompt_embeddings` [P, 2 * L * d_kv]
// float32 — the flat key/value prefix; with prefix_projection it is the MLP's *output* (PEFT saves no MLP
// weights) — plus modules_to_save weights such as `base_model.classifier.{weight,bias}` for SEQ_CLS.
#pragma once

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace ptlab::io {

/// adapter_config.json of PEFT's PrefixTuningConfig (peft_type is always "PREFIX_TUNING").
struct PeftPrefixConfig {
  std::string base_model_name_or_path;
  std::optional<std::string> revision;
  std::string task_type = "CAUSAL_LM";  ///< see io::peft_task_type
  bool inference_mode = true;
  int64_t num_virtual_tokens = 0;          ///< P
  int64_t token_dim = 0;                   ///< d_kv = H_kv * d_head (the hidden size without GQA)
  int64_t num_transformer_submodules = 1;  ///< 2 for SEQ_2_SEQ_LM (the table is still [P, 2 L d_kv])
  int64_t num_attention_heads = 0;         ///< H_kv
  int64_t num_layers = 0;                  ///< L
  int64_t encoder_hidden_size = 0;         ///< the MLP's hidden size (PEFT writes token_dim when unset)
  bool prefix_projection = false;
  nlohmann::json auto_mapping;  ///< null, or PEFT's base-class info
  /// Keys this struct does not model (e.g. "peft_version", "modules_to_save"), written back as read.
  std::map<std::string, nlohmann::json> other_fields;
};

struct PeftPrefixAdapter {
  PeftPrefixConfig config;
  at::Tensor prompt_embeddings;             ///< [P, 2 * L * d_kv] float32
  std::map<std::string, at::Tensor> extra;  ///< other saved tensors as stored
};

/// Writes dir/adapter_config.json, dir/adapter_model.safetensors and a short README.md (creating dir).
/// Errors: non-positive sizes, prompt_embeddings not [P, 2 * L * token_dim] floating point, an extra tensor
/// named prompt_embeddings, other_fields repeating a modelled key, an unwritable dir.
void export_peft_prefix_adapter(const std::string& dir, const PeftPrefixAdapter& adapter);

/// Reads a PEFT prefix adapter directory. Errors (one line, naming the file): missing files, malformed
/// JSON, a field of the wrong type, peft_type other than PREFIX_TUNING, a prompt_embeddings tensor missing
/// or not [num_virtual_tokens, 2 * num_layers * token_dim].
PeftPrefixAdapter import_peft_prefix_adapter(const std::string& dir);

}  // namespace ptlab::io
