#include "framework/config/interpolate.h"

#include "framework/config/tree.h"
#include "framework/config/yaml_value.h"
#include "framework/core/error.h"
#include "framework/core/suggest.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <ctime>
#include <set>

namespace ptlab::config {
namespace {

// A parsed string: literal text and interpolations, each interpolation itself a sequence of pieces.
struct Piece {
  bool interpolation = false;
  std::string text;          // literal text (or, for an interpolation, its source "${...}")
  std::vector<Piece> inner;  // the content of an interpolation
};

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

// Path parts of a key path as OmegaConf spells it in messages.
std::string join_parts(const std::vector<std::string>& parts, std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n && i < parts.size(); ++i) out = child_key_path(out, parts[i]);
  return out;
}

class Resolver {
 public:
  Resolver(YAML::Node& root, const Origins& origins) : origins_(origins), now_(std::time(nullptr)) {
    root_.reset(root);
  }

  void resolve_all() { resolve_path({}); }

 private:
  // --- parsing ---------------------------------------------------------------------------------
  std::vector<Piece> parse(const std::string& text, const std::string& where) const {
    std::size_t pos = 0;
    auto pieces = parse_until(text, pos, false, where);
    return pieces;
  }

  std::vector<Piece> parse_until(const std::string& s, std::size_t& pos, bool inside, const std::string& where) const {
    std::vector<Piece> out;
    std::string literal;
    auto flush = [&] {
      if (!literal.empty()) out.push_back(Piece{false, literal, {}});
      literal.clear();
    };
    while (pos < s.size()) {
      if (s.compare(pos, 3, "\\${") == 0) {
        literal += "${";
        pos += 3;
        continue;
      }
      if (s.compare(pos, 2, "${") == 0) {
        std::size_t start = pos;
        pos += 2;
        flush();
        Piece p;
        p.interpolation = true;
        p.inner = parse_until(s, pos, true, where);
        PTLAB_CHECK(pos < s.size() && s[pos] == '}', "{}: unterminated interpolation '{}' (missing '}}')", where,
                    s.substr(start));
        ++pos;
        p.text = s.substr(start, pos - start);
        out.push_back(std::move(p));
        continue;
      }
      if (inside && s[pos] == '}') break;
      literal += s[pos++];
    }
    flush();
    return out;
  }

  // --- resolution ------------------------------------------------------------------------------
  std::string where(const std::string& path) const { return "'" + path + "'" + origins_.from(path); }

  bool is_resolved(const std::string& path) const {
    std::string p = path;
    while (true) {
      if (resolved_.count(p)) return true;
      if (p.empty()) return false;
      p = parent_key_path(p);
    }
  }

  // Resolves the node at `parts` (and everything below it) and returns it.
  YAML::Node resolve_path(const std::vector<std::string>& parts) {
    std::string path = path_of(parts);
    YAML::Node node = find_node(root_, parts);
    if (!node.IsDefined() || is_resolved(path)) return node;
    auto cycle = std::find(stack_.begin(), stack_.end(), path);
    if (cycle != stack_.end()) {
      std::vector<std::string> chain(cycle, stack_.end());
      chain.push_back(path);
      PTLAB_FAIL("interpolation cycle: {} (from {}); break it by giving one of these keys a plain value",
                 join_names(chain, " -> "), origins_.of(*cycle).empty() ? "unknown origin" : origins_.of(*cycle));
    }
    stack_.push_back(path);
    if (node.IsMap()) {
      std::vector<std::string> keys;
      for (auto it = node.begin(); it != node.end(); ++it) keys.push_back(it->first.Scalar());
      for (const auto& key : keys) {
        auto child = parts;
        child.push_back(key);
        resolve_path(child);
      }
    } else if (node.IsSequence()) {
      for (std::size_t i = 0; i < node.size(); ++i) {
        auto child = parts;
        child.push_back(std::to_string(i));
        resolve_path(child);
      }
    } else if (node.IsScalar() && has_interpolation(node.Scalar())) {
      YAML::Node value = evaluate_scalar(node, parts, path);
      replace(parts, value);
    } else if (node.IsScalar() && node.Scalar().find("\\${") != std::string::npos) {
      replace(parts, make_string(unescape(node.Scalar())));
    }
    stack_.pop_back();
    resolved_.insert(path);
    return find_node(root_, parts);
  }

  // The path string of parts, with list items as "[i]".
  std::string path_of(const std::vector<std::string>& parts) const {
    std::string path;
    YAML::Node cur;
    cur.reset(root_);
    for (const auto& part : parts) {
      if (cur.IsSequence()) {
        path = path + "[" + part + "]";
      } else {
        path = child_key_path(path, part);
      }
      YAML::Node next = find_node(cur, {part});
      cur.reset(next);
    }
    return path;
  }

  void replace(const std::vector<std::string>& parts, const YAML::Node& value) {
    if (parts.empty()) {
      root_ = YAML::Clone(value);
      return;
    }
    set_node(root_, parts, value);
  }

  static std::string unescape(const std::string& s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (s.compare(i, 3, "\\${") == 0) {
        out += "${";
        i += 2;
      } else {
        out += s[i];
      }
    }
    return out;
  }

  YAML::Node evaluate_scalar(const YAML::Node& node, const std::vector<std::string>& parts, const std::string& path) {
    auto pieces = parse(node.Scalar(), where(path));
    if (pieces.size() == 1 && pieces[0].interpolation) return evaluate(pieces[0], parts, path);
    std::string text;
    for (const auto& piece : pieces) {
      if (!piece.interpolation) {
        text += piece.text;
        continue;
      }
      YAML::Node value = evaluate(piece, parts, path);
      PTLAB_CHECK(!value.IsMap() && !value.IsSequence(),
                  "{}: '{}' is {}, which cannot be inserted into a string; use it alone as the whole value",
                  where(path), piece.text, kind_name(value));
      text += value.IsNull() ? "null" : value.Scalar();
    }
    return make_string(text);
  }

  // Evaluates one interpolation piece to a fresh node (never aliasing the tree).
  YAML::Node evaluate(const Piece& piece, const std::vector<std::string>& parts, const std::string& path) {
    std::string content;
    for (const auto& inner : piece.inner) {
      if (!inner.interpolation) {
        content += inner.text;
        continue;
      }
      YAML::Node value = evaluate(inner, parts, path);
      PTLAB_CHECK(value.IsScalar() || value.IsNull(), "{}: the nested '{}' in '{}' is {}, not a key name", where(path),
                  inner.text, piece.text, kind_name(value));
      content += value.IsNull() ? "null" : value.Scalar();
    }
    content = trim(content);
    // A resolver call: name[.name]*:args
    std::size_t i = 0;
    while (i < content.size() &&
           (std::isalnum(static_cast<unsigned char>(content[i])) || content[i] == '_' || content[i] == '.'))
      ++i;
    if (i > 0 && i < content.size() && content[i] == ':' && content[0] != '.')
      return call_resolver(content.substr(0, i), content.substr(i + 1), piece, path);
    return reference(content, piece, parts, path);
  }

  YAML::Node reference(const std::string& key, const Piece& piece, const std::vector<std::string>& parts,
                       const std::string& path) {
    PTLAB_CHECK(!key.empty(), "{}: empty interpolation '{}'", where(path), piece.text);
    std::vector<std::string> target;
    std::size_t dots = 0;
    while (dots < key.size() && key[dots] == '.') ++dots;
    if (dots > 0) {
      // The first dot is the mapping holding this node; each further dot goes one level up.
      std::vector<std::string> base(parts.begin(), parts.end() - (parts.empty() ? 0 : 1));
      PTLAB_CHECK(dots - 1 <= base.size(), "{}: '{}' climbs {} levels above '{}', past the root", where(path),
                  piece.text, dots - 1, path);
      base.resize(base.size() - (dots - 1));
      target = base;
    }
    for (auto& p : split_key_path(key.substr(dots))) target.push_back(p);
    YAML::Node found = find_node(root_, target);
    std::string target_path = join_parts(target, target.size());
    if (!found.IsDefined()) {
      auto close = similar_key_paths(root_, target_path);
      std::string hint = close.empty() ? "" : "; did you mean " + join_names(close, " or ") + "?";
      PTLAB_FAIL("{}: interpolation '{}' refers to '{}', which does not exist{}", where(path), piece.text, target_path,
                 hint);
    }
    YAML::Node value = resolve_path(target);
    target_path = path_of(target);
    if (is_missing_value(value)) {
      PTLAB_FAIL("missing mandatory value '{}'{} (needed by '{}' = {}); set it with {}=...", target_path,
                 origins_.from(target_path), path, piece.text, target_path);
    }
    return YAML::Clone(value);
  }

  YAML::Node call_resolver(const std::string& name, const std::string& args_text, const Piece& piece,
                           const std::string& path) {
    if (name == "oc.env") {
      auto args = split_args(args_text);
      PTLAB_CHECK(
          !args.empty() && !args[0].empty() && args.size() <= 2,
          "{}: '{}' needs a variable name and an optional default: ${{oc.env:NAME}} or ${{oc.env:NAME,default}}",
          where(path), piece.text);
      const char* value = std::getenv(args[0].c_str());
      if (value) return make_string(value);
      PTLAB_CHECK(args.size() == 2,
                  "{}: environment variable '{}' is not set ({}); set it, or give a default: "
                  "${{oc.env:{},default}}",
                  where(path), args[0], piece.text, args[0]);
      if (args[1] == "null") return YAML::Node(YAML::NodeType::Null);
      return make_string(args[1]);
    }
    if (name == "now") {
      std::string format = trim(args_text);
      PTLAB_CHECK(!format.empty(), "{}: '{}' needs a strftime format, e.g. ${{now:%Y-%m-%d_%H-%M-%S}}", where(path),
                  piece.text);
      std::tm tm{};
      localtime_r(&now_, &tm);
      char buffer[256];
      std::size_t n = std::strftime(buffer, sizeof(buffer), format.c_str(), &tm);
      PTLAB_CHECK(n > 0, "{}: '{}' formats to nothing (or to more than 255 characters)", where(path), piece.text);
      return make_string(std::string(buffer, n));
    }
    PTLAB_FAIL("{}: unknown resolver '{}' in '{}'; the supported resolvers are oc.env and now", where(path), name,
               piece.text);
  }

  // Resolver arguments: split at commas outside quotes; each trimmed and unquoted; "\," is a comma.
  static std::vector<std::string> split_args(const std::string& text) {
    std::vector<std::string> args;
    std::string cur;
    char quote = 0;
    bool quoted = false;
    auto finish = [&] {
      args.push_back(quoted ? cur : trim(cur));
      cur.clear();
      quoted = false;
    };
    for (std::size_t i = 0; i < text.size(); ++i) {
      char c = text[i];
      if (quote) {
        if (c == quote) {
          quote = 0;
        } else {
          cur += c;
        }
      } else if (c == '\\' && i + 1 < text.size() && text[i + 1] == ',') {
        cur += ',';
        ++i;
      } else if ((c == '\'' || c == '"') && trim(cur).empty()) {
        quote = c;
        quoted = true;
        cur.clear();
      } else if (c == ',') {
        finish();
      } else {
        cur += c;
      }
    }
    if (!text.empty()) finish();
    return args;
  }

  YAML::Node root_;
  const Origins& origins_;
  std::time_t now_;
  std::vector<std::string> stack_;
  std::set<std::string> resolved_;
};

void find_missing(const YAML::Node& node, const std::string& path, const Origins& origins) {
  if (node.IsMap()) {
    for (auto it = node.begin(); it != node.end(); ++it)
      find_missing(it->second, child_key_path(path, it->first.Scalar()), origins);
  } else if (node.IsSequence()) {
    for (std::size_t i = 0; i < node.size(); ++i) find_missing(node[i], item_key_path(path, i), origins);
  } else if (is_missing_value(node)) {
    PTLAB_FAIL("missing mandatory value '{}'{}; set it with {}=...", path, origins.from(path), path);
  }
}

}  // namespace

bool has_interpolation(const std::string& text) {
  for (std::size_t i = text.find("${"); i != std::string::npos; i = text.find("${", i + 1)) {
    if (i == 0 || text[i - 1] != '\\') return true;
  }
  return false;
}

void resolve_interpolations(YAML::Node& root, const Origins& origins) {
  Resolver resolver(root, origins);
  resolver.resolve_all();
}

void check_no_missing(const YAML::Node& root, const Origins& origins) { find_missing(root, "", origins); }

}  // namespace ptlab::config
