// ptlab::Error and the check macros every component uses to report problems.
//
// Two kinds of failure, two exit codes (see launchers/main.cpp):
//  - Error: the user can fix it (a bad config key, a missing file, a corrupt checkpoint). The message
//    says what is wrong, where (file, line, key path, override) and what would be right. Exit code 2.
//  - InternalError: an invariant of ptlab itself broke (a bug). Exit code 1.
// Neither ever prints a stack trace; main() prints exactly one line.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace ptlab {

/// A problem with the user's input: config, data, files, command line. Exit code 2.
class Error : public std::runtime_error {
 public:
  explicit Error(std::string message) : std::runtime_error(std::move(message)) {}
};

/// A broken invariant inside ptlab (a bug, not the user's fault). Exit code 1.
class InternalError : public std::logic_error {
 public:
  explicit InternalError(std::string message) : std::logic_error(std::move(message)) {}
};

namespace detail {
[[noreturn]] void throw_internal(const char* file, int line, const char* cond, const std::string& message);
}  // namespace detail

}  // namespace ptlab

/// PTLAB_CHECK(cond, "format {}", args...): throws ptlab::Error with the formatted message when cond is
/// false. The message is shown to the user as it is, so it must carry its own context (file, key, value).
#define PTLAB_CHECK(cond, ...)                                   \
  do {                                                           \
    if (!(cond)) throw ::ptlab::Error(::fmt::format(__VA_ARGS__)); \
  } while (0)

/// PTLAB_FAIL("format {}", args...): throws ptlab::Error unconditionally.
#define PTLAB_FAIL(...) throw ::ptlab::Error(::fmt::format(__VA_ARGS__))

/// PTLAB_ASSERT(cond, "format {}", args...): an internal invariant; throws InternalError with file:line.
#define PTLAB_ASSERT(cond, ...)                                                            \
  do {                                                                                     \
    if (!(cond)) ::ptlab::detail::throw_internal(__FILE__, __LINE__, #cond, ::fmt::format(__VA_ARGS__)); \
  } while (0)
