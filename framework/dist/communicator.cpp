#include "framework/dist/communicator.h"

#include "framework/core/error.h"
#include "framework/core/suggest.h"
#include "framework/dist/local_communicator.h"
#include "framework/dist/device.h"
#if PTLAB_WITH_MPI
#include "framework/dist/mpi_communicator.h"
#endif
#if PTLAB_WITH_NCCL
#include "framework/dist/nccl_communicator.h"
#endif

#include <cstdlib>

namespace ptlab::dist {
namespace {

int env_int(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) return -1;
  char* end = nullptr;
  long n = std::strtol(v, &end, 10);
  return (end && *end == '\0' && n > 0) ? static_cast<int>(n) : -1;
}

/// World size announced by a launcher (mpirun, srun, torchrun), or 1.
int launcher_world_size() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "PMI_SIZE", "SLURM_NTASKS", "WORLD_SIZE"}) {
    int n = env_int(name);
    if (n > 0) return n;
  }
  return 1;
}

}  // namespace

int launcher_local_size() {
  for (const char* name : {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "SLURM_NTASKS_PER_NODE", "LOCAL_WORLD_SIZE"}) {
    int n = env_int(name);
    if (n > 0) return n;
  }
  return 1;
}

std::vector<std::string> available_backends() {
  std::vector<std::string> names{"local"};
#if PTLAB_WITH_MPI
  names.push_back("mpi");
#endif
#if PTLAB_WITH_NCCL
  names.push_back("nccl");
#endif
  return names;
}

std::vector<std::string> backend_versions() {
  std::vector<std::string> lines{"local: built in"};
#if PTLAB_WITH_MPI
  lines.push_back("mpi: " + mpi_library_version());
#endif
#if PTLAB_WITH_NCCL
  lines.push_back("nccl: " + nccl_library_version());
#endif
  return lines;
}

std::unique_ptr<Communicator> make_communicator(const std::string& backend) {
  auto known = available_backends();
  known.insert(known.begin(), "auto");
  if (backend == "local") return std::make_unique<LocalCommunicator>();
#if PTLAB_WITH_NCCL
  if (backend == "nccl") {
    PTLAB_CHECK(cuda_device_count() > 0,
                "runtime.backend=nccl needs a CUDA device, and none is visible here; use runtime.backend=auto or mpi");
    return std::make_unique<NcclCommunicator>(std::make_unique<MpiCommunicator>());
  }
  if (backend == "auto" && launcher_world_size() > 1 && cuda_device_count() > 0)
    return std::make_unique<NcclCommunicator>(std::make_unique<MpiCommunicator>());
#else
  PTLAB_CHECK(backend != "nccl", "runtime.backend=nccl, but this ptlab was built without NCCL (PTLAB_WITH_NCCL=OFF)");
#endif
#if PTLAB_WITH_MPI
  if (backend == "mpi") return std::make_unique<MpiCommunicator>();
  if (backend == "auto")
    return launcher_world_size() > 1 ? std::unique_ptr<Communicator>(std::make_unique<MpiCommunicator>())
                                     : std::make_unique<LocalCommunicator>();
#else
  if (backend == "auto") {
    PTLAB_CHECK(launcher_world_size() == 1,
                "this ptlab was built without MPI (PTLAB_WITH_MPI=OFF) but was launched as {} processes; "
                "rebuild with -DPTLAB_WITH_MPI=ON or run one process",
                launcher_world_size());
    return std::make_unique<LocalCommunicator>();
  }
  PTLAB_CHECK(backend != "mpi", "runtime.backend=mpi, but this ptlab was built without MPI (PTLAB_WITH_MPI=OFF)");
#endif
  PTLAB_FAIL("unknown communicator backend '{}'{}; this build has: {}", backend, did_you_mean(backend, known),
             join_names(known));
}

}  // namespace ptlab::dist
