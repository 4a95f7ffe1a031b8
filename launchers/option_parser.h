// A small command-line option parser for ptlab commands: `--name value`, `--name=value` and `--flag`,
// positional arguments in between. Unknown options, a missing value and a value that does not parse are
// one-line Errors naming the command and the option (with the closest known option).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace ptlab::launchers {

class OptionParser {
 public:
  /// `command` prefixes messages ("ptlab model forward"); `flags` take no value, `options` take one.
  OptionParser(std::string command, std::set<std::string> flags, std::set<std::string> options);

  /// Parses args (after the command's name). -h / --help must be handled before.
  void parse(const std::vector<std::string>& args);

  const std::vector<std::string>& positional() const { return positional_; }
  /// Exactly `count` positional arguments, else an Error that says what was expected (`what`).
  void expect_positional(std::size_t count, const std::string& what) const;

  bool flag(const std::string& name) const { return flags_set_.count(name) > 0; }
  bool has(const std::string& name) const { return values_.count(name) > 0; }
  std::string get(const std::string& name, const std::string& fallback) const;
  std::optional<std::string> get(const std::string& name) const;
  int64_t get_int(const std::string& name, int64_t fallback) const;
  double get_double(const std::string& name, double fallback) const;

 private:
  std::string command_;
  std::set<std::string> flags_, options_;
  std::vector<std::string> positional_;
  std::set<std::string> flags_set_;
  std::map<std::string, std::string> values_;
};

}  // namespace ptlab::launchers
