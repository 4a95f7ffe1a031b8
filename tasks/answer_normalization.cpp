#include "tasks/answer_normalization.h"

#include "framework/text/unicode.h"
#include "framework/text/utf8.h"

#include <cctype>
#include <map>

namespace ptlab::tasks {

namespace {

bool is_punctuation(char32_t cp) {
  if (cp < 0x80) {
    return (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126);
  }
  return text::has_major_category(cp, 'P');
}

// Python's \w: alphanumeric (categories L and N) or '_'.
bool is_word_char(char32_t cp) {
  if (cp < 0x80) return std::isalnum(static_cast<int>(cp)) != 0 || cp == '_';
  return text::has_major_category(cp, 'L') || text::has_major_category(cp, 'N');
}

// The CJK ideograph blocks BERT's tokenizer splits into single characters.
bool is_cjk(char32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF) ||
         (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

bool is_article(std::string_view word) { return word == "a" || word == "an" || word == "the"; }

std::vector<std::string> split_whitespace(std::string_view text) {
  std::vector<std::string> out;
  std::string current;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t start = pos;
    const char32_t cp = text::next_code_point(text, pos);
    if (text::is_python_space(cp)) {
      if (!current.empty()) out.push_back(std::move(current));
      current.clear();
    } else {
      current.append(text.substr(start, pos - start));
    }
  }
  if (!current.empty()) out.push_back(std::move(current));
  return out;
}

}  // namespace

std::string normalize_answer(std::string_view raw) {
  text::check_utf8(raw, "answer text");
  const std::string lower = text::python_lower(raw);

  // Punctuation removed.
  std::string no_punct;
  std::size_t pos = 0;
  while (pos < lower.size()) {
    const std::size_t start = pos;
    const char32_t cp = text::next_code_point(lower, pos);
    if (!is_punctuation(cp)) no_punct.append(lower, start, pos - start);
  }

  // Articles (whole \w runs equal to a / an / the) replaced by a space.
  std::string no_articles;
  pos = 0;
  while (pos < no_punct.size()) {
    std::size_t start = pos;
    char32_t cp = text::next_code_point(no_punct, pos);
    if (!is_word_char(cp)) {
      no_articles.append(no_punct, start, pos - start);
      continue;
    }
    std::size_t end = pos;
    while (end < no_punct.size()) {
      std::size_t next = end;
      if (!is_word_char(text::next_code_point(no_punct, next))) break;
      end = next;
    }
    std::string_view word(no_punct.data() + start, end - start);
    if (is_article(word)) {
      no_articles += ' ';
    } else {
      no_articles.append(word);
    }
    pos = end;
  }

  // Whitespace collapsed.
  std::string out;
  for (const std::string& word : split_whitespace(no_articles)) {
    if (!out.empty()) out += ' ';
    out += word;
  }
  return out;
}

std::vector<std::string> answer_tokens(std::string_view text) {
  std::vector<std::string> out;
  for (const std::string& word : split_whitespace(normalize_answer(text))) {
    std::string current;
    std::size_t pos = 0;
    while (pos < word.size()) {
      const std::size_t start = pos;
      const char32_t cp = text::next_code_point(word, pos);
      if (is_cjk(cp)) {
        if (!current.empty()) out.push_back(std::move(current));
        current.clear();
        out.push_back(word.substr(start, pos - start));
      } else {
        current.append(word, start, pos - start);
      }
    }
    if (!current.empty()) out.push_back(std::move(current));
  }
  return out;
}

double exact_match_score(std::string_view prediction, std::string_view gold) {
  return normalize_answer(prediction) == normalize_answer(gold) ? 1.0 : 0.0;
}

double token_f1_score(std::string_view prediction, std::string_view gold) {
  const std::vector<std::string> p = answer_tokens(prediction), g = answer_tokens(gold);
  if (p.empty() || g.empty()) return p.empty() && g.empty() ? 1.0 : 0.0;
  std::map<std::string, int64_t> counts;
  for (const auto& t : g) ++counts[t];
  int64_t common = 0;
  for (const auto& t : p) {
    auto it = counts.find(t);
    if (it != counts.end() && it->second > 0) {
      ++common;
      --it->second;
    }
  }
  if (common == 0) return 0.0;
  const double precision = static_cast<double>(common) / static_cast<double>(p.size());
  const double recall = static_cast<double>(common) / static_cast<double>(g.size());
  return 2.0 * precision * recall / (precision + recall);
}

}  // namespace ptlab::tasks
