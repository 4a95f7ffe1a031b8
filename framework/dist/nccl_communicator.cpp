#include "framework/dist/nccl_communicator.h"

#include "framework/core/error.h"

#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>
#include <nccl.h>

#include <chrono>
#include <cstdlib>
#include <thread>

namespace ptlab::dist {
namespace {

void check_nccl(ncclResult_t rc, ncclComm_t comm, const char* call, const char* file, int line) {
  if (rc == ncclSuccess || rc == ncclInProgress) return;
  const char* last = comm ? ncclGetLastError(comm) : ncclGetLastError(nullptr);
  throw Error(fmt::format("NCCL call failed: {} at {}:{}: {}{}{} (NCCL_DEBUG=WARN shows NCCL's own log)", call, file,
                          line, ncclGetErrorString(rc), last && *last ? ": " : "", last ? last : ""));
}

void check_cuda(cudaError_t rc, const char* call, const char* file, int line) {
  if (rc == cudaSuccess) return;
  throw Error(fmt::format("CUDA call failed: {} at {}:{}: {} ({})", call, file, line, cudaGetErrorString(rc),
                          cudaGetErrorName(rc)));
}

#define PTLAB_NCCL_CHECK(comm, call) check_nccl((call), (comm), #call, __FILE__, __LINE__)
#define PTLAB_CUDA_CHECK(call) check_cuda((call), #call, __FILE__, __LINE__)

ncclDataType_t nccl_type(const at::Tensor& t) {
  switch (t.scalar_type()) {
    case at::kFloat: return ncclFloat32;
    case at::kDouble: return ncclFloat64;
    case at::kBFloat16: return ncclBfloat16;
    case at::kHalf: return ncclFloat16;
    case at::kLong: return ncclInt64;
    case at::kInt: return ncclInt32;
    case at::kByte: return ncclUint8;
    default: PTLAB_FAIL("NCCL communicator: unsupported tensor dtype {}", c10::toString(t.scalar_type()));
  }
}

/// Seconds a collective may take before the job is declared hung (PTLAB_NCCL_TIMEOUT, default 600).
double collective_timeout() {
  const char* v = std::getenv("PTLAB_NCCL_TIMEOUT");
  if (!v || !*v) return 600.0;
  char* end = nullptr;
  const double s = std::strtod(v, &end);
  PTLAB_CHECK(end && *end == '\0' && s > 0, "PTLAB_NCCL_TIMEOUT='{}' is not a positive number of seconds", v);
  return s;
}

}  // namespace

std::string nccl_library_version() {
  int v = 0;
  if (ncclGetVersion(&v) != ncclSuccess) return "NCCL (version unknown)";
  // NCCL >= 2.9 encodes major * 10000 + minor * 100 + patch.
  return fmt::format("NCCL {}.{}.{}", v / 10000, (v % 10000) / 100, v % 100);
}

struct NcclState {
  ncclComm_t comm = nullptr;
  c10::DeviceIndex device = -1;
  double timeout = 600.0;
};

NcclCommunicator::NcclCommunicator(std::unique_ptr<MpiCommunicator> mpi) : mpi_(std::move(mpi)) {
  PTLAB_ASSERT(mpi_ != nullptr, "NcclCommunicator needs an MPI communicator");
}

NcclCommunicator::~NcclCommunicator() {
  if (state_ && state_->comm) {
    c10::cuda::CUDAGuard guard(state_->device);
    ncclCommDestroy(state_->comm);  // best effort at teardown; errors here have nowhere to go
  }
}

NcclState& NcclCommunicator::nccl_for(const at::Tensor& tensor) {
  PTLAB_ASSERT(tensor.defined() && tensor.is_cuda() && tensor.is_contiguous(),
               "NCCL collectives need a defined, contiguous CUDA tensor");
  if (state_) {
    PTLAB_CHECK(tensor.device().index() == state_->device,
                "NCCL communicator was created on cuda:{} but a collective got a tensor on {}; one rank drives one "
                "device",
                state_->device, tensor.device().str());
    return *state_;
  }
  auto state = std::make_unique<NcclState>();
  state->device = tensor.device().index();
  state->timeout = collective_timeout();
  // Rank 0's unique id, broadcast over MPI (128 opaque bytes).
  ncclUniqueId id;
  if (rank() == 0) PTLAB_NCCL_CHECK(nullptr, ncclGetUniqueId(&id));
  at::Tensor bytes = at::from_blob(&id, {static_cast<int64_t>(sizeof(id))}, at::kByte);
  mpi_->broadcast(bytes, 0);
  c10::cuda::CUDAGuard guard(state->device);
  PTLAB_NCCL_CHECK(nullptr, ncclCommInitRank(&state->comm, size(), id, rank()));
  state_ = std::move(state);
  return *state_;
}

namespace {

// Waits for the collective just enqueued on `stream`, polling NCCL's asynchronous error state.
void wait_for(cudaStream_t stream, ncclComm_t comm, double timeout, const char* what) {
  const auto start = std::chrono::steady_clock::now();
  while (true) {
    cudaError_t rc = cudaStreamQuery(stream);
    if (rc == cudaSuccess) return;
    if (rc != cudaErrorNotReady) check_cuda(rc, "cudaStreamQuery", __FILE__, __LINE__);
    ncclResult_t async = ncclSuccess;
    PTLAB_NCCL_CHECK(comm, ncclCommGetAsyncError(comm, &async));
    if (async != ncclSuccess && async != ncclInProgress) {
      ncclCommAbort(comm);
      check_nccl(async, comm, what, __FILE__, __LINE__);
    }
    const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (waited > timeout) {
      ncclCommAbort(comm);
      PTLAB_FAIL("NCCL {} has not finished after {:.0f} s (a rank stopped calling collectives?); set "
                 "PTLAB_NCCL_TIMEOUT to wait longer",
                 what, waited);
    }
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
}

// Enqueues one in-place collective on the device's current stream and waits for it.
template <class Enqueue>
void run_collective(const NcclState& state, const char* what, Enqueue enqueue) {
  c10::cuda::CUDAGuard guard(state.device);
  cudaStream_t stream = c10::cuda::getCurrentCUDAStream(state.device).stream();
  check_nccl(enqueue(state.comm, stream), state.comm, what, __FILE__, __LINE__);
  wait_for(stream, state.comm, state.timeout, what);
}

}  // namespace

void NcclCommunicator::all_reduce_sum(at::Tensor& tensor) {
  if (!tensor.is_cuda()) return mpi_->all_reduce_sum(tensor);
  const ncclDataType_t type = nccl_type(tensor);
  run_collective(nccl_for(tensor), "ncclAllReduce", [&](ncclComm_t comm, cudaStream_t stream) {
    return ncclAllReduce(tensor.data_ptr(), tensor.data_ptr(), static_cast<size_t>(tensor.numel()), type, ncclSum,
                         comm, stream);
  });
}

void NcclCommunicator::broadcast(at::Tensor& tensor, int root) {
  if (!tensor.is_cuda()) return mpi_->broadcast(tensor, root);
  const ncclDataType_t type = nccl_type(tensor);
  run_collective(nccl_for(tensor), "ncclBroadcast", [&](ncclComm_t comm, cudaStream_t stream) {
    return ncclBroadcast(tensor.data_ptr(), tensor.data_ptr(), static_cast<size_t>(tensor.numel()), type, root, comm,
                         stream);
  });
}

std::string NcclCommunicator::broadcast_string(const std::string& value, int root) {
  return mpi_->broadcast_string(value, root);
}

std::vector<double> NcclCommunicator::all_gather(double value) { return mpi_->all_gather(value); }

void NcclCommunicator::barrier() { mpi_->barrier(); }

std::unique_ptr<Communicator> NcclCommunicator::split(int color, int key) {
  std::unique_ptr<Communicator> sub = mpi_->split(color, key);
  auto* sub_mpi = dynamic_cast<MpiCommunicator*>(sub.get());
  PTLAB_ASSERT(sub_mpi != nullptr, "MPI split returned a {} communicator", sub->backend());
  sub.release();
  return std::make_unique<NcclCommunicator>(std::unique_ptr<MpiCommunicator>(sub_mpi));
}

void NcclCommunicator::abort(int code) {
  if (state_ && state_->comm) ncclCommAbort(state_->comm);
  mpi_->abort(code);
}

}  // namespace ptlab::dist
