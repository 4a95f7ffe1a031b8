// One-line-per-event logging to stderr, rank-prefixed under MPI.
//
// The rank prefix is set once by the distributed runtime (set_log_rank); before that, and in a
// single-process run, lines carry no prefix. Levels: debug < info < warn < error; the threshold comes
// from PTLAB_LOG_LEVEL (debug|info|warn|error) or set_log_level().
#pragma once

#include <fmt/format.h>

#include <string>

namespace ptlab {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

void set_log_level(LogLevel level);
LogLevel log_level();
/// Rank and world size shown as "[rank r/n]" when world > 1.
void set_log_rank(int rank, int world);
void log_line(LogLevel level, const std::string& message);

template <class... A>
void log_debug(fmt::format_string<A...> f, A&&... a) {
  if (log_level() <= LogLevel::kDebug) log_line(LogLevel::kDebug, fmt::format(f, std::forward<A>(a)...));
}
template <class... A>
void log_info(fmt::format_string<A...> f, A&&... a) {
  if (log_level() <= LogLevel::kInfo) log_line(LogLevel::kInfo, fmt::format(f, std::forward<A>(a)...));
}
template <class... A>
void log_warn(fmt::format_string<A...> f, A&&... a) {
  if (log_level() <= LogLevel::kWarn) log_line(LogLevel::kWarn, fmt::format(f, std::forward<A>(a)...));
}
template <class... A>
void log_error(fmt::format_string<A...> f, A&&... a) {
  log_line(LogLevel::kError, fmt::format(f, std::forward<A>(a)...));
}

}  // namespace ptlab
