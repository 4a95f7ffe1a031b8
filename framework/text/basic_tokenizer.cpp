#include "framework/text/basic_tokenizer.h"

#include "framework/text/unicode.h"
#include "framework/text/utf8.h"

namespace ptlab::text {
namespace {

bool is_bert_whitespace(char32_t cp) {
  if (cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r') return true;
  return cp >= 0x80 && general_category(cp)[0] == 'Z' && general_category(cp)[1] == 's';
}

bool is_bert_control(char32_t cp) {
  if (cp == '\t' || cp == '\n' || cp == '\r') return false;
  if (cp < 0x80) return cp < 0x20 || cp == 0x7F;
  return has_major_category(cp, 'C');
}

}  // namespace

BasicTokenizer::BasicTokenizer(Options options) : options_(std::move(options)) {
  never_split_.insert(options_.never_split.begin(), options_.never_split.end());
}

bool BasicTokenizer::is_chinese_char(char32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF) ||
         (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

bool BasicTokenizer::is_punctuation(char32_t cp) {
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126))
    return true;
  return cp >= 0x80 && has_major_category(cp, 'P');
}

void BasicTokenizer::tokenize(std::string_view text, std::vector<std::string>& out) const {
  // Steps 1 and 2 in one pass.
  std::string cleaned;
  cleaned.reserve(text.size() + 16);
  for (std::size_t pos = 0; pos < text.size();) {
    const std::size_t start = pos;
    const char32_t cp = next_code_point(text, pos);
    if (options_.clean_text) {
      if (cp == 0 || cp == 0xFFFD || is_bert_control(cp)) continue;
      if (is_bert_whitespace(cp)) {
        cleaned += ' ';
        continue;
      }
    }
    if (options_.tokenize_chinese_chars && cp >= 0x3400 && is_chinese_char(cp)) {
      cleaned += ' ';
      cleaned.append(text, start, pos - start);
      cleaned += ' ';
      continue;
    }
    cleaned.append(text, start, pos - start);
  }
  const std::string nfc = normalize(cleaned, NormalForm::kNFC);

  // Step 4: Python str.split().
  const std::string_view s = nfc;
  std::size_t pos = 0, word_start = std::string_view::npos;
  auto flush = [&](std::size_t end) {
    if (word_start != std::string_view::npos) split_word(std::string(s.substr(word_start, end - word_start)), out);
    word_start = std::string_view::npos;
  };
  while (pos < s.size()) {
    const std::size_t start = pos;
    const auto c = static_cast<unsigned char>(s[pos]);
    const bool space = c < 0x80 ? (++pos, is_python_space(c)) : is_python_space(next_code_point(s, pos));
    if (space) {
      flush(start);
    } else if (word_start == std::string_view::npos) {
      word_start = start;
    }
  }
  flush(s.size());
}

void BasicTokenizer::split_word(std::string word, std::vector<std::string>& out) const {
  if (never_split_.count(word)) {
    out.push_back(std::move(word));
    return;
  }
  if (options_.lower_case) word = python_lower(word);
  if (options_.strip_accents.value_or(options_.lower_case)) word = strip_accents(word);
  // Step 6: punctuation characters become words of their own; the rest stays together.
  std::size_t pos = 0, run = 0;
  while (pos < word.size()) {
    const std::size_t start = pos;
    const char32_t cp = next_code_point(word, pos);
    if (is_punctuation(cp)) {
      if (start > run) out.push_back(word.substr(run, start - run));
      out.push_back(word.substr(start, pos - start));
      run = pos;
    }
  }
  if (word.size() > run) out.push_back(word.substr(run));
}

}  // namespace ptlab::text
