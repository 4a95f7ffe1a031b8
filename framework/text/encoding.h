// The result of encoding text: ids, their token strings, token type ids and (where the tokenizer tracks
// them) byte offsets into the input.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace ptlab::text {

struct Encoding {
  /// Token ids, special tokens included when they were asked for.
  std::vector<int> ids;
  /// The vocabulary string of each id (`convert_ids_to_tokens`): "Ġworld", "▁Hello", "##ing", "[CLS]".
  std::vector<std::string> tokens;
  /// Segment of each position: 0 for the first text (and its special tokens), 1 for the second of a pair
  /// where the template says so.
  std::vector<int> type_ids;
  /// Byte range [begin, end) of each token in the text it came from (the first or second text of a
  /// pair), (0, 0) for special tokens added by the template. Empty when the tokenizer does not track
  /// offsets (see each tokenizer's header).
  std::vector<std::pair<std::size_t, std::size_t>> offsets;

  std::size_t size() const { return ids.size(); }
  bool has_offsets() const { return !ids.empty() && offsets.size() == ids.size(); }
};

}  // namespace ptlab::text
