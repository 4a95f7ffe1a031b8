// Prefix Tuning <-> PEFT: the adapter a run exports next to prompt.safetensors, and loading a PEFT prefix
// adapter directory as the method's state (`ptlab eval --from adapter_dir`).
#include "framework/core/error.h"
#include "framework/io/peft_adapter.h"
#include "framework/io/peft_prefix_adapter.h"
#include "methods/prefix_tuning/prefix_tuning.h"

#include <ATen/core/grad_mode.h>

#include <filesystem>

namespace ptlab::methods {
namespace fs = std::filesystem;

io::PeftPrefixAdapter PrefixTuning::peft_adapter() {
  PTLAB_ASSERT(peft_layout(), "a PEFT prefix adapter of ptlab's own T5 layout");
  const models::BackboneInfo& info = backbone_->info();
  io::PeftPrefixAdapter adapter;
  io::PeftPrefixConfig& c = adapter.config;
  const fs::path config_path = backbone_->config().path();
  c.base_model_name_or_path =
      config_path.filename() == "config.json" ? config_path.parent_path().string() : config_path.string();
  c.task_type = io::peft_task_type(info.family, /*sequence_classification=*/false);
  c.num_transformer_submodules = io::peft_num_transformer_submodules(c.task_type);
  c.num_virtual_tokens = length();
  c.token_dim = kv_dim();
  c.num_attention_heads = kv_heads_;
  c.num_layers = layers_;
  c.prefix_projection = config_.prefix_projection;
  c.encoder_hidden_size = config_.encoder_hidden_size.value_or(kv_dim());
  at::NoGradGuard no_grad;
  const bool was_training = is_training();
  eval();  // the exported prefix is the one inference sees: no dropout
  adapter.prompt_embeddings = flat_prefix().to(at::kCPU, at::kFloat).contiguous();  // [P, 2L d_kv]
  train(was_training);
  return adapter;
}

void PrefixTuning::save_exports(const std::string& dir) {
  // ptlab's own T5 layout (explicit stacks) has no PEFT equivalent: prompt.safetensors is its only file.
  if (!peft_layout()) return;
  io::export_peft_prefix_adapter((fs::path(dir) / "adapter").string(), peft_adapter());
}

void PrefixTuning::check_peft_layout(const std::string& path) const {
  PTLAB_CHECK(peft_layout(),
              "{}: a PEFT adapter holds PEFT's T5 layout (decoder self-attention only), but {} asks for ptlab's; "
              "load it with {}=null",
              path, config_.at("stacks"), config_.at("stacks"));
}

void PrefixTuning::load_state(const std::string& path) {
  if (!fs::is_directory(path)) {
    Method::load_state(path);
    return;
  }
  check_peft_layout(path);  // before reading anything
  load_peft_prefix(io::import_peft_prefix_adapter(path), path);
}

void PrefixTuning::load_peft_prefix(const io::PeftPrefixAdapter& adapter, const std::string& path) {
  check_peft_layout(path);
  const io::PeftPrefixConfig& c = adapter.config;
  PTLAB_CHECK(c.num_virtual_tokens == length() && c.num_layers == layers_ && c.token_dim == kv_dim(),
              "{}: the adapter's prefix is {} positions x {} layers x key/value width {} but this {} on {} has {} x {} "
              "x {} ({} key/value heads of {}); use an adapter trained on this model with "
              "{}={}",
              path, c.num_virtual_tokens, c.num_layers, c.token_dim, method_name_, backbone_->info().model_type,
              length(), layers_, kv_dim(), kv_heads_, head_dim_, config_.at("length"), c.num_virtual_tokens);
  PTLAB_CHECK(!config_.prefix_projection,
              "{}: a PEFT adapter holds the projection's output, not its MLP weights, so it loads only into "
              "{}=false (the flat prefix becomes the embedding)",
              path, config_.at("prefix_projection"));
  at::NoGradGuard no_grad;
  embedding_.copy_(adapter.prompt_embeddings);
}

}  // namespace ptlab::methods
