// The command-line override grammar of Hydra 1.3, parsed into Override values.
//
//   key=value       change a key that must exist (or pick a config group option: model=gpt2)
//   +key=value      add a key that must not exist (or add a group to the defaults list: +experiment=x)
//   ++key=value     add or change
//   ~key, ~key=v    delete (only when the value equals v)
//   group@pkg=opt   pick an option for the group placed at package `pkg`
//
// Values: primitives typed like YAML scalars (null, 1_000, 1e-3, inf, nan, True), quoted strings
// ('a b', "it\"s") that are always strings, `${...}` interpolations kept as text until resolution,
// lists [1,[2,3]], dicts {a:10,b:{c:1}} (merged into an existing dict, not assigned), and backslash
// escapes of the characters \ ( ) [ ] { } : = , space and tab. `key=` sets the empty string.
// Sweeps (only meaningful with -m): `a,b,c`, choice(a,b), range(start, stop[, step]),
// glob(pattern[, exclude=pattern]); interval() and tag() parse but are rejected as non-discrete.
// Every syntax error names the override and the 1-based column.
#pragma once

#include <yaml-cpp/yaml.h>

#include <optional>
#include <string>
#include <vector>

namespace ptlab::config {

enum class OverrideType { kChange, kAdd, kForceAdd, kDelete };

/// One value (primitive, list or dict) and the text it was written as (trimmed), so a sweep can hand
/// each trial the exact text of its choice.
struct ValueElement {
  YAML::Node node;
  std::string text;
};

enum class SweepKind { kNone, kChoice, kRange, kGlob, kInterval, kTag };

/// range(start, stop[, step]): stop excluded; `integers` when start, stop and step are all ints.
struct RangeSweep {
  double start = 0;
  double stop = 0;
  double step = 1;
  bool integers = true;
};

/// glob(include[, exclude=...]): fnmatch patterns over a config group's options.
struct GlobSweep {
  std::vector<std::string> include;
  std::vector<std::string> exclude;
};

struct OverrideValue {
  SweepKind sweep = SweepKind::kNone;
  ValueElement element;               // kNone: the value
  std::vector<ValueElement> choices;  // kChoice
  RangeSweep range;                   // kRange
  GlobSweep glob;                     // kGlob
  std::string text;                   // the whole value as written, trimmed
};

struct Override {
  std::string input;  // as given on the command line
  OverrideType type = OverrideType::kChange;
  std::string key;                     // "trainer.lr", "method", "server/db"
  std::optional<std::string> package;  // "pkg" of group@pkg
  bool has_value = false;              // false for "~key" (and "~key=")
  OverrideValue value;

  /// The key with its prefix and package: "+experiment", "~trainer.lr", "db@backup".
  std::string key_element() const;
  /// "override '<input>'": the origin recorded for values it sets.
  std::string origin() const { return "override '" + input + "'"; }
  bool is_sweep() const { return value.sweep != SweepKind::kNone; }
};

/// Parses one override; a malformed one is an Error naming the override and the column.
Override parse_override(const std::string& input);

/// The override with one chosen value: "<key_element>=<value_text>" ("~key" when there is no value).
std::string render_override(const Override& override_, const std::string& value_text);

}  // namespace ptlab::config
