// The parity dispatch table (parity.h): how each ptlab method replays PEFT's golden runs. A method that
// lands with PEFT goldens adds one entry here.
#include "framework/core/error.h"
#include "framework/io/safetensors.h"
#include "launchers/parity.h"
#include "methods/mpt/mpt.h"
#include "methods/p_tuning/p_tuning.h"
#include "methods/prefix_tuning/prefix_tuning.h"

#include <ATen/core/grad_mode.h>
#include <unistd.h>
#include <fstream>
#include <filesystem>
#include <map>

namespace ptlab::launchers {
namespace {

// The golden's adapter_final/adapter_model.safetensors: what PEFT saved after training.
struct SavedAdapter {
  std::string path;
  std::map<std::string, at::Tensor> tensors;

  explicit SavedAdapter(const GoldenRun& golden)
      : path(golden.dir + "/adapter_final/adapter_model.safetensors"), tensors(io::load_safetensors(path)) {}

  // Records in report.final_state how far `ours` (what ptlab holds as PEFT's tensor `key`, described by
  // `what`) is from PEFT's saved one. A missing tensor or another shape is an Error naming the file.
  void compare(const std::string& key, const at::Tensor& ours, const std::string& what, ParityReport& report) const {
    PTLAB_CHECK(tensors.count(key), "{}: no tensor '{}' (PEFT's saved adapter)", path, key);
    const at::Tensor& expected = tensors.at(key);
    PTLAB_CHECK(ours.sizes() == expected.sizes(), "{}: {} is {} but {} is {}", path, key, c10::str(expected.sizes()),
                what, c10::str(ours.sizes()));
    const double diff = (ours.to(at::kDouble) - expected.to(at::kDouble)).abs().max().item<double>();
    report.final_state.push_back(TensorDiff{"adapter_final/adapter_model.safetensors:" + key, diff,
                                            expected.abs().max().item<double>(), report.tolerances.state_absolute});
  }
};

// PEFT's PROMPT_TUNING: the table "embedding.weight" is ptlab's "prompt"; RANDOM is nn.Embedding's N(0, 1)
// (ptlab's normal init draws it bit for bit), TEXT the embeddings of the init text, SAMPLE_VOCAB rows of
// the whole vocabulary.
ParityMethod prompt_tuning() {
  ParityMethod entry;
  entry.method = "prompt_tuning";
  entry.peft_methods = {"prompt_random", "prompt_text"};
  entry.config = [](const GoldenRun& golden) {
    YAML::Node config;
    config["name"] = "prompt_tuning";
    config["length"] = golden.num_virtual_tokens;
    const std::string init = golden.adapter_value<std::string>("prompt_tuning_init");
    if (init == "RANDOM") {
      config["init"] = "normal";
      config["init_std"] = 1.0;
    } else if (init == "TEXT") {
      config["init"] = "text";
      config["init_text"] = golden.adapter_value<std::string>("prompt_tuning_init_text");
    } else if (init == "SAMPLE_VOCAB") {
      config["init"] = "sampled_vocab";
      config["sample_top_k"] = 0;
    } else {
      PTLAB_FAIL(
          "{}/result.json: adapter_init.adapter_config.prompt_tuning_init is '{}'; PEFT's are RANDOM, TEXT and "
          "SAMPLE_VOCAB",
          golden.dir, init);
    }
    return config;
  };
  entry.parameter_name = [](const std::string& peft_name) {
    return peft_name == "embedding.weight" ? std::string("prompt") : peft_name;
  };
  return entry;
}

// PEFT's PREFIX_TUNING: its PrefixEncoder's tensors keep their names ("embedding.weight" -> "embedding",
// "transform.0.weight", ...). Beyond the generic replay: the key/value sizing is PEFT's, and the flat prefix
// after training is what PEFT saved in adapter_final.
ParityMethod prefix_tuning() {
  ParityMethod entry;
  entry.method = "prefix_tuning";
  entry.peft_methods = {"prefix", "prefix_proj", "prefix_kvfix", "prefix_proj_kvfix"};
  entry.config = [](const GoldenRun& golden) {
    YAML::Node config;
    config["name"] = "prefix_tuning";
    config["length"] = golden.num_virtual_tokens;
    if (golden.adapter_value<bool>("prefix_projection")) {
      config["prefix_projection"] = true;
      config["encoder_hidden_size"] = golden.adapter_value<int64_t>("encoder_hidden_size");
    }
    return config;
  };
  entry.parameter_name = [](const std::string& peft_name) {
    return peft_name == "embedding.weight" ? std::string("embedding") : peft_name;
  };
  entry.extra_checks = [](methods::Method& method, const GoldenRun& golden, ParityReport& report) {
    auto& prefix = dynamic_cast<methods::PrefixTuning&>(method);
    const int64_t token_dim = golden.adapter_value<int64_t>("token_dim");
    const int64_t heads = golden.adapter_value<int64_t>("num_attention_heads");
    report.checks.push_back({"the key/value width " + std::to_string(prefix.kv_dim()) + " (" +
                                 std::to_string(prefix.kv_heads()) + " heads) is PEFT's token_dim " +
                                 std::to_string(token_dim) + " (num_attention_heads " + std::to_string(heads) + ")",
                             prefix.kv_dim() == token_dim && prefix.kv_heads() == heads});
    if (!report.final_state_compared) return;
    method.eval();
    const at::Tensor flat = [&] {
      at::NoGradGuard no_grad;
      return prefix.flat_prefix();  // [P, 2 L d_kv]
    }();
    SavedAdapter(golden).compare("prompt_embeddings", flat, "ptlab's flat prefix", report);
  };
  return entry;
}

// PEFT's P_TUNING: its PromptEncoder's tensors keep their names ("embedding.weight" -> "embedding",
// "mlp_head.0.weight", "lstm_head.weight_ih_l0", ...). Beyond the generic replay: the folded prompt after
// training (the encoder's output) is what PEFT saved in adapter_final.
ParityMethod p_tuning() {
  ParityMethod entry;
  entry.method = "p_tuning";
  entry.peft_methods = {"ptuning_mlp", "ptuning_lstm"};
  entry.config = [](const GoldenRun& golden) {
    YAML::Node config;
    config["name"] = "p_tuning";
    config["length"] = golden.num_virtual_tokens;
    config["encoder_hidden_size"] = golden.adapter_value<int64_t>("encoder_hidden_size");
    const std::string type = golden.adapter_value<std::string>("encoder_reparameterization_type");
    if (type == "LSTM") {
      config["encoder"] = "lstm";
      config["encoder_num_layers"] = golden.adapter_value<int64_t>("encoder_num_layers");
      config["encoder_dropout"] = golden.adapter_value<nlohmann::json>("encoder_dropout").get<double>();
    } else {
      PTLAB_CHECK(type == "MLP",
                  "{}/result.json: adapter_init.adapter_config.encoder_reparameterization_type is '{}'; PEFT's are "
                  "MLP and LSTM",
                  golden.dir, type);
      config["encoder"] = "mlp";
    }
    return config;
  };
  entry.parameter_name = [](const std::string& peft_name) {
    return peft_name == "embedding.weight" ? std::string("embedding") : peft_name;
  };
  entry.extra_checks = [](methods::Method& method, const GoldenRun& golden, ParityReport& report) {
    if (!report.final_state_compared) return;
    SavedAdapter(golden).compare("prompt_embeddings", dynamic_cast<methods::PTuning&>(method).peft_prompt_embeddings(),
                                 "ptlab's folded prompt", report);
  };
  return entry;
}

// PEFT's CPT (golden/cpt/<model>/<variant>, their own layout: GoldenRun::read names them "cpt"). The replay
// is replay_cpt_golden() (parity_cpt.cpp, reached through the flavour "cpt"); this entry gives its config:
// the explicit context and options of cpt_config. PEFT's embedding.weight is ptlab's frozen
// context_embeddings, delta_embedding.weight its "delta".
ParityMethod cpt() {
  ParityMethod entry;
  entry.method = "cpt";
  entry.peft_methods = {"cpt"};
  entry.config = [](const GoldenRun& golden) {
    YAML::Node config;
    config["name"] = "cpt";
    config["context_examples"] = YAML::Node(YAML::NodeType::Null);
    for (int64_t id : golden.adapter_value<std::vector<int64_t>>("cpt_token_ids")) config["context_token_ids"].push_back(id);
    for (int64_t t : golden.adapter_value<std::vector<int64_t>>("cpt_tokens_type_mask"))
      config["context_type_mask"].push_back(t);
    config["epsilon_input"] = golden.adapter_value<double>("opt_projection_epsilon");
    config["epsilon_format"] = golden.adapter_value<double>("opt_projection_format_epsilon");
    config["loss_weighting"] = golden.adapter_value<std::string>("opt_weighted_loss_type");
    config["decay_factor"] = golden.adapter_value<double>("opt_loss_decay_factor");
    return config;
  };
  entry.parameter_name = [](const std::string& peft_name) {
    return peft_name == "delta_embedding.weight" ? std::string("delta")
           : peft_name == "embedding.weight"     ? std::string("context_embeddings")
                                                 : peft_name;
  };
  return entry;
}

// PEFT's MULTITASK_PROMPT_TUNING: "embedding.weight" is ptlab's "prompt", "prefix_task_cols" / "_rows" its
// "task_cols" / "task_rows" (all rows: T5's decoder half trains too). Beyond the generic replay: the adapter
// ptlab exports after training holds PEFT's adapter_final tensors, its adapter_config.json PEFT's fields,
// and it loads back.
ParityMethod mpt() {
  ParityMethod entry;
  entry.method = "mpt";
  entry.peft_methods = {"multitask"};
  entry.config = [](const GoldenRun& golden) {
    YAML::Node config;
    config["name"] = "mpt";
    config["length"] = golden.num_virtual_tokens;
    config["num_tasks"] = golden.adapter_value<int64_t>("num_tasks");
    config["rank"] = golden.adapter_value<int64_t>("num_ranks");
    const std::string init = golden.adapter_value<std::string>("prompt_tuning_init");
    if (init == "RANDOM") {
      config["init"] = "normal";
      config["init_std"] = 1.0;
    } else if (init == "TEXT") {
      config["init"] = "text";
      config["init_text"] = golden.adapter_value<std::string>("prompt_tuning_init_text");
    } else {
      PTLAB_FAIL("{}/result.json: prompt_tuning_init '{}' needs a source checkpoint; the replay knows RANDOM and TEXT",
                 golden.dir, init);
    }
    return config;
  };
  entry.parameter_name = [](const std::string& peft_name) {
    if (peft_name == "embedding.weight") return std::string("prompt");
    if (peft_name == "prefix_task_cols") return std::string("task_cols");
    if (peft_name == "prefix_task_rows") return std::string("task_rows");
    return peft_name;
  };
  entry.extra_checks = [](methods::Method& method, const GoldenRun& golden, ParityReport& report) {
    if (!report.final_state_compared) return;
    namespace fs = std::filesystem;
    const fs::path dir = fs::temp_directory_path() / ("ptlab_parity_mpt_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    method.save_exports(dir.string());
    const SavedAdapter saved(golden);
    const std::string ours_path = (dir / "adapter" / "adapter_model.safetensors").string();
    const auto ours = io::load_safetensors(ours_path);
    for (const std::string key : {"prompt_embeddings", "prefix_task_cols", "prefix_task_rows"}) {
      PTLAB_CHECK(ours.count(key), "{}: no tensor '{}' in ptlab's exported MPT adapter", ours_path, key);
      saved.compare(key, ours.at(key), "ptlab's export", report);
    }
    // adapter_config.json: PEFT's fields and values, but for the base model's path (and SEQ_CLS, a task type
    // PEFT took from its caller: ptlab exports the adapter of a model without its classifier).
    std::ifstream peft_in(golden.dir + "/adapter_final/adapter_config.json");
    std::ifstream ours_in(dir / "adapter" / "adapter_config.json");
    nlohmann::json peft_config = nlohmann::json::parse(peft_in), our_config = nlohmann::json::parse(ours_in);
    for (nlohmann::json* c : {&peft_config, &our_config}) {
      c->erase("base_model_name_or_path");
      if (golden.flavour == "seqcls") c->erase("task_type");
    }
    report.checks.push_back({"ptlab's exported adapter_config.json has PEFT's fields and values", peft_config == our_config});
    // The export loads back.
    const auto before = method.export_state();
    method.load_state((dir / "adapter").string());
    bool same = true;
    for (const auto& [name, tensor] : method.export_state()) same = same && at::equal(tensor, before.at(name));
    report.checks.push_back({"ptlab's exported MPT adapter loads back unchanged", same});
    fs::remove_all(dir);
  };
  return entry;
}

}  // namespace

const std::vector<ParityMethod>& parity_methods() {
  static const std::vector<ParityMethod> table = {prompt_tuning(), prefix_tuning(), p_tuning(), cpt(), mpt()};
  return table;
}

}  // namespace ptlab::launchers
