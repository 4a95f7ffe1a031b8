#include "framework/core/threads.h"

#include "framework/core/error.h"

#include <ATen/Parallel.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

namespace ptlab {

int available_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<int>(n) : 1;
}

int launcher_ranks_on_node() {
  for (const char* var : {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "SLURM_STEP_TASKS_PER_NODE"}) {
    if (const char* v = std::getenv(var)) {
      const int n = std::atoi(v);  // SLURM_STEP_TASKS_PER_NODE reads "2(x3)": the leading count is this node's
      if (n > 0) return n;
    }
  }
  return 0;
}

int choose_thread_count(int requested, int ranks_on_node, int cores) {
  PTLAB_CHECK(requested >= 0, "runtime.threads must be >= 0 (0 = all cores / ranks on the node), got {}", requested);
  if (requested > 0) return requested;
  return std::max(1, cores / std::max(1, ranks_on_node));
}

int configure_threads(int requested, int ranks_on_node) {
  int n = choose_thread_count(requested, ranks_on_node, available_cores());
  at::set_num_threads(n);
  return n;
}

}  // namespace ptlab
