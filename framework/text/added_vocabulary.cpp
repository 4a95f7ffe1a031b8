#include "framework/text/added_vocabulary.h"

#include "framework/core/error.h"
#include "framework/text/unicode.h"
#include "framework/text/utf8.h"

#include <algorithm>

namespace ptlab::text {
namespace {

// Start of the code point that ends at `end` (exclusive).
std::size_t previous_start(std::string_view text, std::size_t end) {
  std::size_t start = end - 1;
  while (start > 0 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
  return start;
}

bool is_word_char(char32_t cp) { return cp == '_' || has_major_category(cp, 'L') || has_major_category(cp, 'N'); }

}  // namespace

void AddedVocabulary::add(AddedToken token) {
  PTLAB_ASSERT(!token.content.empty(), "added token with empty content (id {})", token.id);
  PTLAB_ASSERT(token.id >= 0, "added token '{}' without an id", token.content);
  auto it = by_content_.find(token.content);
  if (it != by_content_.end()) {
    tokens_[it->second] = std::move(token);
  } else {
    tokens_.push_back(std::move(token));
  }
  reindex();
}

void AddedVocabulary::reindex() {
  by_content_.clear();
  by_id_.clear();
  for (auto& list : by_first_byte_) list.clear();
  for (std::size_t i = 0; i < tokens_.size(); ++i) {
    by_content_[tokens_[i].content] = i;
    by_id_[tokens_[i].id] = i;
    by_first_byte_[static_cast<unsigned char>(tokens_[i].content[0])].push_back(i);
  }
  for (auto& list : by_first_byte_)
    std::stable_sort(list.begin(), list.end(), [&](std::size_t a, std::size_t b) {
      return tokens_[a].content.size() > tokens_[b].content.size();
    });
}

const AddedToken* AddedVocabulary::find(std::string_view content) const {
  auto it = by_content_.find(std::string(content));
  return it == by_content_.end() ? nullptr : &tokens_[it->second];
}

const AddedToken* AddedVocabulary::find(int id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &tokens_[it->second];
}

int AddedVocabulary::max_id() const {
  int m = -1;
  for (const auto& t : tokens_) m = std::max(m, t.id);
  return m;
}

std::vector<AddedVocabulary::Segment> AddedVocabulary::split(std::string_view text, Match match) const {
  std::vector<Segment> out;
  auto selected = [&](const AddedToken& t) {
    return match == Match::kAll || (match == Match::kNormalizedOnly ? t.normalized : !t.normalized);
  };
  std::size_t text_start = 0, pos = 0;
  while (pos < text.size()) {
    const AddedToken* hit = nullptr;
    // A continuation byte never equals a token's first byte, so matches start on code point boundaries.
    for (std::size_t idx : by_first_byte_[static_cast<unsigned char>(text[pos])]) {
      const AddedToken& t = tokens_[idx];
      if (!selected(t) || text.compare(pos, t.content.size(), t.content) != 0) continue;
      if (t.single_word) {
        std::size_t after = pos + t.content.size(), p = after;
        if (pos > 0) {
          std::size_t q = previous_start(text, pos);
          if (is_word_char(next_code_point(text, q))) continue;
        }
        if (after < text.size() && is_word_char(next_code_point(text, p))) continue;
      }
      hit = &t;
      break;
    }
    if (hit == nullptr) {
      ++pos;
      continue;
    }
    std::size_t plain_end = pos;
    if (hit->lstrip) {
      while (plain_end > text_start) {
        std::size_t q = previous_start(text, plain_end), p = q;
        if (!is_python_space(next_code_point(text, p))) break;
        plain_end = q;
      }
    }
    if (plain_end > text_start) out.push_back({text_start, plain_end, nullptr});
    out.push_back({pos, pos + hit->content.size(), hit});
    pos += hit->content.size();
    if (hit->rstrip) {
      while (pos < text.size()) {
        std::size_t p = pos;
        if (!is_python_space(next_code_point(text, p))) break;
        pos = p;
      }
    }
    text_start = pos;
  }
  if (text_start < text.size()) out.push_back({text_start, text.size(), nullptr});
  return out;
}

}  // namespace ptlab::text
