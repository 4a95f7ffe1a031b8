#include "methods/icl/icl.h"

#include "framework/core/error.h"
#include "framework/core/suggest.h"
#include "tasks/batch.h"
#include "tasks/objective.h"
#include "tasks/piece_encoder.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/grad_mode.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>

namespace ptlab::methods {
namespace {

const std::vector<std::string> kOrders = {"shuffled", "grouped", "interleaved"};

IclOrder parse_order(const std::string& name, const std::string& where) {
  if (name == "shuffled") return IclOrder::kShuffled;
  if (name == "grouped") return IclOrder::kGrouped;
  PTLAB_CHECK(name == "interleaved", "{}: unknown order '{}'{}; known: {}", where, name, did_you_mean(name, kOrders),
              join_names(kOrders));
  return IclOrder::kInterleaved;
}

std::vector<int64_t> permutation(int64_t n, at::Generator& generator) {
  const at::Tensor order = at::randperm(n, generator, at::kLong);
  return std::vector<int64_t>(order.data_ptr<int64_t>(), order.data_ptr<int64_t>() + n);
}

const tasks::Verbalizer& label_words_of(const tasks::Task& task, const std::string& where) {
  const tasks::Verbalizer* verbalizer = task.verbalizer();
  bool words = verbalizer != nullptr && !verbalizer->word_tokens().empty();
  if (words)
    for (const auto& class_words : verbalizer->word_tokens()) words = words && !class_words.empty();
  PTLAB_CHECK(words,
              "{}: in-context demonstrations show their class's label word, but task {} (type {}) has no verbalizer "
              "label words for every class; use a classification task with label_words (task.verbalizer_name=...)",
              where, task.name(), task.type());
  return *verbalizer;
}

}  // namespace

// ---- config ---------------------------------------------------------------------------------------------

IclConfig IclConfig::decode(config::Reader reader) {
  IclConfig c;
  c.where = reader.path();
  reader.has("name");  // make_method's key
  c.shots = reader.get<int64_t>("shots", c.shots);
  PTLAB_CHECK(c.shots >= 1, "{}: in-context learning needs at least 1 demonstration, got {}; use method=zero_shot for none",
              c.at("shots"), c.shots);
  c.per_class = reader.get<bool>("per_class", c.per_class);
  c.order = parse_order(reader.get<std::string>("order", "shuffled"), c.at("order"));
  c.separator = reader.get<std::string>("separator", c.separator);
  c.calibrate = reader.get<bool>("calibrate", c.calibrate);
  c.content_free = reader.get<std::vector<std::string>>("content_free", c.content_free);
  PTLAB_CHECK(!c.calibrate || !c.content_free.empty(),
              "{}: contextual calibration averages the class probabilities of content-free inputs, but the list is "
              "empty; give at least one (Zhao et al. use [\"N/A\", \"\", \"[MASK]\"])",
              c.at("content_free"));
  reader.finish();
  return c;
}

// ---- demonstrations -------------------------------------------------------------------------------------

std::vector<std::pair<int64_t, int64_t>> draw_icl_rows(const tasks::Task& task, const std::vector<data::Example>& train,
                                                       const IclConfig& config, uint64_t seed) {
  const tasks::Verbalizer& verbalizer = label_words_of(task, config.where);
  PTLAB_CHECK(config.shots >= 1, "{}: in-context learning needs at least 1 demonstration, got {}", config.at("shots"),
              config.shots);
  const int64_t num_classes = verbalizer.num_classes();
  const std::string split = task.config().data ? task.config().data->train_split : std::string("train");
  std::vector<std::vector<int64_t>> by_class(num_classes);  // labelled rows of each class, in file order
  int64_t labelled = 0;
  for (std::size_t i = 0; i < train.size(); ++i) {
    const data::Example& example = train[i];
    if (!example.has_label()) continue;
    const int64_t c = verbalizer.class_index(example.label_name);
    PTLAB_CHECK(c >= 0, "{}: train row {} ({}) has label '{}', which is not one of task {}'s classes ({})",
                config.at("shots"), i, example.source.describe(), example.label_name, task.name(),
                fmt::join(verbalizer.class_names(), ", "));
    by_class[c].push_back(static_cast<int64_t>(i));
    ++labelled;
  }
  const int64_t k = config.shots;
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  std::vector<std::pair<int64_t, int64_t>> chosen;  // (row, class) in draw order
  if (config.per_class) {
    for (int64_t c = 0; c < num_classes; ++c) {
      const auto have = static_cast<int64_t>(by_class[c].size());
      if (have < k) {
        std::vector<std::string> counts;
        for (int64_t j = 0; j < num_classes; ++j)
          counts.push_back(fmt::format("{} {}", verbalizer.class_names()[j], by_class[j].size()));
        PTLAB_FAIL(
            "{}: {} demonstrations per class asked, but class '{}' has {} labelled examples in task {}'s train split "
            "'{}' ({}); lower {} to at most {} or set {}=false",
            config.at("shots"), k, verbalizer.class_names()[c], have, task.name(), split, fmt::join(counts, ", "),
            config.at("shots"), have, config.at("per_class"));
      }
      const std::vector<int64_t> order = permutation(have, generator);
      for (int64_t j = 0; j < k; ++j) chosen.emplace_back(by_class[c][order[j]], c);
    }
  } else {
    PTLAB_CHECK(labelled >= k, "{}: {} demonstrations asked, but task {}'s train split '{}' has {} labelled examples; "
                "lower {} to at most {}",
                config.at("shots"), k, task.name(), split, labelled, config.at("shots"), labelled);
    std::vector<std::pair<int64_t, int64_t>> all;
    for (int64_t c = 0; c < num_classes; ++c)
      for (int64_t row : by_class[c]) all.emplace_back(row, c);
    std::sort(all.begin(), all.end());  // file order: the draw does not depend on the class order
    const std::vector<int64_t> order = permutation(labelled, generator);
    for (int64_t j = 0; j < k; ++j) chosen.push_back(all[order[j]]);
  }
  std::vector<std::pair<int64_t, int64_t>> out;
  switch (config.order) {
    case IclOrder::kShuffled:
      for (int64_t j : permutation(static_cast<int64_t>(chosen.size()), generator)) out.push_back(chosen[j]);
      break;
    case IclOrder::kGrouped:
      out = chosen;
      std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
      break;
    case IclOrder::kInterleaved: {
      std::vector<std::vector<std::pair<int64_t, int64_t>>> queues(num_classes);
      for (const auto& rc : chosen) queues[rc.second].push_back(rc);
      for (std::size_t round = 0; out.size() < chosen.size(); ++round)
        for (const auto& queue : queues)
          if (round < queue.size()) out.push_back(queue[round]);
      break;
    }
  }
  return out;
}

std::vector<int64_t> render_icl_demonstration(const tasks::Task& task, const data::Example& example,
                                              int64_t class_index) {
  const tasks::Verbalizer& verbalizer = *task.verbalizer();
  const tasks::RenderedExample query = task.encode(example, tasks::Purpose::kEval);
  // The class's first label word in the answer slot, exactly as rank classification puts it there.
  std::vector<int64_t> ids;
  for (const tasks::RankCandidate& candidate : verbalizer.rank_candidates(query)) {
    if (candidate.class_index == class_index && candidate.word_index == 0) ids = candidate.example.input_ids;
  }
  PTLAB_ASSERT(!ids.empty(), "no rank candidate for class {}", class_index);
  // Drop the tokenizer's wrapping specials: one text holds them once, around everything.
  const text::SpecialTokenIds& special = task.tokenizer().special_ids();
  auto is = [](int64_t id, std::initializer_list<int> set) {
    return std::any_of(set.begin(), set.end(), [&](int s) { return s >= 0 && id == s; });
  };
  std::size_t begin = 0, end = ids.size();
  while (begin < end && is(ids[begin], {special.bos, special.cls})) ++begin;
  while (end > begin && is(ids[end - 1], {special.eos, special.sep})) --end;
  return std::vector<int64_t>(ids.begin() + static_cast<std::ptrdiff_t>(begin),
                              ids.begin() + static_cast<std::ptrdiff_t>(end));
}

at::Tensor contextual_calibration(const at::Tensor& scores, const at::Tensor& p_cf) {
  PTLAB_ASSERT(scores.dim() == 2 && p_cf.dim() == 1 && scores.size(1) == p_cf.size(0),
               "contextual_calibration: scores [B, C] and p_cf [C]");
  const at::Tensor p = at::softmax(scores.to(at::kFloat), 1);                            // [B, C]
  const at::Tensor wp = p / p_cf.to(p.device()).to(at::kFloat).unsqueeze(0);            // W p, W = diag(p_cf)^-1
  return at::log_softmax(wp, 1);                                                         // log q [B, C]
}

// ---- the method -----------------------------------------------------------------------------------------

InContextLearning::InContextLearning(IclConfig config, const MethodContext& context)
    : config_(std::move(config)), backbone_(&context.backbone), task_(&context.task), train_(context.train) {
  const tasks::Template& tmpl = context.task.prompt();
  PTLAB_CHECK(tmpl.num_soft_tokens() == 0,
              "method icl writes demonstrations, not virtual tokens, but {} ('{}') has {{soft:N}} slots; pick a "
              "template without them (task.template_name=...)",
              tmpl.name(), tmpl.text());
  label_words_of(context.task, config_.at("shots"));
  const std::string split = context.task.config().data ? context.task.config().data->train_split : std::string();
  PTLAB_CHECK(train_ != nullptr,
              "{}: in-context learning draws its demonstrations from the task's train split, but task {} has none "
              "loaded (task.data.train_split is '{}'); name a split with labelled examples (e.g. "
              "task.data.train_split=fewglue_train)",
              config_.at("shots"), context.task.name(), split);
  const models::BackboneInfo& info = backbone_->info();
  max_positions_ = info.max_positions > 0 ? info.max_positions : backbone_->config().get_int("max_position_embeddings", 0);
  const text::SpecialTokenIds& special = context.tokenizer.special_ids();
  for (int id : {special.bos, special.cls})
    if (id >= 0 && std::find(lead_ids_.begin(), lead_ids_.end(), id) == lead_ids_.end()) lead_ids_.push_back(id);

  const std::vector<int> separator =
      tasks::encode_piece(context.tokenizer, config_.separator, tasks::Spacing::kAttached);
  std::vector<IclDemonstration> demos;
  const auto drawn = draw_icl_rows(context.task, *train_, config_, context.seed);
  {
    // How many leading special tokens a query gets (the tokenizer's bos / cls): they stay in front.
    const tasks::RenderedExample query = context.task.encode((*train_)[drawn.front().first], tasks::Purpose::kEval);
    while (query_lead_ < query.length &&
           std::find(lead_ids_.begin(), lead_ids_.end(), query.input_ids[query_lead_]) != lead_ids_.end())
      ++query_lead_;
  }
  for (const auto& [row, c] : drawn) {
    IclDemonstration demo;
    demo.row = row;
    demo.index = (*train_)[row].index;
    demo.class_index = c;
    demo.token_ids = render_icl_demonstration(context.task, (*train_)[row], c);
    demo.token_ids.insert(demo.token_ids.end(), separator.begin(), separator.end());
    demos.push_back(std::move(demo));
  }
  set_demonstrations(std::move(demos));
}

void InContextLearning::set_demonstrations(std::vector<IclDemonstration> demos) {
  std::vector<int64_t> ids;
  for (const auto& demo : demos) ids.insert(ids.end(), demo.token_ids.begin(), demo.token_ids.end());
  demos_ = std::move(demos);
  context_ids_ = std::move(ids);
  p_cf_ = at::Tensor();
  const int64_t n = length();
  const int64_t least = query_lead_ + 1;  // a query of one token after its leading special tokens
  if (max_positions_ > 0 && n + least > max_positions_) {
    PTLAB_FAIL("{}: the {} demonstrations take {} tokens, which leave no room for a query in the model's {} positions; "
               "{} of them fit before a query of {} tokens — {}",
               config_.at("shots"), demos_.size(), n, max_positions_, demonstrations_that_fit(least), least,
               fit_advice(demonstrations_that_fit(least)));
  }
}

std::string InContextLearning::fit_advice(int64_t fit) const {
  const int64_t classes = task_->verbalizer()->num_classes();
  if (!config_.per_class) return fit > 0 ? fmt::format("use {}={}", config_.at("shots"), fit)
                                         : std::string("none fits: lower task.max_length");
  if (fit / classes > 0) return fmt::format("use {}={} (per class)", config_.at("shots"), fit / classes);
  if (fit > 0)
    return fmt::format("not even one per class: use {}=false {}={}", config_.at("per_class"), config_.at("shots"), fit);
  return "none fits: lower task.max_length";
}

int64_t InContextLearning::demonstrations_that_fit(int64_t query_tokens) const {
  if (max_positions_ <= 0) return static_cast<int64_t>(demos_.size());
  int64_t used = query_tokens, fit = 0;
  for (const auto& demo : demos_) {
    used += static_cast<int64_t>(demo.token_ids.size());
    if (used > max_positions_) break;
    ++fit;
  }
  return fit;
}

at::Tensor InContextLearning::context_input_ids(const tasks::Batch& batch) const {
  const int64_t n = length();
  at::Tensor ids = batch.input_ids.to(at::kCPU).to(at::kLong).contiguous().clone();  // [B, T]
  const int64_t rows = ids.size(0), width = ids.size(1);
  for (int64_t b = 0; b < rows; ++b) {
    int64_t* row = ids[b].data_ptr<int64_t>();
    int64_t lead = 0;  // the query's leading special tokens, now at n.. : they move to 0..
    while (n + lead < width && std::find(lead_ids_.begin(), lead_ids_.end(), row[n + lead]) != lead_ids_.end()) ++lead;
    for (int64_t i = 0; i < lead; ++i) row[i] = row[n + i];
    std::copy(context_ids_.begin(), context_ids_.end(), row + lead);
  }
  return ids;
}

models::BackboneInput InContextLearning::prompt(const tasks::Batch& batch) {
  const int64_t n = length();
  PTLAB_CHECK(n > 0, "{}: icl has no demonstrations (nothing was drawn or loaded)", config_.at("shots"));
  PTLAB_CHECK(batch.num_soft_tokens() == n,
              "icl has {} demonstration tokens but the batch has {} front positions for them; the trainer prepends "
              "front_soft_tokens() positions to every query (and the template must have no {{soft:N}} slots)",
              n, batch.num_soft_tokens());
  if (max_positions_ > 0 && batch.lengths.defined()) {
    const int64_t longest = batch.lengths.max().item<int64_t>();
    const int64_t query = longest - n;
    if (longest > max_positions_) {
      const int64_t fit = demonstrations_that_fit(query);
      PTLAB_FAIL(
          "{}: {} demonstrations ({} tokens) and a query of {} tokens make {} tokens, more than the model's {} "
          "positions; {} demonstrations fit before a query of {} tokens — {} (or lower task.max_length)",
          config_.at("shots"), demos_.size(), n, query, longest, max_positions_, fit, query, fit_advice(fit));
    }
  }
  models::BackboneInput input = batch_input(batch, *backbone_, /*with_ids=*/true);
  input.input_ids = context_input_ids(batch).to(backbone_->device());  // [B, T]
  return input;
}

at::Tensor InContextLearning::content_free_probs() {
  if (p_cf_.defined()) return p_cf_;
  // p for each content-free query (text_a = text_b = the string) behind the same demonstrations.
  tasks::Objective objective(*task_, backbone_->info());
  const int64_t placeholder = tasks::Template::placeholder_id(task_->tokenizer());
  std::vector<tasks::RenderedExample> rendered;
  for (const std::string& text : config_.content_free) {
    data::Example example;
    example.text_a = text;
    example.text_b = text;
    rendered.push_back(task_->encode(example, tasks::Purpose::kEval));
    tasks::prepend_soft_tokens(rendered.back(), length(), placeholder);
  }
  const tasks::Batch batch = objective.collate(rendered);
  at::NoGradGuard no_grad;
  const bool was_training = backbone_->is_training();
  backbone_->eval();
  models::BackboneInput input = prompt(batch);
  objective.request(batch, input);
  const models::BackboneOutput output = backbone_->forward(input);
  if (was_training) backbone_->train();
  const at::Tensor scores = task_->verbalizer()->class_scores(output.logits).to(at::kFloat);  // [K, C]
  p_cf_ = at::softmax(scores, 1).mean(0).to(at::kCPU);                                         // [C]
  return p_cf_;
}

std::function<at::Tensor(const at::Tensor&)> InContextLearning::score_calibration() {
  if (!config_.calibrate) return {};
  return [this](const at::Tensor& scores) { return contextual_calibration(scores, content_free_probs()); };
}

// ---- state ----------------------------------------------------------------------------------------------

std::map<std::string, at::Tensor> InContextLearning::export_state() {
  std::vector<int64_t> lengths, rows, classes;
  for (const auto& demo : demos_) {
    lengths.push_back(static_cast<int64_t>(demo.token_ids.size()));
    rows.push_back(demo.index);
    classes.push_back(demo.class_index);
  }
  std::map<std::string, at::Tensor> state = {{"context_token_ids", at::tensor(context_ids_, at::kLong)},
                                             {"demonstration_lengths", at::tensor(lengths, at::kLong)},
                                             {"demonstration_rows", at::tensor(rows, at::kLong)},
                                             {"demonstration_classes", at::tensor(classes, at::kLong)}};
  if (config_.calibrate && !demos_.empty()) state["content_free_probs"] = content_free_probs().clone();
  return state;
}

void InContextLearning::import_state(const std::map<std::string, at::Tensor>& state, const std::string& where) {
  const std::vector<std::string> known = {"context_token_ids", "demonstration_lengths", "demonstration_rows",
                                          "demonstration_classes", "content_free_probs"};
  for (const auto& [name, tensor] : state) {
    PTLAB_CHECK(std::find(known.begin(), known.end(), name) != known.end(),
                "{}: tensor '{}' is not part of an icl state{}; it has: {}", where, name, did_you_mean(name, known),
                join_names(known));
  }
  auto vector_of = [&](const std::string& name, bool required) {
    auto it = state.find(name);
    PTLAB_CHECK(it != state.end() || !required, "{}: an icl state needs '{}' (it has {})", where, name, state.size());
    if (it == state.end()) return std::vector<int64_t>();
    const at::Tensor t = it->second.to(at::kCPU).to(at::kLong).contiguous().view({-1});
    return std::vector<int64_t>(t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + t.numel());
  };
  const std::vector<int64_t> ids = vector_of("context_token_ids", true);
  const std::vector<int64_t> lengths = vector_of("demonstration_lengths", true);
  const std::vector<int64_t> rows = vector_of("demonstration_rows", false);
  const std::vector<int64_t> classes = vector_of("demonstration_classes", false);
  int64_t total = 0;
  for (int64_t l : lengths) {
    PTLAB_CHECK(l >= 1, "{}: demonstration_lengths holds {}; every demonstration has at least one token", where, l);
    total += l;
  }
  PTLAB_CHECK(total == static_cast<int64_t>(ids.size()) && !lengths.empty(),
              "{}: demonstration_lengths add up to {} tokens but context_token_ids has {}", where, total, ids.size());
  const int64_t vocab = backbone_->info().vocab_size;
  for (std::size_t i = 0; i < ids.size(); ++i)
    PTLAB_CHECK(ids[i] >= 0 && ids[i] < vocab, "{}: context token id {} at position {} is outside the model's "
                "vocabulary of {}; the state was made for another tokenizer", where, ids[i], i, vocab);
  std::vector<IclDemonstration> demos;
  std::size_t offset = 0;
  for (std::size_t j = 0; j < lengths.size(); ++j) {
    IclDemonstration demo;
    demo.index = j < rows.size() ? rows[j] : -1;
    demo.class_index = j < classes.size() ? classes[j] : -1;
    demo.token_ids.assign(ids.begin() + static_cast<std::ptrdiff_t>(offset),
                          ids.begin() + static_cast<std::ptrdiff_t>(offset + lengths[j]));
    offset += static_cast<std::size_t>(lengths[j]);
    // The train row, when the loaded split holds the recorded one.
    if (train_ != nullptr)
      for (std::size_t r = 0; r < train_->size(); ++r)
        if ((*train_)[r].index == demo.index) demo.row = static_cast<int64_t>(r);
    demos.push_back(std::move(demo));
  }
  set_demonstrations(std::move(demos));  // p_cf is recomputed from these demonstrations when needed
}

void InContextLearning::save_exports(const std::string& dir) {
  const text::Tokenizer& tokenizer = task_->tokenizer();
  auto text_of = [&](const std::vector<int64_t>& ids) { return tokenizer.decode(std::vector<int>(ids.begin(), ids.end())); };
  const std::string path = dir + "/demonstrations.jsonl";
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  PTLAB_CHECK(out.good(), "cannot write {}", path);
  const auto& classes = task_->verbalizer()->class_names();
  for (std::size_t j = 0; j < demos_.size(); ++j) {
    const IclDemonstration& demo = demos_[j];
    nlohmann::json line = {{"position", j}, {"row", demo.index}, {"tokens", demo.token_ids.size()},
                           {"text", text_of(demo.token_ids)}};
    if (demo.class_index >= 0 && demo.class_index < static_cast<int64_t>(classes.size()))
      line["class"] = classes[demo.class_index];
    if (train_ != nullptr && demo.row >= 0) {
      const data::Example& example = (*train_)[demo.row];
      line["source"] = example.source.describe();
      line["label"] = example.label_name;
      line["text_a"] = example.text_a;
      if (!example.text_b.empty()) line["text_b"] = example.text_b;
    }
    out << line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  }
  const std::string context = dir + "/icl_context.txt";
  std::ofstream text(context, std::ios::binary | std::ios::trunc);
  PTLAB_CHECK(text.good(), "cannot write {}", context);
  text << text_of(context_ids_);
}

}  // namespace ptlab::methods
