#include "framework/config/yaml_value.h"

#include "framework/core/error.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>

namespace ptlab::config {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Digits with single '_' between them; at least one digit. Returns the end position.
std::size_t scan_digits(std::string_view s, std::size_t i) {
  std::size_t start = i;
  while (i < s.size() && (is_digit(s[i]) || (s[i] == '_' && i > start && i + 1 < s.size() && is_digit(s[i + 1])))) ++i;
  return i;
}

bool is_int_text(std::string_view s) {
  std::size_t i = (!s.empty() && (s[0] == '+' || s[0] == '-')) ? 1 : 0;
  if (i >= s.size() || !is_digit(s[i])) return false;
  return scan_digits(s, i) == s.size();
}

bool is_special_float(std::string_view s) {
  std::string l = lower(s);
  if (!l.empty() && (l[0] == '+' || l[0] == '-')) l = l.substr(1);
  if (!l.empty() && l[0] == '.') l = l.substr(1);
  return l == "inf" || (l == "nan" && s.find_first_of("+-") == std::string_view::npos);
}

bool is_float_text(std::string_view s) {
  if (is_special_float(s)) return true;
  std::size_t i = (!s.empty() && (s[0] == '+' || s[0] == '-')) ? 1 : 0;
  bool mantissa_digits = false, dot_or_exp = false;
  if (i < s.size() && is_digit(s[i])) {
    i = scan_digits(s, i);
    mantissa_digits = true;
  }
  if (i < s.size() && s[i] == '.') {
    dot_or_exp = true;
    ++i;
    if (i < s.size() && is_digit(s[i])) {
      i = scan_digits(s, i);
      mantissa_digits = true;
    }
  }
  if (!mantissa_digits) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    dot_or_exp = true;
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (i >= s.size() || !is_digit(s[i])) return false;
    while (i < s.size() && is_digit(s[i])) ++i;
  }
  return dot_or_exp && i == s.size();
}

std::string strip_underscores(std::string_view s) {
  std::string out;
  for (char c : s)
    if (c != '_') out += c;
  return out;
}

bool is_string_tag(const std::string& tag) { return tag == "!" || tag == "tag:yaml.org,2002:str"; }

void emit(YAML::Emitter& out, const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      if (node.size() == 0) {
        out << YAML::Flow << YAML::BeginMap << YAML::EndMap;
        return;
      }
      out << YAML::BeginMap;
      for (auto it = node.begin(); it != node.end(); ++it) {
        out << YAML::Key << (it->first.IsScalar() ? it->first.Scalar() : describe(it->first));
        out << YAML::Value;
        emit(out, it->second);
      }
      out << YAML::EndMap;
      return;
    case YAML::NodeType::Sequence:
      if (node.size() == 0) {
        out << YAML::Flow << YAML::BeginSeq << YAML::EndSeq;
        return;
      }
      out << YAML::BeginSeq;
      for (const auto& item : node) emit(out, item);
      out << YAML::EndSeq;
      return;
    case YAML::NodeType::Scalar: {
      const std::string& text = node.Scalar();
      ScalarKind kind = scalar_kind(node);
      if (kind == ScalarKind::kInt || kind == ScalarKind::kFloat) {
        out << strip_underscores(text);  // "1_000" reads as a string to YAML 1.2 tools
        return;
      }
      bool quote = kind == ScalarKind::kString && (text.empty() || classify_plain(text) != ScalarKind::kString);
      if (quote) out << YAML::DoubleQuoted;
      out << text;
      return;
    }
    default:
      out << YAML::Null;
  }
}

}  // namespace

ScalarKind classify_plain(std::string_view text) {
  std::string l = lower(text);
  if (l.empty() || l == "null" || l == "~") return ScalarKind::kNull;
  if (l == "true" || l == "false") return ScalarKind::kBool;
  if (is_int_text(text)) return ScalarKind::kInt;
  if (is_float_text(text)) return ScalarKind::kFloat;
  return ScalarKind::kString;
}

ScalarKind scalar_kind(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return ScalarKind::kNull;
  PTLAB_ASSERT(node.IsScalar(), "scalar_kind of a container");
  if (is_string_tag(node.Tag())) return ScalarKind::kString;
  return classify_plain(node.Scalar());
}

std::string kind_name(const YAML::Node& node) {
  if (node.IsMap()) return "a mapping";
  if (node.IsSequence()) return "a list";
  switch (scalar_kind(node)) {
    case ScalarKind::kNull:
      return "null";
    case ScalarKind::kBool:
      return "a bool";
    case ScalarKind::kInt:
      return "an int";
    case ScalarKind::kFloat:
      return "a float";
    default:
      return "a string";
  }
}

std::optional<std::int64_t> parse_int(std::string_view text) {
  if (!is_int_text(text)) return std::nullopt;
  std::string digits = strip_underscores(text);
  bool negative = digits[0] == '-';
  std::size_t i = (digits[0] == '+' || digits[0] == '-') ? 1 : 0;
  std::uint64_t value = 0;
  const std::uint64_t limit = negative ? std::uint64_t(std::numeric_limits<std::int64_t>::max()) + 1
                                       : std::uint64_t(std::numeric_limits<std::int64_t>::max());
  for (; i < digits.size(); ++i) {
    std::uint64_t d = std::uint64_t(digits[i] - '0');
    if (value > (limit - d) / 10) return std::nullopt;
    value = value * 10 + d;
  }
  if (negative) return value == limit ? std::numeric_limits<std::int64_t>::min() : -std::int64_t(value);
  return std::int64_t(value);
}

std::optional<double> parse_float(std::string_view text) {
  if (is_special_float(text)) {
    std::string l = lower(text);
    if (l.find("nan") != std::string::npos) return std::numeric_limits<double>::quiet_NaN();
    return l[0] == '-' ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
  }
  if (!is_int_text(text) && !is_float_text(text)) return std::nullopt;
  std::string clean = strip_underscores(text);
  try {
    std::size_t used = 0;
    double v = std::stod(clean, &used);
    if (used != clean.size()) return std::nullopt;
    return v;
  } catch (const std::out_of_range&) {
    return clean[0] == '-' ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
  } catch (const std::invalid_argument&) {
    return std::nullopt;
  }
}

std::optional<bool> parse_bool(std::string_view text) {
  std::string l = lower(text);
  if (l == "true") return true;
  if (l == "false") return false;
  return std::nullopt;
}

bool is_missing_value(const YAML::Node& node) { return node.IsDefined() && node.IsScalar() && node.Scalar() == "???"; }

YAML::Node make_string(const std::string& text) {
  YAML::Node node(text);
  node.SetTag("!");
  return node;
}

YAML::Node make_plain(const std::string& text) {
  switch (classify_plain(text)) {
    case ScalarKind::kNull:
      return YAML::Node(YAML::NodeType::Null);
    case ScalarKind::kBool:
      return YAML::Node(*parse_bool(text) ? "true" : "false");
    case ScalarKind::kInt:
      return YAML::Node(strip_underscores(text));
    case ScalarKind::kFloat:
      if (is_special_float(text)) {
        double v = *parse_float(text);
        return YAML::Node(std::isnan(v) ? ".nan" : v > 0 ? ".inf" : "-.inf");
      }
      return YAML::Node(strip_underscores(text));
    default:
      return YAML::Node(text);
  }
}

bool same_value(const YAML::Node& a, const YAML::Node& b) {
  if (a.IsMap() || b.IsMap()) {
    if (!a.IsMap() || !b.IsMap() || a.size() != b.size()) return false;
    for (auto it = a.begin(); it != a.end(); ++it) {
      const YAML::Node& cb = b;
      YAML::Node other = cb[it->first.Scalar()];
      if (!other.IsDefined() || !same_value(it->second, other)) return false;
    }
    return true;
  }
  if (a.IsSequence() || b.IsSequence()) {
    if (!a.IsSequence() || !b.IsSequence() || a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
      if (!same_value(a[i], b[i])) return false;
    return true;
  }
  ScalarKind ka = scalar_kind(a), kb = scalar_kind(b);
  bool na = ka == ScalarKind::kInt || ka == ScalarKind::kFloat;
  bool nb = kb == ScalarKind::kInt || kb == ScalarKind::kFloat;
  if (na && nb) {
    if (ka == ScalarKind::kInt && kb == ScalarKind::kInt) return parse_int(a.Scalar()) == parse_int(b.Scalar());
    double x = *parse_float(a.Scalar()), y = *parse_float(b.Scalar());
    return x == y || (std::isnan(x) && std::isnan(y));
  }
  if (ka != kb) return false;
  switch (ka) {
    case ScalarKind::kNull:
      return true;
    case ScalarKind::kBool:
      return parse_bool(a.Scalar()) == parse_bool(b.Scalar());
    default:
      return a.Scalar() == b.Scalar();
  }
}

std::string to_yaml(const YAML::Node& node) {
  YAML::Emitter out;
  out << YAML::LowerNull;
  emit(out, node);
  PTLAB_ASSERT(out.good(), "YAML emitter failed: {}", out.GetLastError());
  std::string text = out.c_str();
  if (!text.empty() && text.back() != '\n') text += '\n';
  return text;
}

std::string describe(const YAML::Node& node) {
  std::string text;
  if (!node.IsDefined() || node.IsNull()) {
    text = "null";
  } else if (node.IsScalar()) {
    text = node.Scalar();
  } else {
    YAML::Emitter out;
    out << YAML::LowerNull << YAML::Flow;
    emit(out, node);
    text = out.c_str();
  }
  for (char& c : text)
    if (c == '\n') c = ' ';
  if (text.size() > 80) text = text.substr(0, 77) + "...";
  return text;
}

}  // namespace ptlab::config
