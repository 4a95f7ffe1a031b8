// ptlab — the command-line entry point. Prints one line for any error and exits 2 (user error) or 1
// (internal error); never a stack trace.
#include "framework/core/error.h"
#include "framework/core/log.h"
#include "framework/core/threads.h"
#include "launchers/command.h"

#include <c10/util/Exception.h>
#include <malloc.h>
#include <unistd.h>

#include <cstdio>
#include <algorithm>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

namespace ptlab::launchers {
int print_version();  // version_command.cpp
}  // namespace ptlab::launchers

namespace {

void print_usage() {
  const auto& table = ptlab::launchers::commands();
  std::printf("ptlab %s — soft-prompt methods on frozen pretrained transformers\n\n", PTLAB_VERSION);
  std::printf("usage: ptlab <command> [options] [overrides...]\n       ptlab <command> --help\n\ncommands:\n");
  for (const auto& name : table.names()) std::printf("  %-10s %s\n", name.c_str(), table.description(name).c_str());
  std::printf(
      "\noverrides use Hydra's grammar: group=option, a.b=value, +a.b=value, ++a.b=value, ~a.b\n"
      "configs: ptlab's built-in configs, overlaid by ./configs when the working directory has one (a task/x.yaml\n"
      "there joins the task group); $PTLAB_CONFIG_DIR or --config-dir replace that search path ('a:b' lists several)\n"
      "ptlab --version: version, commit, LibTorch, CUDA / NCCL / MPI and thread settings\n");
}

// With more ranks on this node than cores, LibTorch's OpenMP threads must sleep while they wait instead of
// spinning, or the ranks starve each other (docs/sweeps.md has the table). libgomp reads OMP_WAIT_POLICY
// once, when it loads — before main — so ptlab sets it and executes itself again. An explicit
// OMP_WAIT_POLICY is left alone.
void passive_wait_when_oversubscribed(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr) return;
  const int ranks = ptlab::launcher_ranks_on_node();
  const long cores = ::sysconf(_SC_NPROCESSORS_ONLN);  // the node's, not this rank's binding
  if (ranks <= std::max(1L, cores)) return;
  ::setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
  ::execv("/proc/self/exe", argv);  // returns only on failure: go on with the policy as it is
  ::unsetenv("OMP_WAIT_POLICY");
}

}  // namespace

int main(int argc, char** argv) {
  passive_wait_when_oversubscribed(argv);
  // Keep freed tensor memory in the heap instead of returning it to the kernel after every op: with glibc's
  // default thresholds the first dozens of forward passes ran ~10x slower (mmap/munmap and page faults
  // for every activation) until the dynamic threshold settled.
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    if (args.empty() || args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
      print_usage();
      return args.empty() ? 2 : 0;
    }
    if (args[0] == "--version" || args[0] == "version") return ptlab::launchers::print_version();
    const auto& command = ptlab::launchers::commands().get(args[0]);
    return command.run(std::vector<std::string>(args.begin() + 1, args.end()));
  } catch (const ptlab::Error& e) {
    ptlab::log_error("{}", e.what());
    return 2;
  } catch (const ptlab::InternalError& e) {
    ptlab::log_error("{}", e.what());
    return 1;
  } catch (const c10::Error& e) {
    // LibTorch messages carry a backtrace after the first line; show the first line only.
    std::string m = e.what_without_backtrace();
    ptlab::log_error("internal error (LibTorch): {}", m.substr(0, m.find('\n')));
    return 1;
  } catch (const std::exception& e) {
    ptlab::log_error("internal error: {}", e.what());
    return 1;
  }
}
