#include "launchers/option_parser.h"

#include "framework/core/error.h"
#include "framework/core/suggest.h"

#include <cstdlib>

namespace ptlab::launchers {

OptionParser::OptionParser(std::string command, std::set<std::string> flags, std::set<std::string> options)
    : command_(std::move(command)), flags_(std::move(flags)), options_(std::move(options)) {}

void OptionParser::parse(const std::vector<std::string>& args) {
  std::vector<std::string> known(flags_.begin(), flags_.end());
  known.insert(known.end(), options_.begin(), options_.end());
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.size() < 3 || a.compare(0, 2, "--") != 0) {
      PTLAB_CHECK(a.empty() || a[0] != '-' || a == "-", "{}: unknown option '{}'; options: {}", command_, a,
                  join_names(known));
      positional_.push_back(a);
      continue;
    }
    std::string name = a, value;
    bool inline_value = false;
    if (auto eq = a.find('='); eq != std::string::npos) {
      name = a.substr(0, eq);
      value = a.substr(eq + 1);
      inline_value = true;
    }
    if (flags_.count(name)) {
      PTLAB_CHECK(!inline_value, "{}: option {} takes no value", command_, name);
      flags_set_.insert(name);
    } else if (options_.count(name)) {
      if (!inline_value) {
        PTLAB_CHECK(i + 1 < args.size(), "{}: option {} needs a value", command_, name);
        value = args[++i];
      }
      values_[name] = value;
    } else {
      PTLAB_FAIL("{}: unknown option '{}'{}; options: {}", command_, name, did_you_mean(name, known),
                 join_names(known));
    }
  }
}

void OptionParser::expect_positional(std::size_t count, const std::string& what) const {
  PTLAB_CHECK(positional_.size() == count, "{}: expected {}, got {} argument{}{} (see --help)", command_, what,
              positional_.size(), positional_.size() == 1 ? "" : "s",
              positional_.empty() ? "" : " (" + join_names(positional_) + ")");
}

std::string OptionParser::get(const std::string& name, const std::string& fallback) const {
  auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second;
}

std::optional<std::string> OptionParser::get(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

int64_t OptionParser::get_int(const std::string& name, int64_t fallback) const {
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  char* end = nullptr;
  long long v = std::strtoll(it->second.c_str(), &end, 10);
  PTLAB_CHECK(!it->second.empty() && end && *end == '\0', "{}: option {} needs an integer, got '{}'", command_, name,
              it->second);
  return v;
}

double OptionParser::get_double(const std::string& name, double fallback) const {
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  char* end = nullptr;
  double v = std::strtod(it->second.c_str(), &end);
  PTLAB_CHECK(!it->second.empty() && end && *end == '\0', "{}: option {} needs a number, got '{}'", command_, name,
              it->second);
  return v;
}

}  // namespace ptlab::launchers
