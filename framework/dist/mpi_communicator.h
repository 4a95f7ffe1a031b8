// The MPI Communicator (CPU tensors; a GPU tensor goes through a CPU copy). Compiled only with PTLAB_WITH_MPI.
//
// MPI is initialised on first use with MPI_THREAD_FUNNELED and finalised at exit. The error handler is
// MPI_ERRORS_RETURN and every call is checked (PTLAB_MPI_CHECK), so a failure is a ptlab::Error with the
// MPI error string instead of a silent abort. Local rank and size come from MPI_Comm_split_type
// (MPI_COMM_TYPE_SHARED), not from hostnames.
#pragma once

#include "framework/dist/communicator.h"

#include <mpi.h>

namespace ptlab::dist {

class MpiCommunicator final : public Communicator {
 public:
  /// Wraps MPI_COMM_WORLD (initialising MPI if needed).
  MpiCommunicator();
  ~MpiCommunicator() override;

  std::string backend() const override { return "mpi"; }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_rank() const override { return local_rank_; }
  int local_size() const override { return local_size_; }
  void all_reduce_sum(at::Tensor& tensor) override;
  void broadcast(at::Tensor& tensor, int root) override;
  std::string broadcast_string(const std::string& value, int root) override;
  std::vector<double> all_gather(double value) override;
  void barrier() override;
  std::unique_ptr<Communicator> split(int color, int key) override;
  [[noreturn]] void abort(int code) override;

  MPI_Comm comm() const { return comm_; }

 private:
  explicit MpiCommunicator(MPI_Comm owned);
  void init_ranks();

  MPI_Comm comm_ = MPI_COMM_NULL;
  bool owned_ = false;
  int rank_ = 0, size_ = 1, local_rank_ = 0, local_size_ = 1;
};

/// The MPI library and version (first line of MPI_Get_library_version; callable before MPI_Init).
std::string mpi_library_version();

/// Throws ptlab::Error naming the call, file:line and MPI's error string when rc != MPI_SUCCESS.
void check_mpi(int rc, const char* call, const char* file, int line);

}  // namespace ptlab::dist

#define PTLAB_MPI_CHECK(call) ::ptlab::dist::check_mpi((call), #call, __FILE__, __LINE__)
