// load_backbone(dir): reads config.json, picks the family from model_type through the model-family
// registry, builds the module and loads its weights. register_builtin_models() adds one entry per family.
// save_backbone(backbone, dir) writes the same layout back (config.json + model.safetensors with Hugging
// Face tensor names), so a model ptlab trained loads here and in transformers.
#pragma once

#include "framework/core/registry.h"
#include "framework/models/backbone.h"
#include "framework/models/checkpoint.h"
#include "framework/models/hf_config.h"

#include <functional>
#include <memory>
#include <string>

namespace ptlab::models {

/// Builds a family's module from its config and loads its weights from the checkpoint.
using FamilyBuilder =
    std::function<std::shared_ptr<Backbone>(const HFConfig& config, Checkpoint& weights, const LoadOptions& options)>;

/// Adds the built-in families, one line each (called once, by model_families()).
void register_builtin_models(Registry<FamilyBuilder>& registry);

/// model_type -> builder ("llama", "qwen2", "mistral", "gpt2", "gpt_neox", "bert", "roberta", "t5").
const Registry<FamilyBuilder>& model_families();

/// Loads DIR (config.json + weights) as a frozen backbone. An unsupported model_type is an Error naming
/// the supported ones. A .gguf file is imported once into a cache directory and loaded from there
/// (gguf_import.h).
std::shared_ptr<Backbone> load_backbone(const std::string& dir, const LoadOptions& options = {});

/// Builds the family of `config` from `weights` (a directory's or a random Checkpoint), checks that every
/// tensor was used (Checkpoint::finish), remembers the config and freezes the parameters.
std::shared_ptr<Backbone> build_backbone(const HFConfig& config, Checkpoint& weights, const LoadOptions& options = {});

/// A backbone of `config`'s real shapes with random weights (Checkpoint::random): benchmarks, training
/// from scratch. Frozen like any other; call set_trainable(true) to train it.
std::shared_ptr<Backbone> random_backbone(const HFConfig& config, const LoadOptions& options = {}, uint64_t seed = 0);

/// Writes DIR/config.json (the backbone's config, torch_dtype updated) and DIR/model.safetensors (every
/// parameter under its Hugging Face name; tied weights once, as transformers saves them). DIR is created.
void save_backbone(const Backbone& backbone, const std::string& dir);

/// "fp32"/"float32", "bf16"/"bfloat16", "fp16"/"float16" -> the ScalarType; anything else is an Error.
at::ScalarType parse_dtype(const std::string& name);
/// "cpu", "cuda", "cuda:N" -> the Device; CUDA without a CUDA-enabled LibTorch / GPU is an Error.
at::Device parse_device(const std::string& name);
/// "fp32", "bf16", "fp16" (else LibTorch's name of the type).
std::string dtype_name(at::ScalarType type);

}  // namespace ptlab::models
