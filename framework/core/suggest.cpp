#include "framework/core/suggest.h"

#include <algorithm>
#include <numeric>

namespace ptlab {

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  std::iota(prev.begin(), prev.end(), 0);
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::vector<std::string> closest_names(std::string_view name, const std::vector<std::string>& candidates,
                                       std::size_t max_count) {
  std::vector<std::pair<std::size_t, std::string>> scored;
  for (const auto& c : candidates) {
    std::size_t d = edit_distance(name, c);
    std::size_t limit = std::max<std::size_t>(1, std::max(name.size(), c.size()) / 3);
    bool contains = !name.empty() && (c.find(name) != std::string::npos ||
                                      (name.size() > 2 && std::string_view(name).find(c) != std::string_view::npos));
    if (d <= limit || contains) scored.emplace_back(d, c);
  }
  std::stable_sort(scored.begin(), scored.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
  std::vector<std::string> out;
  for (auto& [d, c] : scored) {
    if (out.size() == max_count) break;
    if (std::find(out.begin(), out.end(), c) == out.end()) out.push_back(c);
  }
  return out;
}

std::string did_you_mean(std::string_view name, const std::vector<std::string>& candidates,
                         std::string_view prefix) {
  auto best = closest_names(name, candidates, 2);
  if (best.empty()) return "";
  std::string s = " (did you mean ";
  for (std::size_t i = 0; i < best.size(); ++i) {
    if (i) s += " or ";
    s += std::string(prefix) + best[i];
  }
  return s + "?)";
}

std::string join_names(const std::vector<std::string>& names, std::string_view sep) {
  std::string s;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i) s += sep;
    s += names[i];
  }
  return s;
}

}  // namespace ptlab
