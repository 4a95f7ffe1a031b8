// Evaluation metrics that accumulate counts, so that data-parallel ranks can sum them.
//
// Every metric keeps a state of counts (as doubles: exact up to 2^53), exposed as a flat vector:
//   std::vector<double> s = metric.state();       // e.g. accuracy: {correct, total}
//   all-reduce s (sum) across the ranks of a trial  // see dist/communicator.h
//   metric.reset(); metric.merge(s);              // merge adds a state to this one
//   metric.values();                              // computed from the summed counts
// so a metric is computed from the counts of all ranks, never by averaging per-rank percentages.
//
// Metrics (values are fractions in [0, 1]; perplexity is a ratio >= 1):
//   accuracy          classes  correct / total
//   macro_f1          classes  mean over classes of F1 = 2TP / (2TP + FP + FN), over the classes that occur
//                              in the gold labels or the predictions (scikit-learn's f1_score(average="macro"))
//   mcc               classes  Matthews correlation; for more than two classes Gorodkin's R_K (scikit-learn's
//                              matthews_corrcoef); 0 when undefined (a constant prediction or gold)
//   confusion_matrix  classes  per-class counts: "confusion_matrix/<gold>/<predicted>" for every cell, the
//                              predicted "none" column counting predictions that map to no class
//   exact_match       texts    mean over examples of the best exact match against its gold answers
//   token_f1          texts    mean over examples of the best token F1 (answer_normalization.h)
//   token_accuracy    tags     correct / total over positions whose gold tag is not -100
//   perplexity        tokens   exp(summed negative log-likelihood / tokens)
// Class predictions of -1 (a generated text that names no class) count as wrong.
// Token classification: the class metrics take tags too (MetricSet::add_tags), each position whose gold tag
// is not -100 counting as one example over the tag set — macro_f1 is then the mean F1 over tags, as
// scikit-learn's f1_score(average="macro") on the flattened labelled tokens (per token, not seqeval's
// entity spans: POS tags have no spans).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace ptlab::tasks {

/// Counts of (gold, predicted) pairs over num_classes classes plus a "none" prediction column.
class ConfusionMatrix {
 public:
  explicit ConfusionMatrix(int64_t num_classes = 0);

  /// Counts one example. gold must be in [0, C); predicted in [0, C) or -1 (none). Out of range is an Error.
  void add(int64_t gold, int64_t predicted);
  /// Number of examples with this gold class and prediction (predicted -1: none).
  int64_t count(int64_t gold, int64_t predicted) const;

  int64_t num_classes() const { return num_classes_; }
  int64_t total() const;
  int64_t correct() const;
  std::vector<int64_t> gold_counts() const;       ///< [C]
  std::vector<int64_t> predicted_counts() const;  ///< [C] (none excluded)

  double accuracy() const;
  double macro_f1() const;
  double mcc() const;

  /// C * (C + 1) counts, row-major by gold class, the none column last in each row.
  std::vector<double> state() const;
  /// Adds a state of the same shape; another size is an Error.
  void merge(const std::vector<double>& other);
  void reset();

 private:
  std::size_t cell(int64_t gold, int64_t predicted) const;
  int64_t num_classes_ = 0;
  std::vector<double> counts_;
};

enum class MetricInput { kClasses, kTexts, kTags, kTokenLoss };

class Metric {
 public:
  virtual ~Metric() = default;

  const std::string& name() const { return name_; }
  MetricInput input() const { return input_; }

  /// kClasses: predicted and gold class indices of a batch (same length; gold -1 = unlabeled, skipped).
  virtual void add_classes(const std::vector<int64_t>& predicted, const std::vector<int64_t>& gold);
  /// kTexts: one prediction per example against its gold answers (the best one counts).
  virtual void add_texts(const std::vector<std::string>& predicted, const std::vector<std::vector<std::string>>& gold);
  /// kTags: predicted and gold tag ids per position (gold -100 = ignored).
  virtual void add_tags(const std::vector<int64_t>& predicted, const std::vector<int64_t>& gold);
  /// kTokenLoss: a summed negative log-likelihood (nats) over `tokens` tokens.
  virtual void add_token_loss(double nll_sum, int64_t tokens);

  virtual std::vector<double> state() const = 0;
  /// Adds another state of this metric (same size; another size is an Error).
  virtual void merge(const std::vector<double>& other) = 0;
  virtual void reset() = 0;
  /// The results: {name: value}, or one entry per cell for confusion_matrix.
  virtual std::map<std::string, double> values() const = 0;

 protected:
  Metric(std::string name, MetricInput input) : name_(std::move(name)), input_(input) {}
  void check_merge_size(std::size_t expected, std::size_t got) const;

 private:
  std::string name_;
  MetricInput input_;
};

/// The metric called `name` (see the header comment). num_classes and class_names (for confusion-matrix
/// keys; indices when empty) are used by the class metrics, which need num_classes >= 1. An unknown name
/// is an Error naming `where`, the closest and the known names.
std::unique_ptr<Metric> make_metric(const std::string& name, int64_t num_classes,
                                    const std::vector<std::string>& class_names = {},
                                    const std::string& where = "metric");

/// The known metric names.
std::vector<std::string> metric_names();

/// The input a metric name takes (unknown names are an Error).
MetricInput metric_input(const std::string& name);

/// Several metrics fed together; the state is their states concatenated in order.
class MetricSet {
 public:
  MetricSet() = default;
  MetricSet(const std::vector<std::string>& names, int64_t num_classes,
            const std::vector<std::string>& class_names = {}, const std::string& where = "metric");

  /// Each add goes to the metrics of that input; the others ignore it. add_tags also feeds the class
  /// metrics (each labelled position as one example; gold -100 skipped).
  void add_classes(const std::vector<int64_t>& predicted, const std::vector<int64_t>& gold);
  void add_texts(const std::vector<std::string>& predicted, const std::vector<std::vector<std::string>>& gold);
  void add_tags(const std::vector<int64_t>& predicted, const std::vector<int64_t>& gold);
  void add_token_loss(double nll_sum, int64_t tokens);

  std::vector<double> state() const;
  void merge(const std::vector<double>& other);
  void reset();
  /// Every metric's values, by name.
  std::map<std::string, double> values() const;

  std::size_t size() const { return metrics_.size(); }
  const Metric& at(std::size_t i) const { return *metrics_.at(i); }

 private:
  std::vector<std::unique_ptr<Metric>> metrics_;
};

}  // namespace ptlab::tasks
