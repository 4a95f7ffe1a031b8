#include "methods/pet/pet.h"

#include "framework/config/reader.h"
#include "framework/core/error.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

namespace ptlab::methods::pet {
namespace {

// A mapping-valued key (a stage's method, trainer or task keys): null/absent -> `fallback`.
YAML::Node mapping(config::Reader& reader, const YAML::Node& method, const std::string& key,
                   const config::Origins& origins, YAML::Node fallback) {
  if (!reader.has(key)) return fallback;
  const YAML::Node node = method[key];
  if (!node.IsDefined() || node.IsNull()) return fallback;
  PTLAB_CHECK(node.IsMap(), "{}{}: expected a mapping", reader.key_path(key), origins.from(reader.key_path(key)));
  return YAML::Clone(node);
}

}  // namespace

PetConfig PetConfig::decode(const YAML::Node& method, const config::Origins& origins) {
  config::Reader r(method, "method", origins);
  auto at = [&](const std::string& key) { return r.key_path(key) + origins.from(r.key_path(key)); };
  PetConfig c;
  r.require<std::string>("name");
  YAML::Node full_finetune(YAML::NodeType::Map);
  full_finetune["name"] = "full_finetune";
  c.pattern_method = mapping(r, method, "pattern_method", origins, YAML::Clone(full_finetune));
  c.final_method = mapping(r, method, "final_method", origins, YAML::Clone(full_finetune));
  for (auto* stage : {&c.pattern_method, &c.final_method}) {
    const char* key = stage == &c.pattern_method ? "pattern_method" : "final_method";
    const std::string name_at = r.key_path(key) + ".name" + origins.from(r.key_path(key));
    PTLAB_CHECK((*stage)["name"] && (*stage)["name"].IsScalar(), "{}: missing; name a method of `ptlab list methods`",
                name_at);
    PTLAB_CHECK((*stage)["name"].Scalar() != "pet", "{}: pet cannot be a stage of itself", name_at);
  }
  c.final_task = mapping(r, method, "final_task", origins, YAML::Node(YAML::NodeType::Map));
  c.pattern_trainer = mapping(r, method, "pattern_trainer", origins, YAML::Node(YAML::NodeType::Map));
  c.final_trainer = mapping(r, method, "final_trainer", origins, YAML::Node(YAML::NodeType::Map));
  c.patterns = r.get<std::optional<std::vector<int64_t>>>("patterns", std::nullopt).value_or(std::vector<int64_t>{});
  for (std::size_t i = 0; i < c.patterns.size(); ++i) {
    PTLAB_CHECK(c.patterns[i] >= 0, "{}: pattern {} is negative; list indices into task.pvps (0, 1, ...)", at("patterns"),
                c.patterns[i]);
    for (std::size_t k = 0; k < i; ++k)
      PTLAB_CHECK(c.patterns[k] != c.patterns[i], "{}: pattern {} is listed twice", at("patterns"), c.patterns[i]);
  }
  c.ensemble_weighting = r.get<std::string>("ensemble_weighting", c.ensemble_weighting);
  PTLAB_CHECK(c.ensemble_weighting == "uniform" || c.ensemble_weighting == "prior_accuracy",
              "{}: '{}' is not a weighting; use uniform (w = 1) or prior_accuracy (w = the PVP's zero-shot accuracy "
              "on the training set)", at("ensemble_weighting"), c.ensemble_weighting);
  c.temperature = r.get<double>("temperature", c.temperature);
  PTLAB_CHECK(std::isfinite(c.temperature) && c.temperature > 0,
              "{}: the soft labels' temperature must be > 0 (PET uses 2), got {}", at("temperature"), c.temperature);
  c.unlabeled_limit = r.get<std::optional<int64_t>>("unlabeled_limit", std::nullopt).value_or(0);
  PTLAB_CHECK(c.unlabeled_limit >= 0, "{}: must be >= 0 (0 or null: every unlabeled example), got {}",
              at("unlabeled_limit"), c.unlabeled_limit);
  if (r.has("ipet") && method["ipet"].IsDefined() && !method["ipet"].IsNull()) {
    config::Reader ipet = r.child("ipet");
    c.ipet.generations = ipet.get<int64_t>("generations", c.ipet.generations);
    c.ipet.fraction = ipet.get<double>("fraction", c.ipet.fraction);
    c.ipet.growth = ipet.get<double>("growth", c.ipet.growth);
    ipet.finish();
    PTLAB_CHECK(c.ipet.generations >= 0, "{}: must be >= 0 (0: PET without iPET), got {}", at("ipet.generations"),
                c.ipet.generations);
    PTLAB_CHECK(c.ipet.fraction > 0 && c.ipet.fraction <= 1,
                "{}: the share of the other models that label a model's data must be in (0, 1], got {}",
                at("ipet.fraction"), c.ipet.fraction);
    PTLAB_CHECK(c.ipet.growth > 1, "{}: the training set's growth per generation must be > 1 (PET: 5), got {}",
                at("ipet.growth"), c.ipet.growth);
  }
  r.finish();
  return c;
}

at::Tensor ensemble_scores(const std::vector<at::Tensor>& scores, const std::vector<double>& weights) {
  PTLAB_CHECK(!scores.empty() && scores.size() == weights.size(), "PET ensemble: {} score tables for {} weights",
              scores.size(), weights.size());
  const double total = std::accumulate(weights.begin(), weights.end(), 0.0);
  PTLAB_CHECK(total > 0, "PET ensemble: the weights sum to {}; every pattern model has weight 0 (prior accuracy 0 "
              "on the training set?) — use ensemble_weighting: uniform", total);
  at::Tensor sum = at::zeros_like(scores[0], at::kDouble);
  for (std::size_t p = 0; p < scores.size(); ++p) {
    PTLAB_CHECK(scores[p].sizes() == scores[0].sizes(), "PET ensemble: pattern model {} scores a different shape", p);
    PTLAB_CHECK(weights[p] >= 0, "PET ensemble: weight {} of pattern model {} is negative", weights[p], p);
    sum = sum + scores[p].to(at::kDouble) * weights[p];
  }
  return (sum / total).to(at::kFloat);
}

at::Tensor soft_labels(const at::Tensor& scores, double temperature) {
  PTLAB_CHECK(temperature > 0, "PET soft labels: temperature must be > 0, got {}", temperature);
  return at::softmax(scores.to(at::kDouble) / temperature, 1).to(at::kFloat);
}

int64_t ipet_added(int64_t generation, int64_t train, double growth, int64_t unlabeled) {
  const double added = (std::pow(growth, static_cast<double>(generation)) - 1.0) * static_cast<double>(train);
  return std::min<int64_t>(unlabeled, static_cast<int64_t>(std::llround(added)));
}

std::vector<int64_t> ipet_subset(int64_t j, int64_t models, double fraction, uint64_t seed) {
  PTLAB_CHECK(models >= 2, "iPET needs at least 2 pattern models (each is labelled by the others), got {}", models);
  std::vector<int64_t> others;
  for (int64_t m = 0; m < models; ++m)
    if (m != j) others.push_back(m);
  const auto k = std::max<int64_t>(1, std::llround(fraction * static_cast<double>(models - 1)));
  std::mt19937_64 rng(seed);
  std::shuffle(others.begin(), others.end(), rng);
  others.resize(static_cast<std::size_t>(std::min<int64_t>(k, static_cast<int64_t>(others.size()))));
  std::sort(others.begin(), others.end());
  return others;
}

std::vector<int64_t> ipet_class_quota(const std::vector<int64_t>& train_counts, int64_t n) {
  const double total = static_cast<double>(std::accumulate(train_counts.begin(), train_counts.end(), int64_t{0}));
  PTLAB_CHECK(total > 0, "iPET: the training set has no labeled examples");
  std::vector<int64_t> quota(train_counts.size());
  std::vector<std::pair<double, std::size_t>> remainders;
  int64_t given = 0;
  for (std::size_t c = 0; c < train_counts.size(); ++c) {
    const double exact = static_cast<double>(n) * static_cast<double>(train_counts[c]) / total;
    quota[c] = static_cast<int64_t>(std::floor(exact));
    given += quota[c];
    remainders.emplace_back(exact - std::floor(exact), c);
  }
  // Largest remainders first; ties to the lower class index.
  std::stable_sort(remainders.begin(), remainders.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  for (std::size_t i = 0; given < n && i < remainders.size(); ++i, ++given) ++quota[remainders[i].second];
  return quota;
}

IpetDraw ipet_sample(const at::Tensor& scores, const std::vector<int64_t>& train_counts, int64_t n, uint64_t seed) {
  PTLAB_CHECK(scores.dim() == 2 && scores.size(1) == static_cast<int64_t>(train_counts.size()),
              "iPET: scores of {} classes for {} class counts", scores.dim() == 2 ? scores.size(1) : -1,
              train_counts.size());
  const at::Tensor probs = at::softmax(scores.to(at::kDouble), 1).contiguous();
  const at::Tensor labels = probs.argmax(1).contiguous();
  const int64_t rows = probs.size(0), classes = probs.size(1);
  const double* p = probs.data_ptr<double>();
  const int64_t* label = labels.data_ptr<int64_t>();
  const auto quota = ipet_class_quota(train_counts, n);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  IpetDraw draw;
  for (int64_t c = 0; c < classes; ++c) {
    // Weighted sampling without replacement (Efraimidis & Spirakis): the k largest keys u^(1/w).
    std::vector<std::pair<double, int64_t>> keyed;
    for (int64_t i = 0; i < rows; ++i) {
      if (label[i] != c) continue;
      const double w = std::max(p[i * classes + c], 1e-300);
      keyed.emplace_back(std::log(std::max(uniform(rng), 1e-300)) / w, i);
    }
    std::sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    const auto take = std::min<std::size_t>(keyed.size(), static_cast<std::size_t>(quota[static_cast<std::size_t>(c)]));
    for (std::size_t k = 0; k < take; ++k) {
      draw.rows.push_back(keyed[k].second);
      draw.labels.push_back(c);
    }
  }
  return draw;
}

}  // namespace ptlab::methods::pet
