// "Did you mean ...?" — closest-name suggestions for unknown keys, options and registry names.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ptlab {

/// Levenshtein edit distance between a and b (byte-wise).
std::size_t edit_distance(std::string_view a, std::string_view b);

/// The candidates closest to `name`, best first: at most `max_count`, only those within a distance that
/// makes a typo plausible (about a third of the longer name), plus any candidate that contains `name`
/// or is contained in it. Empty when nothing is close.
std::vector<std::string> closest_names(std::string_view name, const std::vector<std::string>& candidates,
                                       std::size_t max_count = 3);

/// " (did you mean X?)" / " (did you mean X or Y?)", or "" when nothing is close.
std::string did_you_mean(std::string_view name, const std::vector<std::string>& candidates,
                         std::string_view prefix = "");

/// "a, b, c" — the names joined for an error message.
std::string join_names(const std::vector<std::string>& names, std::string_view sep = ", ");

}  // namespace ptlab
