#include "framework/models/bert.h"

#include "framework/core/error.h"
#include "framework/core/log.h"
#include "framework/core/suggest.h"
#include "framework/models/activation.h"
#include "framework/models/attention.h"
#include "framework/models/backbone_inputs.h"
#include "framework/models/lm_head.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>

namespace ptlab::models {

namespace fs = std::filesystem;

BertConfig BertConfig::from_hf(const HFConfig& hf) {
  BertConfig c;
  c.model_type = hf.get_string("model_type");
  PTLAB_CHECK(c.model_type == "bert" || c.model_type == "roberta",
              "config.json ({}): model_type '{}' is not a BERT family model (bert, roberta)", hf.path(), c.model_type);
  c.vocab_size = hf.get_int("vocab_size");
  c.hidden_size = hf.get_int("hidden_size");
  c.num_layers = hf.get_int("num_hidden_layers");
  c.num_heads = hf.get_int("num_attention_heads");
  c.intermediate_size = hf.get_int("intermediate_size");
  c.max_position_embeddings = hf.get_int("max_position_embeddings", 512);
  c.type_vocab_size = hf.get_int("type_vocab_size", 2);
  c.layer_norm_eps = hf.get_double("layer_norm_eps", 1e-12);
  c.hidden_act = hf.get_string("hidden_act", "gelu");
  c.pad_token_id = hf.get_int("pad_token_id", c.is_roberta() ? 1 : 0);
  c.tie_word_embeddings = hf.get_bool("tie_word_embeddings", true);
  c.bos_token_id = hf.get_token_id("bos_token_id");
  c.eos_token_id = hf.get_token_id("eos_token_id");

  for (auto [name, value] : {std::pair{"vocab_size", c.vocab_size},
                             {"hidden_size", c.hidden_size},
                             {"num_hidden_layers", c.num_layers},
                             {"num_attention_heads", c.num_heads},
                             {"intermediate_size", c.intermediate_size},
                             {"max_position_embeddings", c.max_position_embeddings},
                             {"type_vocab_size", c.type_vocab_size}}) {
    PTLAB_CHECK(value > 0, "config.json ({}): field '{}' must be positive, got {}", hf.path(), name, value);
  }
  PTLAB_CHECK(c.hidden_size % c.num_heads == 0,
              "config.json ({}): hidden_size {} is not a multiple of num_attention_heads {}", hf.path(), c.hidden_size,
              c.num_heads);
  check_activation(c.hidden_act, fmt::format("config.json ({}): field 'hidden_act'", hf.path()));
  const auto position_type = hf.get_string("position_embedding_type", "absolute");
  PTLAB_CHECK(position_type == "absolute",
              "config.json ({}): position_embedding_type '{}' is not supported; only 'absolute' is", hf.path(),
              position_type);
  PTLAB_CHECK(!hf.get_bool("is_decoder", false),
              "config.json ({}): is_decoder=true (BERT as a causal decoder) is not supported; set it to false",
              hf.path());
  if (c.is_roberta()) {
    PTLAB_CHECK(c.pad_token_id >= 0 && c.pad_token_id + 1 < c.max_position_embeddings,
                "config.json ({}): pad_token_id {} must lie in [0, max_position_embeddings - 1) for RoBERTa positions",
                hf.path(), c.pad_token_id);
  }
  return c;
}

// ---- loading ------------------------------------------------------------------------------------

namespace {

// The weight-name prefix of the encoder: "bert." / "roberta." (task models) or "" (BertModel).
std::string detect_prefix(const BertConfig& c, const Checkpoint& w) {
  const std::string task_prefix = c.model_type + ".";
  if (w.contains(task_prefix + "embeddings.word_embeddings.weight")) return task_prefix;
  if (w.contains("embeddings.word_embeddings.weight")) return "";
  auto names = w.names();
  if (names.size() > 5) names.resize(5);
  PTLAB_FAIL(
      "{}: no {} embeddings found: expected '{}embeddings.word_embeddings.weight' ({}ForMaskedLM, "
      "sequence classification) or 'embeddings.word_embeddings.weight' ({}Model); the checkpoint has {}, ...",
      w.dir(), c.model_type, task_prefix, c.is_roberta() ? "Roberta" : "Bert", c.is_roberta() ? "Roberta" : "Bert",
      join_names(names));
}

// [B, T, H * Dh] -> [B, H, T, Dh] (HF's transpose_for_scores) and back.
at::Tensor split_heads(const at::Tensor& x, int64_t heads) {
  return x.view({x.size(0), x.size(1), heads, x.size(2) / heads}).permute({0, 2, 1, 3});
}
at::Tensor merge_heads(const at::Tensor& x) {
  return x.permute({0, 2, 1, 3}).contiguous().view({x.size(0), x.size(2), x.size(1) * x.size(3)});
}

// Task heads that are not part of the backbone: skipped with one log line.
void skip_task_heads(Checkpoint& w) {
  std::vector<std::string> skipped;
  for (const auto& name : w.names()) {
    if (name.rfind("classifier.", 0) == 0 || name.rfind("cls.seq_relationship.", 0) == 0) {
      w.ignore(name);
      skipped.push_back(name);
    }
  }
  if (!skipped.empty()) {
    log_info("{}: skipping task-head tensors that are not part of the backbone: {}", w.dir(), join_names(skipped));
  }
}

}  // namespace

BertBackbone::BertBackbone(const BertConfig& config, Checkpoint& w, const LoadOptions& opt) : config_(config) {
  const auto& c = config_;
  const int64_t d = c.hidden_size, ff = c.intermediate_size, V = c.vocab_size;
  const std::string base = detect_prefix(c, w);
  auto take = [&](const std::string& name, at::IntArrayRef shape) {
    return register_hf_parameter(*this, name, w.take(name, shape, opt));
  };
  auto take_linear = [&](const std::string& name, int64_t out, int64_t in) {
    return Linear{take(name + ".weight", {out, in}), take(name + ".bias", {out})};
  };
  auto take_norm = [&](const std::string& name) {
    return Norm{take(name + ".weight", {d}), take(name + ".bias", {d})};
  };

  const std::string emb = base + "embeddings.";
  word_embeddings_ = take(emb + "word_embeddings.weight", {V, d});
  position_embeddings_ = take(emb + "position_embeddings.weight", {c.max_position_embeddings, d});
  token_type_embeddings_ = take(emb + "token_type_embeddings.weight", {c.type_vocab_size, d});
  embedding_norm_ = take_norm(emb + "LayerNorm");
  if (w.contains(emb + "position_ids")) w.ignore(emb + "position_ids");  // a buffer older checkpoints carry

  for (int64_t l = 0; l < c.num_layers; ++l) {
    const std::string p = fmt::format("{}encoder.layer.{}.", base, l);
    Layer layer;
    layer.query = take_linear(p + "attention.self.query", d, d);
    layer.key = take_linear(p + "attention.self.key", d, d);
    layer.value = take_linear(p + "attention.self.value", d, d);
    layer.attn_out = take_linear(p + "attention.output.dense", d, d);
    layer.attn_norm = take_norm(p + "attention.output.LayerNorm");
    layer.intermediate = take_linear(p + "intermediate.dense", ff, d);
    layer.output = take_linear(p + "output.dense", d, ff);
    layer.out_norm = take_norm(p + "output.LayerNorm");
    layers_.push_back(std::move(layer));
  }
  if (w.contains(base + "pooler.dense.weight")) {
    pooler_w_ = take(base + "pooler.dense.weight", {d, d});
    pooler_b_ = take(base + "pooler.dense.bias", {d});
  }

  // MLM head: BERT "cls.predictions.{transform.dense, transform.LayerNorm, bias, decoder}",
  // RoBERTa "lm_head.{dense, layer_norm, bias, decoder}".
  const bool roberta = c.is_roberta();
  const std::string head = roberta ? "lm_head." : "cls.predictions.";
  const std::string dense = head + (roberta ? "dense" : "transform.dense");
  if (w.contains(dense + ".weight")) {
    mlm_.dense_w = take(dense + ".weight", {d, d});
    mlm_.dense_b = take(dense + ".bias", {d});
    mlm_.norm = take_norm(head + (roberta ? "layer_norm" : "transform.LayerNorm"));
    // decoder.bias and bias are one parameter in HF; a checkpoint may carry either name or both.
    if (w.contains(head + "bias")) {
      mlm_.bias = take(head + "bias", {V});
      if (w.contains(head + "decoder.bias")) w.ignore(head + "decoder.bias");
    } else {
      mlm_.bias = take(head + "decoder.bias", {V});
    }
    if (c.tie_word_embeddings) {
      mlm_.decoder_w = word_embeddings_;
      if (w.contains(head + "decoder.weight")) w.ignore(head + "decoder.weight");  // tied: a copy of the embeddings
    } else {
      mlm_.decoder_w = take(head + "decoder.weight", {V, d});
    }
  }
  skip_task_heads(w);

  info_.family = "bert";
  info_.model_type = c.model_type;
  info_.num_layers = c.num_layers;
  info_.hidden_size = d;
  info_.num_heads = c.num_heads;
  info_.num_kv_heads = c.num_heads;
  info_.head_dim = d / c.num_heads;
  info_.intermediate_size = ff;
  info_.vocab_size = V;
  info_.max_positions = roberta ? c.max_position_embeddings - c.pad_token_id - 1 : c.max_position_embeddings;
  info_.is_encoder_decoder = false;
  info_.is_causal = false;
  info_.tied_embeddings = has_mlm_head() && c.tie_word_embeddings;
  info_.num_parameters = count_parameters(*this);
  info_.num_embedding_parameters = word_embeddings_.numel() + position_embeddings_.numel() +
                                   token_type_embeddings_.numel() +
                                   (has_mlm_head() && !c.tie_word_embeddings ? mlm_.decoder_w.numel() : 0);
  info_.pad_token_id = c.pad_token_id;
  info_.bos_token_id = c.bos_token_id;
  info_.eos_token_id = c.eos_token_id;
  info_.mask_token_id = find_mask_token_id(w.dir(), roberta ? "<mask>" : "[MASK]");
}

std::shared_ptr<Backbone> build_bert(const HFConfig& config, Checkpoint& weights, const LoadOptions& options) {
  return std::make_shared<BertBackbone>(BertConfig::from_hf(config), weights, options);
}

// ---- forward ------------------------------------------------------------------------------------

at::Tensor BertBackbone::embed(const at::Tensor& ids) const {
  check_token_ids(ids, config_.vocab_size, "BERT input_ids");
  return at::embedding(word_embeddings_, ids);  // [B, T, d]
}

at::Tensor BertBackbone::layer_norm(const at::Tensor& x, const Norm& n) const {
  return at::layer_norm(x, {config_.hidden_size}, n.w, n.b, config_.layer_norm_eps);
}

at::Tensor BertBackbone::position_ids(int64_t batch, int64_t length, int64_t past, const at::Tensor& real) const {
  auto long_opts = at::TensorOptions().dtype(at::kLong).device(word_embeddings_.device());
  if (!config_.is_roberta()) return at::arange(past, past + length, long_opts).unsqueeze(0).expand({batch, length});
  // RoBERTa: padding_idx + (cumulative count of real tokens + past) for real tokens, padding_idx for pads.
  at::Tensor is_real = real.defined() ? real.to(at::kLong) : at::ones({batch, length}, long_opts);  // [B, T]
  return (at::cumsum(is_real, 1) + past) * is_real + config_.pad_token_id;
}

at::Tensor BertBackbone::mlm_logits(const at::Tensor& h, const LogitsRequest& request) const {
  PTLAB_CHECK(has_mlm_head(),
              "{} checkpoint has no MLM head ({}): LM logits are not available, so label words cannot be scored "
              "(verbalizer mode mlm: zero_shot, icl, prompt / prefix tuning with a verbalizer); train a head on its "
              "hidden states instead (method=linear_head or p_tuning_v2 with task.verbalizer_name=linear_head), or "
              "request LogitsRequest::Mode::kNone and use last_hidden_state / pooled",
              config_.model_type, config_.is_roberta() ? "lm_head.*" : "cls.predictions.*");
  // The head transform runs on the chosen positions only: gather first, then score positions 0..K-1.
  LogitsRequest gathered = request;
  at::Tensor x = h;  // [B, T, d]
  if (request.mode == LogitsRequest::Mode::kPositions) {
    x = gather_positions(h, request.positions);  // [B, K, d]
    gathered.positions = at::arange(x.size(1), at::TensorOptions().dtype(at::kLong).device(x.device()));
  }
  x = at::linear(x, mlm_.dense_w, mlm_.dense_b);
  x = apply_activation(config_.is_roberta() ? "gelu" : config_.hidden_act, x);  // RobertaLMHead: always gelu
  x = layer_norm(x, mlm_.norm);
  return compute_logits(x, mlm_.decoder_w, gathered, mlm_.bias);  // [B, T or K, V or V']
}

BackboneOutput BertBackbone::forward(const BackboneInput& in, KVCache* cache) {
  const auto& c = config_;
  const int64_t H = c.num_heads, Dh = c.hidden_size / c.num_heads;
  PTLAB_CHECK(in.input_ids.defined() != in.inputs_embeds.defined(),
              "BERT forward: give exactly one of input_ids [B, T] and inputs_embeds [B, T, d]");
  const auto dtype = word_embeddings_.scalar_type();
  const auto device = word_embeddings_.device();
  at::Tensor words = in.inputs_embeds.defined()
                         ? check_inputs_embeds(in.inputs_embeds, c.hidden_size, dtype, device, "BERT inputs_embeds")
                         : embed(in.input_ids);  // [B, T, d]
  const int64_t B = words.size(0), T = words.size(1);

  // The past (prefix or cache) and the keys each query may see (no causal mask).
  AttentionPast past(in.prefix, cache, c.num_layers, B, H, Dh, dtype, device, "BERT prefix");
  const int64_t P = past.length();
  at::Tensor key_mask = full_key_mask(past, in.attention_mask, B, T, "BERT attention_mask");  // [B, P + T]
  at::Tensor allowed = attention_allowed(key_mask, T, /*causal=*/false);                      // [B, 1, T, P + T]

  // Embeddings: (words + token types) + positions, LayerNorm (HF's order of additions).
  const auto long_opts = at::TensorOptions().dtype(at::kLong).device(device);
  at::Tensor token_types = at::zeros({B, T}, long_opts);
  if (in.token_type_ids.defined()) {
    check_token_ids(in.token_type_ids, c.type_vocab_size, "BERT token_type_ids (below type_vocab_size)");
    PTLAB_CHECK(in.token_type_ids.size(0) == B && in.token_type_ids.size(1) == T,
                "BERT token_type_ids: shape [{}] must be [B, T] = [{}, {}]", fmt::join(in.token_type_ids.sizes(), ", "),
                B, T);
    token_types = in.token_type_ids.to(device, at::kLong);
  }
  at::Tensor positions;
  if (in.position_ids.defined()) {
    const auto& p = in.position_ids;
    PTLAB_CHECK(
        (p.dim() == 2 && (p.size(0) == B || p.size(0) == 1) && p.size(1) == T) || (p.dim() == 1 && p.size(0) == T),
        "BERT position_ids: shape [{}] must be [B, T] = [{}, {}], [1, T] or [T]", fmt::join(p.sizes(), ", "), B, T);
    positions = p.to(device, at::kLong).expand({B, T});
  } else {
    at::Tensor real;  // RoBERTa: which current tokens are real
    if (in.input_ids.defined()) {
      real = in.input_ids.ne(c.pad_token_id);
    } else {
      real = key_mask.slice(1, P, P + T);
    }
    positions = position_ids(B, T, P, real);  // [B, T]
  }
  check_token_ids(positions, c.max_position_embeddings, "BERT position ids (max_position_embeddings; prefix + tokens)");
  at::Tensor h = words + at::embedding(token_type_embeddings_, token_types);
  h = h + at::embedding(position_embeddings_, positions);
  h = layer_norm(h, embedding_norm_);  // [B, T, d]

  BackboneOutput out;
  if (in.output_hidden_states) out.hidden_states.push_back(h);
  const double scale = 1.0 / std::sqrt(static_cast<double>(Dh));
  for (int64_t l = 0; l < c.num_layers; ++l) {
    const Layer& L = layers_[l];
    auto q = split_heads(at::linear(h, L.query.w, L.query.b), H);       // [B, H, T, Dh]
    auto k = split_heads(at::linear(h, L.key.w, L.key.b), H);           // [B, H, T, Dh]
    auto v = split_heads(at::linear(h, L.value.w, L.value.b), H);       // [B, H, T, Dh]
    std::tie(k, v) = past.append(l, k, v);                              // [B, H, P + T, Dh]
    auto ctx = merge_heads(scaled_attention(q, k, v, allowed, scale));  // [B, T, d]
    h = layer_norm(at::linear(ctx, L.attn_out.w, L.attn_out.b) + h, L.attn_norm);
    auto f = apply_activation(c.hidden_act, at::linear(h, L.intermediate.w, L.intermediate.b));  // [B, T, ff]
    h = layer_norm(at::linear(f, L.output.w, L.output.b) + h, L.out_norm);                       // [B, T, d]
    if (in.output_hidden_states) out.hidden_states.push_back(h);
  }
  past.commit(key_mask);
  out.last_hidden_state = h;
  if (has_pooler()) out.pooled = at::tanh(at::linear(h.select(1, 0), pooler_w_, pooler_b_));  // [B, d]

  if (in.logits.mode != LogitsRequest::Mode::kNone) out.logits = mlm_logits(h, in.logits);
  return out;
}

// ---- tokenizer files ----------------------------------------------------------------------------

namespace {

std::optional<nlohmann::json> read_json_quietly(const fs::path& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    log_warn("{}: not valid JSON ({}); ignoring it when looking up the mask token", path.string(), e.what());
    return std::nullopt;
  }
}

std::string token_content(const nlohmann::json& j) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_object() && j.contains("content") && j["content"].is_string()) return j["content"].get<std::string>();
  return {};
}

}  // namespace

int64_t find_mask_token_id(const std::string& dir, const std::string& default_mask) {
  std::string mask = default_mask;
  if (auto config = read_json_quietly(fs::path(dir) / "tokenizer_config.json")) {
    if (config->is_object() && config->contains("mask_token")) {
      auto named = token_content((*config)["mask_token"]);
      if (!named.empty()) mask = named;
    }
    if (config->is_object() && config->contains("added_tokens_decoder") &&
        (*config)["added_tokens_decoder"].is_object()) {
      for (const auto& [id, entry] : (*config)["added_tokens_decoder"].items()) {
        if (token_content(entry) == mask) {
          try {
            return std::stoll(id);
          } catch (const std::exception&) {
          }
        }
      }
    }
  }
  if (auto tok = read_json_quietly(fs::path(dir) / "tokenizer.json"); tok && tok->is_object()) {
    if (tok->contains("added_tokens") && (*tok)["added_tokens"].is_array()) {
      for (const auto& entry : (*tok)["added_tokens"]) {
        if (token_content(entry) == mask && entry.contains("id") && entry["id"].is_number_integer())
          return entry["id"].get<int64_t>();
      }
    }
    if (tok->contains("model") && (*tok)["model"].is_object() && (*tok)["model"].contains("vocab") &&
        (*tok)["model"]["vocab"].is_object()) {
      const auto& vocab = (*tok)["model"]["vocab"];
      if (vocab.contains(mask) && vocab[mask].is_number_integer()) return vocab[mask].get<int64_t>();
    }
  }
  if (std::ifstream vocab(fs::path(dir) / "vocab.txt"); vocab) {
    std::string line;
    for (int64_t id = 0; std::getline(vocab, line); ++id) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line == mask) return id;
    }
  }
  if (auto vocab = read_json_quietly(fs::path(dir) / "vocab.json"); vocab && vocab->is_object()) {
    if (vocab->contains(mask) && (*vocab)[mask].is_number_integer()) return (*vocab)[mask].get<int64_t>();
  }
  return -1;
}

}  // namespace ptlab::models
