#include "framework/config/override.h"

#include "framework/config/yaml_value.h"
#include "framework/core/error.h"

#include <cctype>
#include <cmath>
#include <cstring>

namespace ptlab::config {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t'; }
bool is_ident_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool is_ident_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }
// Characters a backslash escapes in an unquoted value (Hydra's list, plus both quotes).
bool is_escapable(char c) { return std::strchr("\\()[]{}:=, \t'\"", c) != nullptr && c != '\0'; }

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

enum class Context { kTop, kList, kDictKey, kDictValue, kFunction };

// Recursive-descent parser over one override string; pos_ indexes the whole input so columns in
// messages are columns of what the user typed.
class Parser {
 public:
  explicit Parser(const std::string& input) : s_(input) {}

  Override parse() {
    Override ov;
    ov.input = s_;
    std::size_t pos = 0;
    if (s_.compare(0, 2, "++") == 0) {
      ov.type = OverrideType::kForceAdd;
      pos = 2;
    } else if (!s_.empty() && s_[0] == '+') {
      ov.type = OverrideType::kAdd;
      pos = 1;
    } else if (!s_.empty() && s_[0] == '~') {
      ov.type = OverrideType::kDelete;
      pos = 1;
    }
    std::size_t eq = s_.find('=', pos);
    std::size_t key_end = eq == std::string::npos ? s_.size() : eq;
    parse_key(pos, key_end, ov);
    if (eq == std::string::npos) {
      if (ov.type != OverrideType::kDelete)
        fail(s_.size(), "missing '=value' (write key=value, +key=value, ++key=value, ~key or group=option)");
      return ov;
    }
    pos_ = eq + 1;
    ov.value = parse_value();
    ov.has_value = !(ov.type == OverrideType::kDelete && ov.value.text.empty());
    return ov;
  }

 private:
  [[noreturn]] void fail(std::size_t at, const std::string& what) const {
    PTLAB_FAIL("bad override '{}': {} at column {}", s_, what, at + 1);
  }
  [[noreturn]] void fail_unclosed(std::size_t open, char opener, char closer) const {
    PTLAB_FAIL("bad override '{}': '{}' at column {} is never closed (missing '{}')", s_, opener, open + 1, closer);
  }
  [[noreturn]] void fail_unexpected(std::size_t at) const {
    char c = s_[at];
    std::string what = fmt::format("unexpected '{}'", c);
    if (c == ']' || c == '}' || c == ')') what += fmt::format(" with no matching opening bracket");
    if (c == '=') what += " (escape it as \\= or quote the value)";
    fail(at, what);
  }

  bool at_end() const { return pos_ >= s_.size(); }
  char peek() const { return s_[pos_]; }
  void skip_ws() {
    while (!at_end() && is_space(peek())) ++pos_;
  }

  void parse_key(std::size_t begin, std::size_t end, Override& ov) {
    if (begin >= end) fail(begin, "missing key");
    std::string key = s_.substr(begin, end - begin);
    for (std::size_t i = 0; i < key.size(); ++i) {
      char c = key[i];
      if (is_space(c)) fail(begin + i, "a space in the key (quote the whole key=value for the shell, not the key)");
      if (!(std::isalnum(static_cast<unsigned char>(c)) || std::strchr("_-./$[]@:", c)))
        fail(begin + i, fmt::format("'{}' is not allowed in a key", c));
    }
    auto at = key.find('@');
    ov.key = key.substr(0, at);
    if (ov.key.empty()) fail(begin, "missing key before '@'");
    if (at != std::string::npos) {
      std::string package = key.substr(at + 1);
      if (package.find('@') != std::string::npos) fail(begin + at + 1 + package.find('@'), "a second '@' in the key");
      if (package.find(':') != std::string::npos)
        fail(begin + at + 1 + package.find(':'),
             "package renaming (group@src:dst) is not supported; use group@pkg=option");
      ov.package = package;
    }
    if (ov.key.find(':') != std::string::npos) fail(begin + ov.key.find(':'), "':' is not allowed in a key");
  }

  OverrideValue parse_value() {
    OverrideValue v;
    v.text = trim(s_.substr(pos_));
    skip_ws();
    if (at_end()) {
      v.element = {make_string(""), ""};
      return v;
    }
    std::size_t paren = 0;
    std::size_t name_begin = pos_;
    if (auto name = function_here(paren)) {
      parse_function(*name, name_begin, paren, v);
      skip_ws();
      if (!at_end()) fail_unexpected(pos_);
      return v;
    }
    std::vector<ValueElement> elements;
    elements.push_back(parse_element(Context::kTop));
    while (!at_end() && peek() == ',') {
      ++pos_;
      elements.push_back(parse_element(Context::kTop));
    }
    if (!at_end()) fail_unexpected(pos_);
    if (elements.size() == 1) {
      v.element = elements[0];
    } else {
      v.sweep = SweepKind::kChoice;
      v.choices = std::move(elements);
    }
    return v;
  }

  // An identifier followed by '(' at pos_: returns the name and the position of '('.
  std::optional<std::string> function_here(std::size_t& paren) const {
    std::size_t i = pos_;
    if (i >= s_.size() || !is_ident_start(s_[i])) return std::nullopt;
    while (i < s_.size() && is_ident_char(s_[i])) ++i;
    std::string name = s_.substr(pos_, i - pos_);
    while (i < s_.size() && is_space(s_[i])) ++i;
    if (i >= s_.size() || s_[i] != '(') return std::nullopt;
    paren = i;
    return name;
  }

  ValueElement parse_element(Context ctx) {
    skip_ws();
    std::size_t start = pos_;
    if (at_end()) fail(pos_, "missing value");
    char c = peek();
    if (c == ',' || c == ']' || c == '}' || c == ')') {
      if (c == ',' || (ctx == Context::kList && c == ']') || (ctx == Context::kDictValue && c == '}') ||
          (ctx == Context::kFunction && c == ')'))
        fail(pos_, "missing value");
      fail_unexpected(pos_);
    }
    ValueElement e;
    if (c == '[') {
      e.node = parse_list();
    } else if (c == '{') {
      e.node = parse_dict();
    } else if (c == '\'' || c == '"') {
      e.node = parse_quoted();
    } else {
      e.node = parse_primitive(ctx);
    }
    e.text = trim(s_.substr(start, pos_ - start));
    skip_ws();
    if (!at_end()) {
      char n = peek();
      bool ok = n == ',' || (ctx != Context::kTop && (n == ']' || n == '}' || n == ')'));
      if (!ok) fail_unexpected(pos_);
    }
    return e;
  }

  YAML::Node parse_list() {
    std::size_t open = pos_++;
    YAML::Node seq(YAML::NodeType::Sequence);
    skip_ws();
    if (!at_end() && peek() == ']') {
      ++pos_;
      return seq;
    }
    while (true) {
      skip_ws();
      if (at_end()) fail_unclosed(open, '[', ']');
      seq.push_back(parse_element(Context::kList).node);
      if (at_end()) fail_unclosed(open, '[', ']');
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == ']') {
        ++pos_;
        return seq;
      }
      fail_unexpected(pos_);
    }
  }

  YAML::Node parse_dict() {
    std::size_t open = pos_++;
    YAML::Node map(YAML::NodeType::Map);
    skip_ws();
    if (!at_end() && peek() == '}') {
      ++pos_;
      return map;
    }
    while (true) {
      skip_ws();
      if (at_end()) fail_unclosed(open, '{', '}');
      std::size_t key_pos = pos_;
      if (peek() == ':' || peek() == ',' || peek() == '}') fail(pos_, "missing dict key");
      YAML::Node key = parse_primitive(Context::kDictKey);
      if (at_end()) fail_unclosed(open, '{', '}');
      if (peek() != ':') fail(pos_, fmt::format("expected ':' after dict key '{}'", key.Scalar()));
      ++pos_;
      const YAML::Node& cmap = map;
      if (cmap[key.Scalar()].IsDefined()) fail(key_pos, fmt::format("duplicate dict key '{}'", key.Scalar()));
      skip_ws();
      if (at_end()) fail_unclosed(open, '{', '}');
      map[key.Scalar()] = parse_element(Context::kDictValue).node;
      if (at_end()) fail_unclosed(open, '{', '}');
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == '}') {
        ++pos_;
        return map;
      }
      fail_unexpected(pos_);
    }
  }

  YAML::Node parse_quoted() {
    char q = peek();
    std::size_t open = pos_++;
    std::string out;
    while (!at_end()) {
      char c = peek();
      if (c == '\\' && pos_ + 1 < s_.size() && (s_[pos_ + 1] == q || s_[pos_ + 1] == '\\')) {
        out += s_[pos_ + 1];
        pos_ += 2;
        continue;
      }
      if (c == q) {
        ++pos_;
        return make_string(out);
      }
      out += c;
      ++pos_;
    }
    fail(open, fmt::format("the quote {} opened here is never closed", q));
  }

  // Text up to the next structural character; typed when it is one plain token.
  YAML::Node parse_primitive(Context ctx) {
    std::size_t start = pos_;
    std::string out;
    std::size_t significant = 0;  // length of `out` up to its last non-blank (or escaped) character
    bool plain = true;            // no escapes, no interpolation: the text may be typed
    while (!at_end()) {
      char c = peek();
      if (c == '\\' && pos_ + 1 < s_.size() && is_escapable(s_[pos_ + 1])) {
        out += s_[pos_ + 1];
        pos_ += 2;
        significant = out.size();
        plain = false;
        continue;
      }
      if (c == '$' && pos_ + 1 < s_.size() && s_[pos_ + 1] == '{') {
        std::size_t open = pos_;
        int depth = 0;
        while (!at_end()) {
          if (peek() == '$' && pos_ + 1 < s_.size() && s_[pos_ + 1] == '{') {
            ++depth;
            out += "${";
            pos_ += 2;
            continue;
          }
          out += peek();
          if (peek() == '}' && --depth == 0) break;
          ++pos_;
        }
        if (at_end()) fail(open, "unterminated interpolation '${' (missing '}')");
        ++pos_;
        significant = out.size();
        plain = false;
        continue;
      }
      if (std::strchr(",[]{}()=", c)) break;
      if (c == ':' && ctx == Context::kDictKey) break;
      if (c == '\'' || c == '"')
        fail(pos_, fmt::format("a {} quote inside an unquoted value (quote the whole value or escape it)",
                               c == '\'' ? "single" : "double"));
      out += c;
      ++pos_;
      if (!is_space(c)) significant = out.size();
    }
    out.resize(significant);
    if (out.empty()) fail(start, "missing value");
    if (plain && ctx != Context::kDictKey && classify_plain(out) != ScalarKind::kString) return make_plain(out);
    return make_string(out);
  }

  void parse_function(const std::string& name, std::size_t name_begin, std::size_t paren, OverrideValue& v) {
    if (name == "interval" || name == "tag") {
      v.sweep = name == "interval" ? SweepKind::kInterval : SweepKind::kTag;
      skip_balanced(paren);
      return;
    }
    if (name != "choice" && name != "range" && name != "glob")
      fail(name_begin,
           fmt::format("unknown function '{}()'; the supported sweeps are choice(), range() and glob()", name));
    pos_ = paren + 1;
    struct Arg {
      std::optional<std::string> keyword;
      ValueElement element;
      std::size_t at;
    };
    std::vector<Arg> args;
    skip_ws();
    if (!at_end() && peek() == ')') {
      ++pos_;
    } else {
      while (true) {
        skip_ws();
        if (at_end()) fail_unclosed(paren, '(', ')');
        Arg arg;
        arg.at = pos_;
        std::size_t i = pos_;
        while (i < s_.size() && is_ident_char(s_[i])) ++i;
        std::size_t j = i;
        while (j < s_.size() && is_space(s_[j])) ++j;
        if (i > pos_ && j < s_.size() && s_[j] == '=') {
          arg.keyword = s_.substr(pos_, i - pos_);
          pos_ = j + 1;
        }
        arg.element = parse_element(Context::kFunction);
        args.push_back(std::move(arg));
        if (at_end()) fail_unclosed(paren, '(', ')');
        if (peek() == ',') {
          ++pos_;
          continue;
        }
        if (peek() != ')') fail_unexpected(pos_);
        ++pos_;
        break;
      }
    }
    if (name == "choice") {
      if (args.empty()) fail(paren, "choice() needs at least one value");
      for (auto& a : args) {
        if (a.keyword) fail(a.at, "choice() takes no keyword arguments");
        v.choices.push_back(a.element);
      }
      v.sweep = SweepKind::kChoice;
    } else if (name == "range") {
      interpret_range(args, paren, v);
    } else {
      interpret_glob(args, paren, v);
    }
  }

  template <class Args>
  void interpret_range(const Args& args, std::size_t paren, OverrideValue& v) {
    std::optional<YAML::Node> start, stop, step;
    std::size_t positional = 0;
    for (const auto& a : args) {
      std::optional<YAML::Node>* slot = nullptr;
      std::string name = a.keyword ? *a.keyword : "";
      if (!a.keyword) {
        if (positional >= 3) fail(a.at, "range() takes at most 3 values: range(start, stop, step)");
        ++positional;
        name = positional == 1 ? "start" : positional == 2 ? "stop" : "step";
      }
      if (name == "start") slot = &start;
      if (name == "stop") slot = &stop;
      if (name == "step") slot = &step;
      if (!slot) fail(a.at, fmt::format("range() has no argument '{}' (it takes start, stop, step)", name));
      if (*slot) fail(a.at, fmt::format("range() got '{}' twice", name));
      ScalarKind kind = a.element.node.IsScalar() ? scalar_kind(a.element.node) : ScalarKind::kString;
      if (kind != ScalarKind::kInt && kind != ScalarKind::kFloat)
        fail(a.at, fmt::format("range() needs numbers, got '{}'", a.element.text));
      *slot = a.element.node;
    }
    if (start && !stop && positional == 1 && !args[0].keyword) std::swap(start, stop);  // range(stop)
    if (!stop) fail(paren, "range() needs a stop value: range(start, stop[, step])");
    auto number = [](const std::optional<YAML::Node>& n, double fallback) {
      return n ? *parse_float(n->Scalar()) : fallback;
    };
    auto is_int = [](const std::optional<YAML::Node>& n) { return !n || scalar_kind(*n) == ScalarKind::kInt; };
    v.range.start = number(start, 0);
    v.range.stop = number(stop, 0);
    v.range.step = number(step, 1);
    v.range.integers = is_int(start) && is_int(stop) && is_int(step);
    if (v.range.step == 0 || std::isnan(v.range.step)) fail(paren, "range() step must not be 0");
    v.sweep = SweepKind::kRange;
  }

  template <class Args>
  void interpret_glob(const Args& args, std::size_t paren, OverrideValue& v) {
    auto patterns = [this](const ValueElement& e, std::size_t at) {
      std::vector<std::string> out;
      if (e.node.IsSequence()) {
        for (const auto& item : e.node) {
          if (!item.IsScalar()) fail(at, "glob() patterns must be names or lists of names");
          out.push_back(item.Scalar());
        }
      } else if (e.node.IsScalar()) {
        out.push_back(e.node.Scalar());
      } else {
        fail(at, "glob() patterns must be names or lists of names");
      }
      return out;
    };
    bool have_include = false, have_exclude = false;
    std::size_t positional = 0;
    for (const auto& a : args) {
      std::string name = a.keyword ? *a.keyword : (positional++ == 0 ? "include" : "exclude");
      if (name == "include" && !have_include) {
        v.glob.include = patterns(a.element, a.at);
        have_include = true;
      } else if (name == "exclude" && !have_exclude) {
        v.glob.exclude = patterns(a.element, a.at);
        have_exclude = true;
      } else {
        fail(a.at, fmt::format("glob() takes include and exclude (got '{}')", name));
      }
    }
    if (!have_include) fail(paren, "glob() needs a pattern: glob(*) or glob(*, exclude=pattern)");
    v.sweep = SweepKind::kGlob;
  }

  void skip_balanced(std::size_t paren) {
    int depth = 0;
    char quote = 0;
    for (pos_ = paren; pos_ < s_.size(); ++pos_) {
      char c = s_[pos_];
      if (quote) {
        if (c == quote) quote = 0;
      } else if (c == '\'' || c == '"') {
        quote = c;
      } else if (c == '(') {
        ++depth;
      } else if (c == ')' && --depth == 0) {
        ++pos_;
        return;
      }
    }
    fail_unclosed(paren, '(', ')');
  }

  const std::string& s_;
  std::size_t pos_ = 0;
};

}  // namespace

std::string Override::key_element() const {
  std::string prefix = type == OverrideType::kAdd        ? "+"
                       : type == OverrideType::kForceAdd ? "++"
                       : type == OverrideType::kDelete   ? "~"
                                                         : "";
  return prefix + key + (package ? "@" + *package : "");
}

Override parse_override(const std::string& input) { return Parser(input).parse(); }

std::string render_override(const Override& override_, const std::string& value_text) {
  if (override_.type == OverrideType::kDelete && value_text.empty()) return override_.key_element();
  return override_.key_element() + "=" + value_text;
}

}  // namespace ptlab::config
