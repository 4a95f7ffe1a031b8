// Dataset statistics: rows, label distribution and length percentiles of a split — what a researcher
// checks before choosing max_length, k or a verbalizer (`ptlab data show` prints them).
//
// Lengths are of the model input: text_a (+ text_b) — or the tokens of a token-classification row — and,
// separately, of the generation target. With a Tokenizer they count its tokens (no special tokens);
// without one, whitespace-separated words.
#pragma once

#include "framework/data/example.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace ptlab::text {
class Tokenizer;
}

namespace ptlab::data {

struct LengthStats {
  int64_t count = 0;
  double mean = 0;
  int64_t min = 0, p50 = 0, p90 = 0, p95 = 0, p99 = 0, max = 0;
};

/// Nearest-rank percentiles of `lengths` (any order; empty -> all zero).
LengthStats length_stats(std::vector<int64_t> lengths);

struct SplitStats {
  std::string split;
  int64_t rows = 0;
  int64_t unlabeled = 0;
  /// (class name, count) in the dataset's label order, then any other names seen, sorted.
  std::vector<std::pair<std::string, int64_t>> label_counts;
  std::string length_unit;  // "tokens" or "words"
  LengthStats input;
  LengthStats target;  // count == 0 when no row has a target
};

/// Statistics of `rows`. `labels`: the dataset's ordered class names (classes with no rows are listed
/// with 0). `tokenizer` may be null (lengths in whitespace words).
SplitStats compute_stats(const std::string& split, const std::vector<Example>& rows,
                         const std::vector<std::string>& labels, const text::Tokenizer* tokenizer = nullptr);

/// A few aligned lines for a terminal: rows, label distribution with percentages, length percentiles.
std::string format_stats(const SplitStats& stats);

}  // namespace ptlab::data
