// The NCCL Communicator: CUDA tensors over NCCL, everything else over MPI. Compiled with PTLAB_WITH_NCCL.
//
// It wraps an MpiCommunicator, which carries the bootstrap (rank 0's ncclUniqueId is broadcast with
// MPI_Bcast, CONVENTIONS.md B.3), the CPU collectives (strings, metric sums, the initial broadcast of CPU
// copies) and split(). The NCCL communicator itself is created on the first collective over a CUDA tensor,
// on that tensor's device (every rank calls collectives in the same order, so the lazy ncclCommInitRank is
// collective too); a build with NCCL therefore runs CPU-only jobs unchanged.
//
// CUDA collectives are enqueued on the device's current stream and waited for before returning (the
// same in-place, done-on-return contract as the MPI backend). While waiting, ncclCommGetAsyncError is
// polled: an asynchronous NCCL error (a peer gone, a network failure) aborts the NCCL communicator and
// throws instead of hanging; so does a collective that has not finished after PTLAB_NCCL_TIMEOUT seconds
// (default 600). Every NCCL and CUDA return code is checked (PTLAB_NCCL_CHECK / PTLAB_CUDA_CHECK).
#pragma once

#include "framework/dist/communicator.h"
#include "framework/dist/mpi_communicator.h"

#include <memory>

namespace ptlab::dist {

struct NcclState;  // the ncclComm_t and its device, kept out of this header (no nccl.h for its users)

class NcclCommunicator final : public Communicator {
 public:
  /// Takes over `mpi` (the bootstrap and CPU transport). Touches no GPU until the first CUDA collective.
  explicit NcclCommunicator(std::unique_ptr<MpiCommunicator> mpi);
  ~NcclCommunicator() override;

  std::string backend() const override { return "nccl"; }
  int rank() const override { return mpi_->rank(); }
  int size() const override { return mpi_->size(); }
  int local_rank() const override { return mpi_->local_rank(); }
  int local_size() const override { return mpi_->local_size(); }
  /// CUDA tensors: ncclAllReduce (float32/64, bf16, fp16, int32/64, uint8); CPU tensors: MPI.
  void all_reduce_sum(at::Tensor& tensor) override;
  void broadcast(at::Tensor& tensor, int root) override;
  std::string broadcast_string(const std::string& value, int root) override;
  std::vector<double> all_gather(double value) override;
  void barrier() override;
  std::unique_ptr<Communicator> split(int color, int key) override;
  [[noreturn]] void abort(int code) override;

 private:
  /// The NCCL communicator for `tensor`'s device, created on first use.
  NcclState& nccl_for(const at::Tensor& tensor);

  std::unique_ptr<MpiCommunicator> mpi_;
  std::unique_ptr<NcclState> state_;
};

/// "NCCL <major>.<minor>.<patch>" of the library loaded (ncclGetVersion); no GPU needed.
std::string nccl_library_version();

}  // namespace ptlab::dist
