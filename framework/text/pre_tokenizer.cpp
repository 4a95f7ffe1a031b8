#include "framework/text/pre_tokenizer.h"

#include "framework/core/error.h"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace ptlab::text {
namespace {

std::string escape_literal(const std::string& s) {
  std::string out = "\\Q";
  // \Q...\E quotes everything but a literal "\E", which we split around.
  for (std::size_t pos = 0;;) {
    std::size_t hit = s.find("\\E", pos);
    if (hit == std::string::npos) {
      out.append(s, pos, std::string::npos);
      break;
    }
    out.append(s, pos, hit - pos).append("\\E\\\\E\\Q");
    pos = hit + 2;
  }
  return out + "\\E";
}

PreTokenizer::Behavior parse_behavior(const nlohmann::json& j, std::string_view where) {
  std::string b = j.is_string() ? j.get<std::string>() : "";
  if (b == "Removed") return PreTokenizer::Behavior::kRemoved;
  if (b == "Isolated") return PreTokenizer::Behavior::kIsolated;
  if (b == "MergedWithPrevious") return PreTokenizer::Behavior::kMergedWithPrevious;
  if (b == "MergedWithNext") return PreTokenizer::Behavior::kMergedWithNext;
  if (b == "Contiguous") return PreTokenizer::Behavior::kContiguous;
  PTLAB_FAIL("{}.behavior is {}; expected one of Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous",
             where, j.dump());
}

}  // namespace

PreTokenizer PreTokenizer::gpt2() { return split_by(kGpt2Pattern, Behavior::kIsolated); }

PreTokenizer PreTokenizer::split_by(const std::string& pattern, Behavior behavior, bool invert) {
  PreTokenizer p;
  p.steps_.push_back({std::make_shared<const Regex>(pattern, "pre-tokenizer pattern"), behavior, invert});
  return p;
}

PreTokenizer PreTokenizer::from_json(const nlohmann::json& json, std::string_view where) {
  PreTokenizer p;
  if (!json.is_null()) p.parse(json, where);
  return p;
}

void PreTokenizer::parse(const nlohmann::json& j, std::string_view where) {
  PTLAB_CHECK(j.is_object() && j.contains("type") && j["type"].is_string(), "{} must be an object with a \"type\"",
              where);
  const std::string type = j["type"].get<std::string>();
  if (type == "Sequence") {
    const auto& list = j.value("pretokenizers", nlohmann::json::array());
    for (std::size_t i = 0; i < list.size(); ++i) parse(list[i], fmt::format("{}.pretokenizers[{}]", where, i));
  } else if (type == "ByteLevel") {
    byte_level_ = true;
    add_prefix_space_ = add_prefix_space_ || j.value("add_prefix_space", false);
    if (j.value("use_regex", true))
      steps_.push_back({std::make_shared<const Regex>(kGpt2Pattern, where), Behavior::kIsolated, false});
  } else if (type == "Split") {
    const auto& pattern = j.value("pattern", nlohmann::json());
    std::string at = fmt::format("{}.pattern", where);
    std::string regex;
    if (pattern.is_object() && pattern.contains("Regex") && pattern["Regex"].is_string()) {
      regex = pattern["Regex"].get<std::string>();
      at += ".Regex";
    } else if (pattern.is_object() && pattern.contains("String") && pattern["String"].is_string()) {
      regex = escape_literal(pattern["String"].get<std::string>());
      at += ".String";
    } else {
      PTLAB_FAIL("{} must be {{\"Regex\": \"...\"}} or {{\"String\": \"...\"}}, got {}", at, pattern.dump());
    }
    steps_.push_back({std::make_shared<const Regex>(regex, at),
                      parse_behavior(j.value("behavior", nlohmann::json()), where), j.value("invert", false)});
  } else if (type == "Digits") {
    bool individual = j.value("individual_digits", false);
    steps_.push_back(
        {std::make_shared<const Regex>(individual ? R"(\p{N})" : R"(\p{N}+)", where), Behavior::kIsolated, false});
  } else if (type == "WhitespaceSplit") {
    // Rust: split at char::is_whitespace (Unicode White_Space, which `\s` is rewritten to), removed.
    steps_.push_back({std::make_shared<const Regex>(R"(\s+)", where), Behavior::kRemoved, false});
  } else if (type == "Whitespace") {
    // Rust: the matches of \w+|[^\w\s]+ are kept, the rest removed. Rust's Unicode \w is spelled out:
    // PCRE2's UCP \w is only [\p{L}\p{N}_] and would split words at combining marks.
    const std::string word = R"([\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\x{200C}\x{200D}])";
    const std::string other = R"([^\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\x{200C}\x{200D}\s])";
    steps_.push_back({std::make_shared<const Regex>(word + "+|" + other + "+", where), Behavior::kRemoved, true});
  } else if (type == "Punctuation") {
    // Rust: each char with is_ascii_punctuation() or a Unicode P* category is a delimiter.
    steps_.push_back({std::make_shared<const Regex>(R"([\p{P}!-/:-@\[-`{-~])", where),
                      j.contains("behavior") ? parse_behavior(j["behavior"], where) : Behavior::kIsolated, false});
  } else {
    PTLAB_FAIL(
        "{}: pre-tokenizer type '{}' is not supported (supported: ByteLevel, Split, Digits, Whitespace, "
        "WhitespaceSplit, Punctuation, Sequence)",
        where, type);
  }
}

void PreTokenizer::apply(const Step& step, std::string_view text, const std::vector<Span>& in, std::vector<Span>& out) {
  std::vector<Span> matches;
  std::vector<std::pair<Span, bool>> parts;  // (span, is delimiter), covering each input piece in order
  for (const Span& piece : in) {
    matches.clear();
    step.regex->find_all(text.substr(piece.first, piece.second - piece.first), matches);
    parts.clear();
    std::size_t at = piece.first;
    for (const Span& m : matches) {
      Span abs{piece.first + m.first, piece.first + m.second};
      if (abs.first > at) parts.push_back({{at, abs.first}, step.invert});
      parts.push_back({abs, !step.invert});
      at = abs.second;
    }
    if (at < piece.second) parts.push_back({{at, piece.second}, step.invert});

    // Rust `SplitDelimiterBehavior` semantics.
    std::vector<Span> pieces;
    bool previous_match = false;
    switch (step.behavior) {
      case Behavior::kRemoved:
        for (const auto& [span, is_match] : parts)
          if (!is_match) pieces.push_back(span);
        break;
      case Behavior::kIsolated:
        for (const auto& part : parts) pieces.push_back(part.first);
        break;
      case Behavior::kMergedWithPrevious:
        for (const auto& [span, is_match] : parts) {
          if (is_match && !previous_match && !pieces.empty()) {
            pieces.back().second = span.second;
          } else {
            pieces.push_back(span);
          }
          previous_match = is_match;
        }
        break;
      case Behavior::kMergedWithNext:
        for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
          if (it->second && !previous_match && !pieces.empty()) {
            pieces.back().first = it->first.first;
          } else {
            pieces.push_back(it->first);
          }
          previous_match = it->second;
        }
        std::reverse(pieces.begin(), pieces.end());
        break;
      case Behavior::kContiguous:
        for (std::size_t i = 0; i < parts.size(); ++i) {
          if (i > 0 && parts[i].second == parts[i - 1].second) {
            pieces.back().second = parts[i].first.second;
          } else {
            pieces.push_back(parts[i].first);
          }
        }
        break;
    }
    for (const Span& s : pieces)
      if (s.second > s.first) out.push_back(s);
  }
}

void PreTokenizer::split(std::string_view text, std::vector<Span>& out) const {
  if (text.empty()) return;
  std::vector<Span> current{{0, text.size()}}, next;
  for (const Step& step : steps_) {
    next.clear();
    apply(step, text, current, next);
    current.swap(next);
  }
  out.insert(out.end(), current.begin(), current.end());
}

}  // namespace ptlab::text
