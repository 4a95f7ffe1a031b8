// `ptlab --version`: what this binary is and what it can use — ptlab's version and commit, the LibTorch it
// runs on, CUDA / NCCL / MPI availability, the thread settings, and where its built-in configs are.
#include "framework/config/compose.h"
#include "framework/core/build_info.h"
#include "framework/core/threads.h"
#include "framework/dist/communicator.h"
#include "framework/dist/device.h"

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <torch/version.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace ptlab::launchers {

namespace {
std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : std::string(fallback);
}
}  // namespace

int print_version() {
  std::printf("ptlab %s (git %s)\n", build_version().c_str(), build_git_sha().c_str());
  std::printf("LibTorch %s\n", TORCH_VERSION);
  if (dist::built_with_cuda()) {
    const int cudart = at::detail::getCUDAHooks().versionCUDART();
    std::printf("CUDA: built in (CUDA runtime %d.%d); %d GPU(s) visible\n", cudart / 1000, (cudart % 1000) / 10,
                dist::cuda_device_count());
  } else {
    std::printf("CUDA: not built in (LibTorch without CUDA)\n");
  }
  std::string backends;
  for (const auto& line : dist::backend_versions()) backends += (backends.empty() ? "" : "; ") + line;
  std::printf("communicators: %s\n", backends.c_str());
  std::printf("threads: %d intra-op of %d cores available (runtime.threads=0 divides the cores among the ranks of "
              "a node); OMP_NUM_THREADS=%s OMP_WAIT_POLICY=%s\n",
              at::get_num_threads(), available_cores(), env_or("OMP_NUM_THREADS", "unset").c_str(),
              env_or("OMP_WAIT_POLICY", "unset").c_str());
  const std::string builtin = config::builtin_config_dir();
  std::printf("configs: %s (built in); search path now: %s\n", builtin.empty() ? "none found" : builtin.c_str(),
              config::default_config_dir().c_str());
  return 0;
}

}  // namespace ptlab::launchers
