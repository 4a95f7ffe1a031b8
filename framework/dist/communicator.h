// Communicator: the collective operations data-parallel training needs, behind one interface.
//
// Backends: `local` (one process; every collective is the identity), `mpi` (CPU tensors over MPI,
// compiled when PTLAB_WITH_MPI) and `nccl` (CUDA tensors over NCCL, the rest over MPI; compiled when
// PTLAB_WITH_NCCL). A build without MPI has the same API — `make_communicator("auto")` then returns the
// local backend — so everything builds and tests without MPI (flashlight's stub pattern).
//
// Contract: every collective is called by every rank of the communicator in the same order. A rank that
// fails calls abort(), which ends the whole job (MPI_Abort) instead of leaving the others waiting.
#pragma once

#include <ATen/ATen.h>

#include <memory>
#include <string>
#include <vector>

namespace ptlab::dist {

class Communicator {
 public:
  virtual ~Communicator() = default;

  virtual std::string backend() const = 0;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  /// Rank among the processes of this communicator on the same node, and how many share the node.
  virtual int local_rank() const = 0;
  virtual int local_size() const = 0;

  /// Sums `tensor` over all ranks, in place; done when it returns. Contiguous; float32/float64/int64 (nccl
  /// also bf16/fp16). CPU tensors on every backend; CUDA tensors over NCCL, or through a CPU copy on mpi.
  virtual void all_reduce_sum(at::Tensor& tensor) = 0;
  /// Copies root's `tensor` into every rank's `tensor` (same shape and dtype everywhere), in place.
  virtual void broadcast(at::Tensor& tensor, int root) = 0;
  /// Root's string on every rank.
  virtual std::string broadcast_string(const std::string& value, int root) = 0;
  /// Every rank's double, in rank order.
  virtual std::vector<double> all_gather(double value) = 0;
  virtual void barrier() = 0;
  /// Sub-communicators: ranks with equal `color` form one, ordered by `key` (trial groups of a sweep).
  virtual std::unique_ptr<Communicator> split(int color, int key) = 0;
  /// Ends the whole job with `code` (every rank), after `message` was logged by the caller.
  [[noreturn]] virtual void abort(int code) = 0;
};

/// "auto" (under mpirun/srun with more than one process: nccl when built with NCCL and a GPU is visible,
/// else mpi; one process: local), "local", "mpi" or "nccl". An unknown or unavailable backend is an Error
/// saying which exist in this build.
std::unique_ptr<Communicator> make_communicator(const std::string& backend = "auto");

/// The number of ranks on this node as the launcher announces it in the environment, before any MPI
/// call (Open MPI, Slurm, MPICH, torchrun variables; 1 when none is set).
int launcher_local_size();

/// Names of the backends compiled into this build.
std::vector<std::string> available_backends();

/// "<backend>: <library and version>" for each backend compiled in (MPI_Get_library_version's first line,
/// ncclGetVersion), for `ptlab --version`. Initialises nothing.
std::vector<std::string> backend_versions();

}  // namespace ptlab::dist
