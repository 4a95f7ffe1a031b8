#include "framework/dist/mpi_communicator.h"

#include "framework/core/error.h"

#include <cstdlib>
#include <mutex>

namespace ptlab::dist {
namespace {

void finalize_at_exit() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

void ensure_initialized() {
  static std::once_flag once;
  std::call_once(once, [] {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) {
      int provided = 0;
      PTLAB_MPI_CHECK(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided));
      std::atexit(finalize_at_exit);
    }
    PTLAB_MPI_CHECK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
  });
}

MPI_Datatype mpi_type(const at::Tensor& t) {
  switch (t.scalar_type()) {
    case at::kFloat: return MPI_FLOAT;
    case at::kDouble: return MPI_DOUBLE;
    case at::kLong: return MPI_INT64_T;
    case at::kInt: return MPI_INT32_T;
    case at::kByte: return MPI_UINT8_T;
    default: PTLAB_FAIL("MPI communicator: unsupported tensor dtype {}", c10::toString(t.scalar_type()));
  }
}

void check_cpu_contiguous(const at::Tensor& t, const char* op) {
  PTLAB_ASSERT(t.defined() && t.device().is_cpu() && t.is_contiguous(),
               "MPI {} needs a defined, contiguous CPU tensor", op);
}

/// A GPU tensor (a CUDA run without NCCL) goes through a CPU copy: `op` runs on the copy, which is then
/// copied back. Returns false, doing nothing, for a CPU tensor.
template <class Op>
bool staged_through_cpu(at::Tensor& tensor, Op op) {
  if (tensor.device().is_cpu()) return false;
  at::Tensor staged = tensor.to(at::kCPU).contiguous();
  op(staged);
  tensor.copy_(staged);
  return true;
}

}  // namespace

std::string mpi_library_version() {
  char text[MPI_MAX_LIBRARY_VERSION_STRING] = {0};
  int len = 0;
  if (MPI_Get_library_version(text, &len) != MPI_SUCCESS) return "unknown version";
  std::string v(text, static_cast<std::size_t>(len));
  v = v.substr(0, v.find_first_of("\r\n"));
  return v.substr(0, v.find(','));
}

void check_mpi(int rc, const char* call, const char* file, int line) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  throw Error(fmt::format("MPI call failed: {} at {}:{}: {}", call, file, line, std::string(text, len)));
}

MpiCommunicator::MpiCommunicator() {
  ensure_initialized();
  comm_ = MPI_COMM_WORLD;
  init_ranks();
}

MpiCommunicator::MpiCommunicator(MPI_Comm owned) : comm_(owned), owned_(true) {
  PTLAB_MPI_CHECK(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN));
  init_ranks();
}

MpiCommunicator::~MpiCommunicator() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (owned_ && !finalized && comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
}

void MpiCommunicator::init_ranks() {
  PTLAB_MPI_CHECK(MPI_Comm_rank(comm_, &rank_));
  PTLAB_MPI_CHECK(MPI_Comm_size(comm_, &size_));
  MPI_Comm node = MPI_COMM_NULL;
  PTLAB_MPI_CHECK(MPI_Comm_split_type(comm_, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node));
  PTLAB_MPI_CHECK(MPI_Comm_rank(node, &local_rank_));
  PTLAB_MPI_CHECK(MPI_Comm_size(node, &local_size_));
  PTLAB_MPI_CHECK(MPI_Comm_free(&node));
}

void MpiCommunicator::all_reduce_sum(at::Tensor& tensor) {
  if (staged_through_cpu(tensor, [&](at::Tensor& cpu) { all_reduce_sum(cpu); })) return;
  check_cpu_contiguous(tensor, "all_reduce");
  PTLAB_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, tensor.data_ptr(), static_cast<int>(tensor.numel()), mpi_type(tensor),
                                MPI_SUM, comm_));
}

void MpiCommunicator::broadcast(at::Tensor& tensor, int root) {
  if (staged_through_cpu(tensor, [&](at::Tensor& cpu) { broadcast(cpu, root); })) return;
  check_cpu_contiguous(tensor, "broadcast");
  PTLAB_MPI_CHECK(MPI_Bcast(tensor.data_ptr(), static_cast<int>(tensor.numel()), mpi_type(tensor), root, comm_));
}

std::string MpiCommunicator::broadcast_string(const std::string& value, int root) {
  long long n = static_cast<long long>(value.size());
  PTLAB_MPI_CHECK(MPI_Bcast(&n, 1, MPI_LONG_LONG, root, comm_));
  std::string out = rank_ == root ? value : std::string(static_cast<std::size_t>(n), '\0');
  if (n > 0) PTLAB_MPI_CHECK(MPI_Bcast(out.data(), static_cast<int>(n), MPI_CHAR, root, comm_));
  return out;
}

std::vector<double> MpiCommunicator::all_gather(double value) {
  std::vector<double> out(static_cast<std::size_t>(size_));
  PTLAB_MPI_CHECK(MPI_Allgather(&value, 1, MPI_DOUBLE, out.data(), 1, MPI_DOUBLE, comm_));
  return out;
}

void MpiCommunicator::barrier() { PTLAB_MPI_CHECK(MPI_Barrier(comm_)); }

std::unique_ptr<Communicator> MpiCommunicator::split(int color, int key) {
  MPI_Comm sub = MPI_COMM_NULL;
  PTLAB_MPI_CHECK(MPI_Comm_split(comm_, color, key, &sub));
  return std::unique_ptr<Communicator>(new MpiCommunicator(sub));
}

void MpiCommunicator::abort(int code) {
  MPI_Abort(MPI_COMM_WORLD, code);
  std::exit(code);  // MPI_Abort does not return; this keeps [[noreturn]] honest if it did
}

}  // namespace ptlab::dist
