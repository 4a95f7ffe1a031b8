// The GPU path (ctest label gpu): device binding and the NCCL communicator on real CUDA tensors, in one
// process (an MPI world of one rank). Skips with a message where no GPU is visible.
#include "framework/dist/communicator.h"
#include "framework/dist/device.h"

#include "framework/core/error.h"

#include <gtest/gtest.h>

namespace ptlab::dist {
namespace {

#define REQUIRE_GPU() \
  if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device visible (GPU tests run on a GPU machine)"

TEST(Gpu, BindsOneDevicePerRankAndMakesItCurrent) {
  REQUIRE_GPU();
  auto comm = make_communicator("local");
  c10::Device d = bind_device("cuda", *comm);
  EXPECT_TRUE(d.is_cuda());
  EXPECT_EQ(d.index(), 0);  // local rank 0
  EXPECT_TRUE(bind_device("auto", *comm).is_cuda());
}

TEST(Gpu, NcclAllReduceAndBroadcastOnCudaTensors) {
  REQUIRE_GPU();
  auto available = available_backends();
  if (available.back() != "nccl") GTEST_SKIP() << "built without NCCL";
  auto comm = make_communicator("nccl");
  EXPECT_EQ(comm->backend(), "nccl");
  for (auto dtype : {at::kFloat, at::kBFloat16, at::kDouble, at::kLong}) {
    at::Tensor t = at::arange(1000, at::TensorOptions(dtype).device(at::kCUDA));
    const at::Tensor expected = t.clone() * comm->size();
    comm->all_reduce_sum(t);
    EXPECT_TRUE(t.equal(expected)) << c10::toString(dtype);
    comm->broadcast(t, 0);
    EXPECT_TRUE(t.equal(expected)) << c10::toString(dtype);
  }
  // CPU tensors keep going over MPI on the same communicator.
  at::Tensor cpu = at::ones({3}, at::kDouble);
  comm->all_reduce_sum(cpu);
  EXPECT_TRUE(cpu.equal(at::full({3}, static_cast<double>(comm->size()), at::kDouble)));
  // A dtype NCCL has no sum for is a clear error, not a crash.
  at::Tensor b = at::ones({3}, at::TensorOptions(at::kBool).device(at::kCUDA));
  EXPECT_THROW(comm->all_reduce_sum(b), Error);
}

}  // namespace
}  // namespace ptlab::dist
