#include "methods/cpt/cpt.h"

#include "framework/core/error.h"
#include "framework/core/suggest.h"
#include "tasks/piece_encoder.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

namespace ptlab::methods {
namespace {

bool is_label_type(int64_t t) { return t > 0 && t % 4 == 0; }
bool is_format_type(int64_t t) { return t > 0 && (t % 4 == 1 || t % 4 == 3); }
bool is_input_type(int64_t t) { return t > 0 && t % 4 == 2; }

const char* weighting_name(CptLossWeighting w) { return w == CptLossWeighting::kDecay ? "decay" : "none"; }

}  // namespace

// ---- config ---------------------------------------------------------------------------------------------

CptConfig CptConfig::decode(config::Reader reader) {
  CptConfig c;
  c.where = reader.path();
  reader.has("name");  // make_method's key
  c.context_token_ids = reader.get<std::vector<int64_t>>("context_token_ids", {});
  c.context_type_mask = reader.get<std::vector<int64_t>>("context_type_mask", {});
  const bool given_k = reader.has("context_examples");
  c.context_examples = reader.get<std::optional<int64_t>>("context_examples", c.context_examples);
  c.separator = reader.get<std::string>("separator", c.separator);
  if (reader.has("context_token_ids") || reader.has("context_type_mask")) {
    PTLAB_CHECK(!given_k || !c.context_examples,
                "{}: give either {} (draw k demonstrations) or an explicit context ({} and {}), not both; set "
                "{}=null",
                c.where, c.at("context_examples"), c.at("context_token_ids"), c.at("context_type_mask"),
                c.at("context_examples"));
    PTLAB_CHECK(!c.context_token_ids.empty(),
                "{}: CPT needs a context of at least one token, got an empty list (its demonstrations are the "
                "prompt)",
                c.at("context_token_ids"));
    PTLAB_CHECK(c.context_type_mask.size() == c.context_token_ids.size(),
                "{}: has {} type ids but {} has {} tokens; give one type id per context token", c.at("context_type_mask"),
                c.context_type_mask.size(), c.at("context_token_ids"), c.context_token_ids.size());
    c.context_examples.reset();
  } else {
    PTLAB_CHECK(c.context_examples && *c.context_examples >= 1,
                "{}: CPT needs at least 1 in-context demonstration (its demonstrations are the prompt), got {}; set "
                "k >= 1 or give {} and {}",
                c.at("context_examples"), c.context_examples ? std::to_string(*c.context_examples) : "null",
                c.at("context_token_ids"), c.at("context_type_mask"));
  }
  c.epsilon_input = reader.get<double>("epsilon_input", c.epsilon_input);
  PTLAB_CHECK(c.epsilon_input > 0, "{}: the projection radius must be > 0 (PEFT's opt_projection_epsilon), got {}",
              c.at("epsilon_input"), c.epsilon_input);
  c.epsilon_format = reader.get<double>("epsilon_format", c.epsilon_format);
  PTLAB_CHECK(c.epsilon_format > 0,
              "{}: the projection radius must be > 0 (PEFT's opt_projection_format_epsilon), got {}",
              c.at("epsilon_format"), c.epsilon_format);
  const std::string weighting = reader.get<std::string>("loss_weighting", weighting_name(c.loss_weighting));
  const std::vector<std::string> names = {"none", "decay"};
  PTLAB_CHECK(weighting == "none" || weighting == "decay", "{}: unknown loss weighting '{}'{}; known: {}",
              c.at("loss_weighting"), weighting, did_you_mean(weighting, names), join_names(names));
  c.loss_weighting = weighting == "decay" ? CptLossWeighting::kDecay : CptLossWeighting::kNone;
  c.decay_factor = reader.get<double>("decay_factor", c.decay_factor);
  PTLAB_CHECK(c.decay_factor > 0 && c.decay_factor <= 1,
              "{}: the loss decay factor gamma must lie in (0, 1] (1 = no decay), got {}", c.at("decay_factor"),
              c.decay_factor);
  reader.finish();
  return c;
}

// ---- the context from the task's examples -----------------------------------------------------------------

CptContext draw_cpt_context(const tasks::Task& task, const text::Tokenizer& tokenizer,
                            const std::vector<data::Example>& train, int64_t k, const std::string& separator,
                            uint64_t seed, const std::string& where) {
  const tasks::Verbalizer* verbalizer = task.verbalizer();
  PTLAB_CHECK(verbalizer != nullptr && !verbalizer->word_tokens().empty(),
              "{}: CPT's demonstrations end with their label word, but task {} (type {}) has no verbalizer label "
              "words; use a classification task or give an explicit context",
              where, task.name(), task.type());
  const tasks::Template& tmpl = task.prompt();
  PTLAB_CHECK(tmpl.num_soft_tokens() == 0,
              "{}: CPT puts its context in front of the text, but {} ('{}') has {{soft:N}} slots; use a template "
              "without them",
              where, tmpl.name(), tmpl.text());
  std::vector<int64_t> labelled;  // rows with a label
  for (std::size_t i = 0; i < train.size(); ++i) {
    if (!train[i].label_name.empty()) labelled.push_back(static_cast<int64_t>(i));
  }
  PTLAB_CHECK(static_cast<int64_t>(labelled.size()) >= k,
              "{}: {} demonstrations asked but task {}'s train split has {} labelled examples; lower k", where, k,
              task.name(), labelled.size());
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  const at::Tensor order = at::randperm(static_cast<int64_t>(labelled.size()), generator, at::kLong);
  std::vector<int64_t> chosen, classes;  // the k drawn rows and their classes (only those are rendered)
  for (int64_t j = 0; j < k; ++j) {
    const int64_t row = labelled[order[j].item<int64_t>()];
    const int64_t c = task.encode(train[row], tasks::Purpose::kTrain).label;
    PTLAB_CHECK(c >= 0 && c < verbalizer->num_classes(),
                "{}: demonstration {} (train row {}) has label '{}', which is not one of task {}'s classes", where, j,
                row, train[row].label_name, task.name());
    chosen.push_back(row);
    classes.push_back(c);
  }

  // The last field part splits the template into input template (before) and output template (after).
  const auto& parts = tmpl.parts();
  int64_t last_field = -1;
  for (std::size_t p = 0; p < parts.size(); ++p) {
    if (parts[p].kind == tasks::SlotKind::kField) last_field = static_cast<int64_t>(p);
  }
  CptContext out;
  auto add = [&](const std::vector<int>& ids, int64_t type) {
    for (int id : ids) {
      out.token_ids.push_back(id);
      out.type_mask.push_back(type);
    }
  };
  for (int64_t j = 0; j < k; ++j) {
    const data::Example& example = train[chosen[j]];
    const auto& word = verbalizer->word_tokens()[classes[j]].front();  // the class's first label word
    bool word_before = false;
    bool label_done = false;
    for (std::size_t p = 0; p < parts.size(); ++p) {
      const tasks::TemplatePart& part = parts[p];
      const tasks::Spacing spacing =
          !word_before ? tasks::Spacing::kStart : (part.space_before ? tasks::Spacing::kSpace : tasks::Spacing::kAttached);
      switch (part.kind) {
        case tasks::SlotKind::kText:
          add(tasks::encode_piece(tokenizer, part.text, spacing),
              static_cast<int64_t>(p) < last_field ? 4 * j + 1 : 4 * j + 3);
          word_before = true;
          break;
        case tasks::SlotKind::kField: {
          std::string value;
          switch (part.field) {
            case tasks::TemplateField::kTextA: value = example.text_a; break;
            case tasks::TemplateField::kTextB: value = example.text_b; break;
            case tasks::TemplateField::kMeta: {
              auto it = example.meta.find(part.meta_key);
              PTLAB_CHECK(it != example.meta.end(), "{}: demonstration {} (train row {}) has no meta field '{}' for {}",
                          where, j, chosen[j], part.meta_key, tmpl.name());
              value = it->second;
              break;
            }
            case tasks::TemplateField::kLabel: value = example.label_name; break;
            default:
              PTLAB_FAIL("{}: CPT demonstrations cannot render {} of {}; use text_a, text_b, meta or label", where,
                         part.describe(), tmpl.name());
          }
          add(tasks::encode_piece(tokenizer, value, spacing), 4 * j + 2);
          word_before = true;
          break;
        }
        case tasks::SlotKind::kMask:
          for (int64_t id : word) {
            out.token_ids.push_back(id);
            out.type_mask.push_back(4 * j + 4);
          }
          label_done = true;
          word_before = true;
          break;
        case tasks::SlotKind::kSpecial: {
          const text::SpecialTokenIds& ids = tokenizer.special_ids();
          const int id = part.special == tasks::SpecialToken::kBos   ? ids.bos
                         : part.special == tasks::SpecialToken::kEos ? ids.eos
                         : part.special == tasks::SpecialToken::kSep ? ids.sep
                                                                     : ids.cls;
          PTLAB_CHECK(id >= 0, "{}: the tokenizer has no token for {} of {}", where, part.describe(), tmpl.name());
          add({id}, 0);
          word_before = false;
          break;
        }
        case tasks::SlotKind::kSoft:
          PTLAB_ASSERT(false, "soft slots were rejected above");
      }
    }
    if (!label_done) {  // next_token without {mask}: the answer follows the template
      for (int64_t id : word) {
        out.token_ids.push_back(id);
        out.type_mask.push_back(4 * j + 4);
      }
    }
    add(tasks::encode_piece(tokenizer, separator, tasks::Spacing::kAttached), 0);
  }
  return out;
}

// ---- projection ---------------------------------------------------------------------------------------------

at::Tensor cpt_epsilon(const std::vector<int64_t>& type_mask, int64_t d, double epsilon_input, double epsilon_format) {
  // PEFT's float32 arithmetic: eps * sqrt(float32(d / 2048)).
  const at::Tensor scale = at::sqrt(at::full({1}, static_cast<double>(d) / 2048.0, at::kFloat));
  const at::Tensor format = scale * epsilon_format;  // [1]
  const at::Tensor input = scale * epsilon_input;
  const int64_t n = static_cast<int64_t>(type_mask.size());
  at::Tensor eps = at::full({n}, 1e-10, at::kFloat);
  for (int64_t i = 0; i < n; ++i) {
    if (is_format_type(type_mask[i])) eps[i] = format[0];
    if (is_input_type(type_mask[i])) eps[i] = input[0];
  }
  return eps;
}

at::Tensor cpt_project(const at::Tensor& delta, const at::Tensor& eps) {
  const at::Tensor norm = at::norm(delta, 2, {1});                        // [n]
  const at::Tensor factor = eps / at::maximum(norm, eps);                 // [n]; rows of norm 0 stay 0
  return at::where(norm.gt(0).unsqueeze(1), delta * factor.unsqueeze(1), delta);  // [n, d]
}

// ---- the method ---------------------------------------------------------------------------------------------

Cpt::Cpt(CptConfig config, const MethodContext& context)
    : config_(std::move(config)), backbone_(&context.backbone), task_(&context.task) {
  const models::BackboneInfo& info = backbone_->info();
  PTLAB_CHECK(info.is_causal && !info.is_encoder_decoder,
              "{}: CPT needs a causal (decoder-only) language model, but the model is {} ({}); PEFT's CPT supports "
              "CAUSAL_LM only — use gpt2, gpt_neox or llama models",
              config_.where, info.family, info.is_encoder_decoder ? "encoder-decoder" : "bidirectional encoder");
  CptContext ctx;
  if (config_.explicit_context()) {
    ctx.token_ids = config_.context_token_ids;
    ctx.type_mask = config_.context_type_mask;
  } else if (context.train != nullptr) {
    ctx = draw_cpt_context(context.task, context.tokenizer, *context.train, *config_.context_examples,
                           config_.separator, context.seed, config_.at("context_examples"));
  }
  // Without train examples (ptlab eval) the context comes from the state loaded next (load_state).
  const int64_t d = info.hidden_size;
  base_ = register_buffer("context_embeddings", at::zeros({0, d}, at::kFloat).to(backbone_->device()));
  delta_ = register_parameter("delta", at::zeros({0, d}, at::kFloat).to(backbone_->device()), true);
  if (!ctx.token_ids.empty() || config_.explicit_context()) set_context(std::move(ctx));
  delta_.register_hook([this](const at::Tensor& grad) { return grad * grad_mask_.to(grad.device()); });
}

void Cpt::set_context(CptContext ctx) {
  const models::BackboneInfo& info = backbone_->info();
  const int64_t n = static_cast<int64_t>(ctx.token_ids.size());
  const std::string ids_key = config_.explicit_context() ? config_.at("context_token_ids") : config_.at("context_examples");
  PTLAB_CHECK(n >= 1 && static_cast<int64_t>(ctx.type_mask.size()) == n,
              "{}: the context has {} tokens and {} type ids; it needs at least one token and one type id per token",
              ids_key, n, ctx.type_mask.size());
  int64_t max_type = 0;
  for (int64_t i = 0; i < n; ++i) {
    PTLAB_CHECK(ctx.type_mask[i] >= 0, "{}: type id {} at position {} is negative; type ids are 4j+1..4j+4 or 0",
                config_.at("context_type_mask"), ctx.type_mask[i], i);
    PTLAB_CHECK(ctx.token_ids[i] >= 0 && ctx.token_ids[i] < info.vocab_size,
                "{}: token id {} at position {} is outside the model's vocabulary of {}", ids_key, ctx.token_ids[i], i,
                info.vocab_size);
    max_type = std::max(max_type, ctx.type_mask[i]);
  }
  PTLAB_CHECK(max_type % 4 == 0 && max_type > 0,
              "{}: the largest type id is {}, not a label group (4j+4), so the query's label group ({} + 4) would "
              "not count in the loss; end the context with a demonstration's label",
              config_.at("context_type_mask"), max_type, max_type);
  PTLAB_CHECK(info.max_positions == 0 || n < info.max_positions,
              "{}: a context of {} tokens does not fit the model's {} positions with any text; use fewer "
              "demonstrations",
              ids_key, n, info.max_positions);
  context_ = std::move(ctx);
  query_group_ = max_type + 4;
  ctx_positions_.clear();
  ctx_targets_.clear();
  ctx_groups_.clear();
  std::vector<float> grad_mask(n);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t t = context_.type_mask[i];
    grad_mask[i] = (t % 4 == 1 || t % 4 == 2 || t % 4 == 3) ? 1.0f : 0.0f;
    if (i >= 1 && is_label_type(t)) {  // PEFT's shift drops position 0
      ctx_positions_.push_back(i - 1);
      ctx_targets_.push_back(context_.token_ids[i]);
      ctx_groups_.push_back(t);
    }
  }
  const at::Device device = backbone_->device();
  grad_mask_ = at::tensor(grad_mask, at::kFloat).view({n, 1}).to(device);
  eps_ = cpt_epsilon(context_.type_mask, info.hidden_size, config_.epsilon_input, config_.epsilon_format).to(device);
  const at::Tensor ids = at::tensor(context_.token_ids, at::kLong).to(device);
  at::NoGradGuard no_grad;
  const at::Tensor rows = backbone_->word_embeddings().index_select(0, ids).to(at::kFloat);  // [n, d]
  base_.set_(rows.clone());
  delta_.set_(at::zeros_like(rows));
}

NamedTensors Cpt::trainable_parameters() { return {{"delta", delta_}}; }

void Cpt::project() {
  at::NoGradGuard no_grad;
  delta_.copy_(cpt_project(delta_, eps_));
}

models::BackboneInput Cpt::prompt(const tasks::Batch& batch) {
  const int64_t n = length();
  PTLAB_CHECK(n > 0,
              "{}: cpt has no context: it draws its demonstrations from the task's train split, which this run did "
              "not load; load a trained state (ptlab eval --from RUN_DIR) or give an explicit context",
              config_.at("context_examples"));
  PTLAB_CHECK(batch.num_soft_tokens() == n,
              "cpt has a context of {} tokens but the batch has {} soft positions; the context goes in front of the "
              "text (the template must have no {{soft:N}} slots)",
              n, batch.num_soft_tokens());
  const int64_t rows = batch.size();
  const int64_t width = batch.input_ids.size(1);
  const int64_t max_positions = backbone_->info().max_positions;
  PTLAB_CHECK(max_positions == 0 || width <= max_positions,
              "a batch of {} tokens (a context of {} + up to {} others) is longer than the model's {} positions; "
              "use fewer demonstrations ({}) or lower task.max_length (to at most {})",
              width, n, width - n, max_positions, config_.at("context_examples"), max_positions - n);
  project();  // PEFT projects at the start of every forward
  models::BackboneInput input = batch_input(batch, *backbone_, /*with_ids=*/false);
  const at::Device device = backbone_->device();
  const at::Tensor embeds = backbone_->embed(batch.input_ids.to(device));  // [B, T, d]
  const int64_t d = embeds.size(2);
  const at::Tensor context = base_ + delta_;  // [n, d]
  input.inputs_embeds = place_soft_rows(embeds, batch.soft_positions, context.unsqueeze(0).expand({rows, n, d}));
  return input;
}

void Cpt::request_loss(const tasks::Batch& batch, models::BackboneInput& input) {
  const int64_t rows = batch.size();
  const int64_t n = length();
  std::vector<std::vector<int64_t>> query_pos(rows), query_target(rows);
  if (batch.token_labels.defined()) {  // lm: the labelled tokens after the context
    const at::Tensor labels = batch.token_labels.to(at::kCPU).contiguous();
    const int64_t width = labels.size(1);
    for (int64_t b = 0; b < rows; ++b) {
      const int64_t* row = labels[b].data_ptr<int64_t>();
      for (int64_t t = std::max<int64_t>(n, 1); t < width; ++t) {
        if (row[t] == tasks::kIgnoreIndex) continue;
        query_pos[b].push_back(t - 1);
        query_target[b].push_back(row[t]);
      }
    }
  } else {  // classification: the label word's first token, read where the verbalizer reads
    const tasks::Verbalizer* verbalizer = task_->verbalizer();
    PTLAB_CHECK(verbalizer != nullptr && batch.read_positions.defined() && batch.labels.defined(),
                "{}: CPT's loss needs the query's label tokens: an lm batch with token labels or a classification "
                "batch with a verbalizer's label words (task {})",
                config_.where, task_->name());
    const at::Tensor read = batch.read_positions.to(at::kCPU);
    const at::Tensor labels = batch.labels.to(at::kCPU);
    for (int64_t b = 0; b < rows; ++b) {
      const int64_t c = labels[b].item<int64_t>();
      PTLAB_CHECK(c >= 0 && c < verbalizer->num_classes(),
                  "task {}: a training example without a label (class {}); CPT trains on labelled examples",
                  task_->name(), c);
      query_pos[b].push_back(read[b].item<int64_t>());
      query_target[b].push_back(verbalizer->word_tokens()[c].front().front());
    }
  }
  // Weights: per row, the label groups present, counted back from the last.
  const int64_t ctx_k = static_cast<int64_t>(ctx_positions_.size());
  int64_t k = 0;
  for (const auto& q : query_pos) k = std::max<int64_t>(k, ctx_k + static_cast<int64_t>(q.size()));
  k = std::max<int64_t>(k, 1);
  std::vector<int64_t> pos(rows * k, 0), target(rows * k, tasks::kIgnoreIndex);
  std::vector<float> weight(rows * k, 0.0f);
  for (int64_t b = 0; b < rows; ++b) {
    std::set<int64_t> groups(ctx_groups_.begin(), ctx_groups_.end());
    if (!query_pos[b].empty()) groups.insert(query_group_);
    std::map<int64_t, float> group_weight;
    double w = 1.0;  // PEFT: a Python float, stored as float32
    for (auto it = groups.rbegin(); it != groups.rend(); ++it) {
      group_weight[*it] = config_.loss_weighting == CptLossWeighting::kDecay ? static_cast<float>(w) : 1.0f;
      w *= config_.decay_factor;
    }
    int64_t e = b * k;
    for (int64_t i = 0; i < ctx_k; ++i, ++e) {
      pos[e] = ctx_positions_[i];
      target[e] = ctx_targets_[i];
      weight[e] = group_weight.at(ctx_groups_[i]);
    }
    for (std::size_t i = 0; i < query_pos[b].size(); ++i, ++e) {
      pos[e] = query_pos[b][i];
      target[e] = query_target[b][i];
      weight[e] = group_weight.at(query_group_);
    }
  }
  const at::Device device = backbone_->device();
  input.logits = models::LogitsRequest{};
  input.logits.mode = models::LogitsRequest::Mode::kPositions;
  input.logits.positions = at::tensor(pos, at::kLong).view({rows, k}).to(device);
  loss_targets_ = at::tensor(target, at::kLong).view({rows, k}).to(device);
  loss_weights_ = at::tensor(weight, at::kFloat).view({rows, k}).to(device);
}

at::Tensor Cpt::loss(const models::BackboneOutput& output, const tasks::Batch& batch) {
  PTLAB_CHECK(loss_targets_.defined() && loss_targets_.size(0) == batch.size(),
              "{}: CPT's loss needs the logits request_loss() asked for", config_.where);
  const at::Tensor logits = output.logits.to(at::kFloat);  // [B, K, V]
  const int64_t v = logits.size(2);
  const at::Tensor targets = loss_targets_.reshape({-1});
  const at::Tensor ce = at::cross_entropy_loss(logits.reshape({-1, v}), targets, {}, at::Reduction::None,
                                               tasks::kIgnoreIndex);  // [B K]
  const at::Tensor valid = targets.ne(tasks::kIgnoreIndex);
  at::Tensor out = (ce.masked_select(valid) * loss_weights_.reshape({-1}).masked_select(valid)).mean();
  loss_targets_ = at::Tensor();
  loss_weights_ = at::Tensor();
  return out;
}

at::Tensor Cpt::peft_prompt_embeddings() const {
  at::NoGradGuard no_grad;
  return (base_ + cpt_project(delta_, eps_)).detach().to(at::kCPU, at::kFloat).clone();
}

std::map<std::string, at::Tensor> Cpt::export_state() {
  return {{"delta", delta_.detach().to(at::kCPU).clone()},
          {"context_embeddings", base_.detach().to(at::kCPU).clone()},
          {"context_token_ids", at::tensor(context_.token_ids, at::kLong)},
          {"context_type_mask", at::tensor(context_.type_mask, at::kLong)}};
}

void Cpt::import_state(const std::map<std::string, at::Tensor>& state, const std::string& where) {
  const std::set<std::string> known = {"delta", "context_embeddings", "context_token_ids", "context_type_mask"};
  for (const auto& [name, tensor] : state) {
    PTLAB_CHECK(known.count(name), "{}: tensor '{}' is not part of a cpt state{}; it has: {}", where, name,
                did_you_mean(name, std::vector<std::string>(known.begin(), known.end())),
                join_names(std::vector<std::string>(known.begin(), known.end())));
  }
  PTLAB_CHECK(state.count("delta"), "{}: no tensor 'delta' for method cpt", where);
  const bool has_ids = state.count("context_token_ids") > 0, has_types = state.count("context_type_mask") > 0;
  PTLAB_CHECK(has_ids == has_types, "{}: a cpt state holds context_token_ids and context_type_mask together", where);
  const at::Tensor& delta = state.at("delta");
  if (has_ids) {
    const at::Tensor ids = state.at("context_token_ids").to(at::kLong).contiguous();
    const at::Tensor types = state.at("context_type_mask").to(at::kLong).contiguous();
    PTLAB_CHECK(ids.dim() == 1 && types.sizes() == ids.sizes() && delta.dim() == 2 && delta.size(0) == ids.size(0),
                "{}: context_token_ids {}, context_type_mask {} and delta {} must be [n], [n] and [n, d]", where,
                c10::str(ids.sizes()), c10::str(types.sizes()), c10::str(delta.sizes()));
    CptContext ctx;
    ctx.token_ids.assign(ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + ids.size(0));
    ctx.type_mask.assign(types.data_ptr<int64_t>(), types.data_ptr<int64_t>() + types.size(0));
    set_context(std::move(ctx));
  }
  PTLAB_CHECK(delta.is_floating_point() && delta.sizes() == delta_.sizes(),
              "{}: tensor 'delta' has shape {}, but method cpt needs {}", where, c10::str(delta.sizes()),
              c10::str(delta_.sizes()));
  at::NoGradGuard no_grad;
  if (state.count("context_embeddings")) {
    const at::Tensor& base = state.at("context_embeddings");
    PTLAB_CHECK(base.sizes() == base_.sizes(), "{}: tensor 'context_embeddings' has shape {}, but cpt needs {}", where,
                c10::str(base.sizes()), c10::str(base_.sizes()));
    base_.copy_(base);
  }
  delta_.copy_(delta);
}

}  // namespace ptlab::methods
