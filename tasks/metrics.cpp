#include "tasks/metrics.h"

#include "framework/core/error.h"
#include "framework/core/suggest.h"
#include "tasks/answer_normalization.h"

#include <algorithm>
#include <cmath>
#include <functional>

namespace ptlab::tasks {

// ---- ConfusionMatrix ----------------------------------------------------------------------------------

ConfusionMatrix::ConfusionMatrix(int64_t num_classes)
    : num_classes_(num_classes), counts_(static_cast<std::size_t>(num_classes * (num_classes + 1)), 0.0) {
  PTLAB_ASSERT(num_classes >= 0, "negative class count {}", num_classes);
}

std::size_t ConfusionMatrix::cell(int64_t gold, int64_t predicted) const {
  const int64_t column = predicted < 0 ? num_classes_ : predicted;
  return static_cast<std::size_t>(gold * (num_classes_ + 1) + column);
}

void ConfusionMatrix::add(int64_t gold, int64_t predicted) {
  PTLAB_CHECK(gold >= 0 && gold < num_classes_, "gold class {} is outside [0, {})", gold, num_classes_);
  PTLAB_CHECK(predicted >= -1 && predicted < num_classes_, "predicted class {} is outside [0, {}) (-1 means no class)",
              predicted, num_classes_);
  counts_[cell(gold, predicted)] += 1.0;
}

int64_t ConfusionMatrix::count(int64_t gold, int64_t predicted) const {
  PTLAB_ASSERT(gold >= 0 && gold < num_classes_ && predicted >= -1 && predicted < num_classes_,
               "cell ({}, {}) outside a {}-class matrix", gold, predicted, num_classes_);
  return static_cast<int64_t>(counts_[cell(gold, predicted)]);
}

int64_t ConfusionMatrix::total() const {
  double sum = 0;
  for (double c : counts_) sum += c;
  return static_cast<int64_t>(sum);
}

int64_t ConfusionMatrix::correct() const {
  int64_t sum = 0;
  for (int64_t k = 0; k < num_classes_; ++k) sum += count(k, k);
  return sum;
}

std::vector<int64_t> ConfusionMatrix::gold_counts() const {
  std::vector<int64_t> out(static_cast<std::size_t>(num_classes_), 0);
  for (int64_t g = 0; g < num_classes_; ++g)
    for (int64_t p = -1; p < num_classes_; ++p) out[static_cast<std::size_t>(g)] += count(g, p);
  return out;
}

std::vector<int64_t> ConfusionMatrix::predicted_counts() const {
  std::vector<int64_t> out(static_cast<std::size_t>(num_classes_), 0);
  for (int64_t g = 0; g < num_classes_; ++g)
    for (int64_t p = 0; p < num_classes_; ++p) out[static_cast<std::size_t>(p)] += count(g, p);
  return out;
}

double ConfusionMatrix::accuracy() const {
  const int64_t n = total();
  return n == 0 ? 0.0 : static_cast<double>(correct()) / static_cast<double>(n);
}

double ConfusionMatrix::macro_f1() const {
  const std::vector<int64_t> gold = gold_counts(), predicted = predicted_counts();
  double sum = 0;
  int64_t classes = 0;
  for (int64_t k = 0; k < num_classes_; ++k) {
    const auto i = static_cast<std::size_t>(k);
    if (gold[i] == 0 && predicted[i] == 0) continue;  // absent from both: not averaged (scikit-learn)
    const double tp = static_cast<double>(count(k, k));
    const double fp = static_cast<double>(predicted[i]) - tp;
    const double fn = static_cast<double>(gold[i]) - tp;
    sum += 2 * tp / (2 * tp + fp + fn);
    ++classes;
  }
  return classes == 0 ? 0.0 : sum / static_cast<double>(classes);
}

double ConfusionMatrix::mcc() const {
  // Gorodkin (2004): (c s - sum_k p_k t_k) / sqrt((s^2 - sum_k p_k^2)(s^2 - sum_k t_k^2)), "none"
  // predictions forming one more predicted class that no gold label has.
  const std::vector<int64_t> gold = gold_counts(), predicted = predicted_counts();
  const double s = static_cast<double>(total()), c = static_cast<double>(correct());
  double none = s;
  double pt = 0, pp = 0, tt = 0;
  for (std::size_t k = 0; k < gold.size(); ++k) {
    const double p = static_cast<double>(predicted[k]), t = static_cast<double>(gold[k]);
    pt += p * t;
    pp += p * p;
    tt += t * t;
    none -= p;
  }
  pp += none * none;
  const double denominator = std::sqrt((s * s - pp) * (s * s - tt));
  return denominator == 0 ? 0.0 : (c * s - pt) / denominator;
}

std::vector<double> ConfusionMatrix::state() const { return counts_; }

void ConfusionMatrix::merge(const std::vector<double>& other) {
  PTLAB_CHECK(other.size() == counts_.size(),
              "cannot merge a confusion-matrix state of {} counts into one of {} ({} classes): the ranks disagree "
              "on the number of classes",
              other.size(), counts_.size(), num_classes_);
  for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += other[i];
}

void ConfusionMatrix::reset() { std::fill(counts_.begin(), counts_.end(), 0.0); }

// ---- Metric -------------------------------------------------------------------------------------------

void Metric::add_classes(const std::vector<int64_t>&, const std::vector<int64_t>&) {
  PTLAB_ASSERT(false, "metric {} does not take class predictions", name_);
}
void Metric::add_texts(const std::vector<std::string>&, const std::vector<std::vector<std::string>>&) {
  PTLAB_ASSERT(false, "metric {} does not take texts", name_);
}
void Metric::add_tags(const std::vector<int64_t>&, const std::vector<int64_t>&) {
  PTLAB_ASSERT(false, "metric {} does not take tags", name_);
}
void Metric::add_token_loss(double, int64_t) { PTLAB_ASSERT(false, "metric {} does not take token losses", name_); }

void Metric::check_merge_size(std::size_t expected, std::size_t got) const {
  PTLAB_CHECK(expected == got, "metric {}: cannot merge a state of {} values into one of {}", name_, got, expected);
}

namespace {

void check_batch(const std::string& name, std::size_t predicted, std::size_t gold) {
  PTLAB_CHECK(predicted == gold, "metric {}: {} predictions for {} gold labels", name, predicted, gold);
}

// accuracy, macro_f1, mcc, confusion_matrix: one confusion matrix each.
class ClassMetric final : public Metric {
 public:
  enum class Kind { kAccuracy, kMacroF1, kMcc, kConfusion };
  ClassMetric(const std::string& name, Kind kind, int64_t num_classes, std::vector<std::string> class_names)
      : Metric(name, MetricInput::kClasses), kind_(kind), matrix_(num_classes), class_names_(std::move(class_names)) {}

  void add_classes(const std::vector<int64_t>& predicted, const std::vector<int64_t>& gold) override {
    check_batch(name(), predicted.size(), gold.size());
    for (std::size_t i = 0; i < gold.size(); ++i)
      if (gold[i] >= 0) matrix_.add(gold[i], predicted[i]);
  }
  std::vector<double> state() const override { return matrix_.state(); }
  void merge(const std::vector<double>& other) override {
    check_merge_size(matrix_.state().size(), other.size());
    matrix_.merge(other);
  }
  void reset() override { matrix_.reset(); }
  std::map<std::string, double> values() const override {
    switch (kind_) {
      case Kind::kAccuracy:
        return {{name(), matrix_.accuracy()}};
      case Kind::kMacroF1:
        return {{name(), matrix_.macro_f1()}};
      case Kind::kMcc:
        return {{name(), matrix_.mcc()}};
      case Kind::kConfusion:
        break;
    }
    std::map<std::string, double> out;
    for (int64_t g = 0; g < matrix_.num_classes(); ++g)
      for (int64_t p = -1; p < matrix_.num_classes(); ++p)
        out[name() + "/" + class_name(g) + "/" + (p < 0 ? std::string("none") : class_name(p))] =
            static_cast<double>(matrix_.count(g, p));
    return out;
  }
  const ConfusionMatrix& matrix() const { return matrix_; }

 private:
  std::string class_name(int64_t k) const {
    return static_cast<std::size_t>(k) < class_names_.size() ? class_names_[static_cast<std::size_t>(k)]
                                                             : std::to_string(k);
  }
  Kind kind_;
  ConfusionMatrix matrix_;
  std::vector<std::string> class_names_;
};

// Metrics whose state is {sum, count}.
class MeanMetric final : public Metric {
 public:
  using Finish = std::function<double(double sum, double count)>;
  MeanMetric(const std::string& name, MetricInput input, Finish finish)
      : Metric(name, input), finish_(std::move(finish)) {}

  void add_texts(const std::vector<std::string>& predicted,
                 const std::vector<std::vector<std::string>>& gold) override {
    check_batch(name(), predicted.size(), gold.size());
    const bool f1 = name() == "token_f1";
    for (std::size_t i = 0; i < predicted.size(); ++i) {
      double best = 0;
      for (const std::string& answer : gold[i])
        best = std::max(best, f1 ? token_f1_score(predicted[i], answer) : exact_match_score(predicted[i], answer));
      sum_ += best;
      count_ += 1;
    }
  }
  void add_tags(const std::vector<int64_t>& predicted, const std::vector<int64_t>& gold) override {
    check_batch(name(), predicted.size(), gold.size());
    for (std::size_t i = 0; i < gold.size(); ++i) {
      if (gold[i] == -100) continue;
      sum_ += predicted[i] == gold[i] ? 1 : 0;
      count_ += 1;
    }
  }
  void add_token_loss(double nll_sum, int64_t tokens) override {
    PTLAB_CHECK(tokens >= 0, "metric {}: negative token count {}", name(), tokens);
    sum_ += nll_sum;
    count_ += static_cast<double>(tokens);
  }
  std::vector<double> state() const override { return {sum_, count_}; }
  void merge(const std::vector<double>& other) override {
    check_merge_size(2, other.size());
    sum_ += other[0];
    count_ += other[1];
  }
  void reset() override { sum_ = count_ = 0; }
  std::map<std::string, double> values() const override { return {{name(), finish_(sum_, count_)}}; }

 private:
  Finish finish_;
  double sum_ = 0, count_ = 0;
};

double mean_or_zero(double sum, double count) { return count == 0 ? 0.0 : sum / count; }

struct MetricKind {
  const char* name;
  MetricInput input;
};

const std::vector<MetricKind>& metric_kinds() {
  static const std::vector<MetricKind> kinds = {
      {"accuracy", MetricInput::kClasses},    {"macro_f1", MetricInput::kClasses},
      {"mcc", MetricInput::kClasses},         {"confusion_matrix", MetricInput::kClasses},
      {"exact_match", MetricInput::kTexts},   {"token_f1", MetricInput::kTexts},
      {"token_accuracy", MetricInput::kTags}, {"perplexity", MetricInput::kTokenLoss},
  };
  return kinds;
}

const MetricKind& find_kind(const std::string& name, const std::string& where) {
  for (const auto& kind : metric_kinds())
    if (name == kind.name) return kind;
  const std::vector<std::string> known = metric_names();
  PTLAB_FAIL("{}: unknown metric '{}'{}; known metrics: {}", where, name, did_you_mean(name, known), join_names(known));
}

}  // namespace

std::vector<std::string> metric_names() {
  std::vector<std::string> out;
  for (const auto& kind : metric_kinds()) out.emplace_back(kind.name);
  return out;
}

MetricInput metric_input(const std::string& name) { return find_kind(name, "metric").input; }

std::unique_ptr<Metric> make_metric(const std::string& name, int64_t num_classes,
                                    const std::vector<std::string>& class_names, const std::string& where) {
  const MetricKind& kind = find_kind(name, where);
  if (kind.input == MetricInput::kClasses) {
    PTLAB_CHECK(num_classes >= 1, "{}: metric {} needs the task's classes, but it has none", where, name);
    ClassMetric::Kind k = name == "accuracy"   ? ClassMetric::Kind::kAccuracy
                          : name == "macro_f1" ? ClassMetric::Kind::kMacroF1
                          : name == "mcc"      ? ClassMetric::Kind::kMcc
                                               : ClassMetric::Kind::kConfusion;
    return std::make_unique<ClassMetric>(name, k, num_classes, class_names);
  }
  if (name == "perplexity") {
    return std::make_unique<MeanMetric>(name, kind.input,
                                        [](double sum, double count) { return std::exp(mean_or_zero(sum, count)); });
  }
  return std::make_unique<MeanMetric>(name, kind.input, mean_or_zero);
}

// ---- MetricSet ----------------------------------------------------------------------------------------

MetricSet::MetricSet(const std::vector<std::string>& names, int64_t num_classes,
                     const std::vector<std::string>& class_names, const std::string& where) {
  for (const std::string& name : names) {
    for (const auto& existing : metrics_)
      PTLAB_CHECK(existing->name() != name, "{}: metric '{}' is listed twice", where, name);
    metrics_.push_back(make_metric(name, num_classes, class_names, where));
  }
}

void MetricSet::add_classes(const std::vector<int64_t>& predicted, const std::vector<int64_t>& gold) {
  for (auto& m : metrics_)
    if (m->input() == MetricInput::kClasses) m->add_classes(predicted, gold);
}

void MetricSet::add_texts(const std::vector<std::string>& predicted,
                          const std::vector<std::vector<std::string>>& gold) {
  for (auto& m : metrics_)
    if (m->input() == MetricInput::kTexts) m->add_texts(predicted, gold);
}

void MetricSet::add_tags(const std::vector<int64_t>& predicted, const std::vector<int64_t>& gold) {
  for (auto& m : metrics_) {
    if (m->input() == MetricInput::kTags) m->add_tags(predicted, gold);
    // Class metrics count each labelled position as one example; they skip gold < 0, so -100 too.
    if (m->input() == MetricInput::kClasses) m->add_classes(predicted, gold);
  }
}

void MetricSet::add_token_loss(double nll_sum, int64_t tokens) {
  for (auto& m : metrics_)
    if (m->input() == MetricInput::kTokenLoss) m->add_token_loss(nll_sum, tokens);
}

std::vector<double> MetricSet::state() const {
  std::vector<double> out;
  for (const auto& m : metrics_) {
    const std::vector<double> s = m->state();
    out.insert(out.end(), s.begin(), s.end());
  }
  return out;
}

void MetricSet::merge(const std::vector<double>& other) {
  std::size_t expected = 0;
  for (const auto& m : metrics_) expected += m->state().size();
  PTLAB_CHECK(other.size() == expected, "cannot merge a metric state of {} values into one of {}", other.size(),
              expected);
  std::size_t offset = 0;
  for (auto& m : metrics_) {
    const std::size_t n = m->state().size();
    m->merge(std::vector<double>(other.begin() + static_cast<std::ptrdiff_t>(offset),
                                 other.begin() + static_cast<std::ptrdiff_t>(offset + n)));
    offset += n;
  }
}

void MetricSet::reset() {
  for (auto& m : metrics_) m->reset();
}

std::map<std::string, double> MetricSet::values() const {
  std::map<std::string, double> out;
  for (const auto& m : metrics_) {
    auto v = m->values();
    out.insert(v.begin(), v.end());
  }
  return out;
}

}  // namespace ptlab::tasks
