// CPT <-> PEFT: the adapter a run exports next to prompt.safetensors (PEFT 0.14's CPT save_pretrained
// layout), and loading such a directory as the method's state.
#include "framework/core/error.h"
#include "framework/io/peft_adapter.h"
#include "framework/io/peft_files.h"
#include "framework/io/safetensors.h"
#include "methods/cpt/cpt.h"

#include <ATen/core/grad_mode.h>

#include <filesystem>

namespace ptlab::methods {
namespace fs = std::filesystem;

void Cpt::save_exports(const std::string& dir) {
  const auto& info = backbone_->info();
  fs::path config_path = backbone_->config().path();
  const std::string base =
      config_path.filename() == "config.json" ? config_path.parent_path().string() : config_path.string();
  nlohmann::json c = nlohmann::json::object();
  c["auto_mapping"] = nullptr;
  c["base_model_name_or_path"] = base;
  c["cpt_mask"] = std::vector<int64_t>(context_.token_ids.size(), 1);
  c["cpt_token_ids"] = context_.token_ids;
  c["cpt_tokens_type_mask"] = context_.type_mask;
  c["inference_mode"] = true;
  c["num_attention_heads"] = info.num_heads;
  c["num_layers"] = info.num_layers;
  c["num_transformer_submodules"] = 1;
  c["num_virtual_tokens"] = length();
  c["opt_loss_decay_factor"] = config_.decay_factor;
  c["opt_projection_epsilon"] = config_.epsilon_input;
  c["opt_projection_format_epsilon"] = config_.epsilon_format;
  c["opt_weighted_loss_type"] = config_.loss_weighting == CptLossWeighting::kDecay ? "decay" : "none";
  c["peft_type"] = "CPT";
  c["revision"] = nullptr;
  c["task_type"] = "CAUSAL_LM";
  c["token_dim"] = info.hidden_size;
  c["tokenizer_name_or_path"] = base;
  io::peft_files::write_files(
      (fs::path(dir) / "adapter").string(), {{"prompt_embeddings", peft_prompt_embeddings()}}, c,
      fmt::format("---\nlibrary_name: peft\nbase_model: {}\n---\n\n# CPT adapter\n\n"
                  "Produced by ptlab, not by PEFT itself: a context of {} tokens (the embeddings of its in-context "
                  "demonstrations plus the trained, projected offsets).\n\n"
                  "Load it with Hugging Face PEFT:\n\n"
                  "    from peft import PeftModel\n"
                  "    model = PeftModel.from_pretrained(base_model, \"path/to/this/directory\")\n",
                  base, length()),
      "PEFT CPT adapter");
}

void Cpt::load_state(const std::string& path) {
  if (!fs::is_directory(path)) {
    Method::load_state(path);
    return;
  }
  const std::string config_path = (fs::path(path) / io::peft_files::kConfigFile).string();
  const nlohmann::json json = io::peft_files::read_config(path);
  io::peft_files::ConfigReader reader(json, config_path);
  const std::string type = reader.string("peft_type");
  PTLAB_CHECK(type == "CPT", "{}: peft_type is '{}' but method cpt loads CPT adapters", config_path, type);
  auto int_list = [&](const std::string& key) {
    const nlohmann::json& value = reader.raw(key);
    PTLAB_CHECK(value.is_array() && std::all_of(value.begin(), value.end(),
                                                [](const nlohmann::json& v) { return v.is_number_integer(); }),
                "{}: '{}' must be a list of integers", config_path, key);
    return value.get<std::vector<int64_t>>();
  };
  CptContext ctx;
  ctx.token_ids = int_list("cpt_token_ids");
  ctx.type_mask = int_list("cpt_tokens_type_mask");
  const std::string weights = io::peft_files::weights_path(path);
  const auto tensors = io::load_safetensors(weights);
  PTLAB_CHECK(tensors.count("prompt_embeddings"), "{} has no tensor 'prompt_embeddings' (CPT's context rows)", weights);
  const at::Tensor table = tensors.at("prompt_embeddings");
  const int64_t n = static_cast<int64_t>(ctx.token_ids.size());
  PTLAB_CHECK(ctx.type_mask.size() == ctx.token_ids.size() && table.dim() == 2 && table.size(0) == n &&
                  table.size(1) == backbone_->info().hidden_size,
              "{}: {} context ids, {} type ids and prompt_embeddings {} must agree ([n, d] with d = {})", path, n,
              ctx.type_mask.size(), c10::str(table.sizes()), backbone_->info().hidden_size);
  set_context(std::move(ctx));  // base = E[ids], delta = 0
  at::NoGradGuard no_grad;
  base_.copy_(table);  // PEFT's from_pretrained: the saved rows become the frozen embedding, the offset stays 0
}

}  // namespace ptlab::methods
