#include "framework/train/stop_signal.h"

#include "framework/core/error.h"

#include <atomic>
#include <csignal>
#include <cstring>
#include <mutex>

namespace ptlab::train {
namespace {

std::atomic<int> g_stop_signal{0};
static_assert(std::atomic<int>::is_always_lock_free, "the stop flag must be lock-free to be set in a signal handler");

extern "C" void on_stop_signal(int sig) { g_stop_signal.store(sig, std::memory_order_relaxed); }

void install(int sig) {
  struct sigaction action;
  std::memset(&action, 0, sizeof(action));
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;  // interrupted reads/writes resume; the flag is polled between steps
  PTLAB_ASSERT(::sigaction(sig, &action, nullptr) == 0, "sigaction({}) failed: {}", sig, std::strerror(errno));
}

}  // namespace

void install_stop_handlers() {
  static std::once_flag once;
  std::call_once(once, [] {
    install(SIGTERM);
    install(SIGUSR1);
  });
}

bool stop_requested() { return g_stop_signal.load(std::memory_order_relaxed) != 0; }

int stop_signal() { return g_stop_signal.load(std::memory_order_relaxed); }

void clear_stop_request() { g_stop_signal.store(0, std::memory_order_relaxed); }

void request_stop_for_testing(int sig) {
  PTLAB_CHECK(sig > 0, "request_stop_for_testing: signal number {} must be > 0", sig);
  g_stop_signal.store(sig, std::memory_order_relaxed);
}

}  // namespace ptlab::train
