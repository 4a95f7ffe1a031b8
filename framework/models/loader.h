// load_backbone(dir): reads config.json, picks the family from model_type through the model-family
// registry, builds the module and loads its weights. register_builtin_models() adds one entry per family.
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

/// model_type -> builder ("llama", "qwen2", "mistral", "gpt2", "gpt_neox", "bert", "roberta", "t5").
const Registry<FamilyBuilder>& model_families();

/// Loads DIR (config.json + weights) as a frozen backbone. An unsupported model_type is an Error naming
/// the supported ones.
std::shared_ptr<Backbone> load_backbone(const std::string& dir, const LoadOptions& options = {});

}  // namespace ptlab::models
