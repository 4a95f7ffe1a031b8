// Scalar typing and YAML output for composed configs.
//
// yaml-cpp keeps every scalar as text; the type of a value is decided here, once, with the same rules
// for config files and command-line overrides (Hydra's override grammar and OmegaConf's YAML loader):
//   null   null / Null / NULL / ~ (and an empty plain value)
//   bool   true / false in any case
//   int    [+-]digits, '_' allowed between digits ("1_000")
//   float  1.5, .5, 1e-3, 1.5E+3 ('_' allowed), inf / .inf / -inf, nan / .nan in any case
//   string everything else, and every quoted scalar ('1' is a string)
// A scalar read from a quoted YAML string carries yaml-cpp's "!" tag; strings made by this library carry
// the same tag (make_string), so the type survives composition, interpolation and output.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ptlab::config {

enum class ScalarKind { kNull, kBool, kInt, kFloat, kString };

/// The type an unquoted scalar with this text has.
ScalarKind classify_plain(std::string_view text);

/// The type of a scalar or null node; quoted (and !!str) scalars are strings. Containers are an
/// internal error.
ScalarKind scalar_kind(const YAML::Node& node);

/// "a null", "a bool", "an int", "a float", "a string", "a list", "a mapping".
std::string kind_name(const YAML::Node& node);

/// The integer an int text stands for ("1_000" -> 1000); nullopt when the text is no int or overflows.
std::optional<std::int64_t> parse_int(std::string_view text);
/// The number a float or int text stands for ("1e-3", "7", "-inf", ".nan"); nullopt otherwise.
std::optional<double> parse_float(std::string_view text);
/// true/false in any case; nullopt otherwise.
std::optional<bool> parse_bool(std::string_view text);

/// True for the mandatory-missing marker "???".
bool is_missing_value(const YAML::Node& node);

/// A string scalar (tagged "!"), even when its text reads as a number.
YAML::Node make_string(const std::string& text);
/// A scalar typed by its text as an unquoted value (ints lose their '_', floats and bools are written
/// canonically: "INF" -> ".inf", "True" -> "true"); "null" gives a null node.
YAML::Node make_plain(const std::string& text);

/// Equality of two values by type and content: 1 == 1.0, mappings compare key by key in any order.
bool same_value(const YAML::Node& a, const YAML::Node& b);

/// Block-style YAML text of a node, keys in their composed order. Strings that would read back as
/// another type (the string "1", "true", "") are quoted, so the output re-reads to the same config;
/// numbers lose their '_' separators ("1_000" -> 1000).
std::string to_yaml(const YAML::Node& node);

/// One-line rendering for messages: the scalar text, or flow-style YAML for containers, shortened to
/// about 80 characters.
std::string describe(const YAML::Node& node);

}  // namespace ptlab::config
