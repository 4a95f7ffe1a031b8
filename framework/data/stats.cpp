#include "framework/data/stats.h"

#include "framework/text/tokenizer.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

namespace ptlab::data {
namespace {

int64_t word_count(const std::string& s) {
  int64_t n = 0;
  bool in_word = false;
  for (char c : s) {
    const bool space = c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
    if (!space && !in_word) ++n;
    in_word = !space;
  }
  return n;
}

int64_t text_length(const std::string& s, const text::Tokenizer* tokenizer) {
  if (s.empty()) return 0;
  return tokenizer ? int64_t(tokenizer->encode(s, false).size()) : word_count(s);
}

std::string length_line(const char* what, const LengthStats& l, const std::string& unit) {
  return fmt::format("  {} length ({}): mean {:.1f}  min {}  p50 {}  p90 {}  p95 {}  p99 {}  max {}\n", what, unit,
                     l.mean, l.min, l.p50, l.p90, l.p95, l.p99, l.max);
}

}  // namespace

LengthStats length_stats(std::vector<int64_t> lengths) {
  LengthStats s;
  if (lengths.empty()) return s;
  std::sort(lengths.begin(), lengths.end());
  const auto n = int64_t(lengths.size());
  // Nearest rank: the smallest value with at least p% of the values at or below it.
  auto rank = [&](int p) { return lengths[std::size_t(std::max<int64_t>(1, (p * n + 99) / 100) - 1)]; };
  double sum = 0;
  for (int64_t v : lengths) sum += double(v);
  s.count = n;
  s.mean = sum / double(n);
  s.min = lengths.front();
  s.max = lengths.back();
  s.p50 = rank(50);
  s.p90 = rank(90);
  s.p95 = rank(95);
  s.p99 = rank(99);
  return s;
}

SplitStats compute_stats(const std::string& split, const std::vector<Example>& rows,
                         const std::vector<std::string>& labels, const text::Tokenizer* tokenizer) {
  SplitStats st;
  st.split = split;
  st.rows = int64_t(rows.size());
  st.length_unit = tokenizer ? "tokens" : "words";
  std::map<std::string, int64_t> counts;
  std::vector<int64_t> input, target;
  input.reserve(rows.size());
  for (const Example& ex : rows) {
    if (ex.has_label()) {
      ++counts[ex.label_name];
    } else {
      ++st.unlabeled;
    }
    int64_t len = 0;
    if (!ex.tokens.empty()) {
      len = tokenizer ? text_length(fmt::format("{}", fmt::join(ex.tokens, " ")), tokenizer) : int64_t(ex.tokens.size());
    } else {
      len = text_length(ex.text_a, tokenizer) + text_length(ex.text_b, tokenizer);
    }
    input.push_back(len);
    if (!ex.target.empty()) target.push_back(text_length(ex.target, tokenizer));
  }
  for (const std::string& l : labels) {
    auto it = counts.find(l);
    st.label_counts.emplace_back(l, it == counts.end() ? 0 : it->second);
    if (it != counts.end()) counts.erase(it);
  }
  for (const auto& kv : counts) st.label_counts.push_back(kv);
  st.input = length_stats(std::move(input));
  st.target = length_stats(std::move(target));
  return st;
}

std::string format_stats(const SplitStats& s) {
  std::string out = fmt::format("{}: {} rows", s.split, s.rows);
  const bool has_labels = !s.label_counts.empty();
  if (has_labels && s.unlabeled > 0) out += fmt::format(" ({} unlabeled)", s.unlabeled);
  out += "\n";
  if (has_labels && s.unlabeled < s.rows) {
    std::size_t width = 0;
    for (const auto& kv : s.label_counts) width = std::max(width, kv.first.size());
    out += "  labels:\n";
    for (const auto& [name, count] : s.label_counts)
      out += fmt::format("    {:<{}}  {:>8}  {:5.1f}%\n", name, width, count,
                         s.rows > 0 ? 100.0 * double(count) / double(s.rows) : 0.0);
  }
  if (s.input.count > 0) out += length_line("input", s.input, s.length_unit);
  if (s.target.count > 0) out += length_line("target", s.target, s.length_unit);
  return out;
}

}  // namespace ptlab::data
