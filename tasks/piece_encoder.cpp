#include "tasks/piece_encoder.h"

#include <algorithm>
#include <string>

namespace ptlab::tasks {

namespace {

// U+E000 (private use): NFKC leaves it alone, no vocabulary merges it with a neighbour.
constexpr std::string_view kSentinel = "\xEE\x80\x80";

std::vector<int> plain_ids(const text::Tokenizer& tokenizer, std::string_view text) {
  return tokenizer.encode(text, /*add_special_tokens=*/false).ids;
}

// SentencePiece without the dummy "▁": encode behind the sentinel and drop the sentinel's tokens.
std::vector<int> sentencepiece_attached(const text::Tokenizer& tokenizer, std::string_view text) {
  const std::vector<int> prefix = plain_ids(tokenizer, kSentinel);
  std::string joined(kSentinel);
  joined.append(text);
  std::vector<int> ids = plain_ids(tokenizer, joined);
  if (ids.size() > prefix.size() && std::equal(prefix.begin(), prefix.end(), ids.begin())) {
    ids.erase(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(prefix.size()));
    return ids;
  }
  // The sentinel merged with the text after all (a model with exotic pieces): drop a bare "▁" if the
  // plain encoding starts with one, the closest we can get without the model's internals.
  ids = plain_ids(tokenizer, text);
  if (ids.size() > 1 && tokenizer.id_to_token(ids[0]) == "\xE2\x96\x81") ids.erase(ids.begin());
  return ids;
}

}  // namespace

const char* spacing_name(Spacing spacing) {
  switch (spacing) {
    case Spacing::kStart:
      return "start";
    case Spacing::kSpace:
      return "space";
    case Spacing::kAttached:
      return "attached";
  }
  return "?";
}

std::vector<int> encode_piece(const text::Tokenizer& tokenizer, std::string_view text, Spacing spacing) {
  if (text.empty()) return {};
  const std::string kind = tokenizer.kind();
  if (kind == "byte_level_bpe") {
    if (spacing != Spacing::kSpace) return plain_ids(tokenizer, text);
    std::string spaced = " ";
    spaced.append(text);
    return plain_ids(tokenizer, spaced);
  }
  if (kind == "sentencepiece" && spacing == Spacing::kAttached) return sentencepiece_attached(tokenizer, text);
  return plain_ids(tokenizer, text);
}

}  // namespace ptlab::tasks
