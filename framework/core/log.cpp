#include "framework/core/log.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace ptlab {
namespace {

LogLevel level_from_env() {
  const char* v = std::getenv("PTLAB_LOG_LEVEL");
  if (!v) return LogLevel::kInfo;
  if (!std::strcmp(v, "debug")) return LogLevel::kDebug;
  if (!std::strcmp(v, "warn")) return LogLevel::kWarn;
  if (!std::strcmp(v, "error")) return LogLevel::kError;
  return LogLevel::kInfo;
}

std::atomic<int> g_level{static_cast<int>(level_from_env())};
std::atomic<int> g_rank{0};
std::atomic<int> g_world{1};
std::mutex g_mutex;

}  // namespace

void set_log_level(LogLevel level) { g_level = static_cast<int>(level); }
LogLevel log_level() { return static_cast<LogLevel>(g_level.load()); }
void set_log_rank(int rank, int world) {
  g_rank = rank;
  g_world = world;
}

void log_line(LogLevel level, const std::string& message) {
  static const char* kTags[] = {"debug", "info", "warn", "error"};
  std::string prefix = g_world > 1 ? fmt::format("[rank {}/{}] ", g_rank.load(), g_world.load()) : "";
  std::string tag = level == LogLevel::kInfo ? "" : fmt::format("{}: ", kTags[static_cast<int>(level)]);
  std::lock_guard<std::mutex> lock(g_mutex);
  std::fprintf(stderr, "%s%s%s\n", prefix.c_str(), tag.c_str(), message.c_str());
  std::fflush(stderr);
}

}  // namespace ptlab
