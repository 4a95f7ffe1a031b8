// The local backend and backend selection (no MPI launcher needed).
#include "framework/dist/communicator.h"
#include "framework/dist/device.h"

#include "framework/core/error.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>

namespace ptlab::dist {

TEST(Communicator, LocalIsIdentity) {
  auto comm = make_communicator("local");
  EXPECT_EQ(comm->backend(), "local");
  EXPECT_EQ(comm->rank(), 0);
  EXPECT_EQ(comm->size(), 1);
  at::Tensor t = at::arange(4, at::kFloat);
  comm->all_reduce_sum(t);
  EXPECT_TRUE(t.equal(at::arange(4, at::kFloat)));
  comm->broadcast(t, 0);
  EXPECT_EQ(comm->broadcast_string("abc", 0), "abc");
  EXPECT_EQ(comm->all_gather(2.5), std::vector<double>{2.5});
  EXPECT_EQ(comm->split(3, 0)->size(), 1);
}

TEST(Communicator, AutoWithoutLauncherIsLocal) {
  if (std::getenv("OMPI_COMM_WORLD_SIZE")) GTEST_SKIP() << "running under mpirun";
  EXPECT_EQ(make_communicator("auto")->backend(), "local");
}

TEST(Communicator, UnknownBackendListsAvailable) {
  try {
    make_communicator("mpii");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("unknown communicator backend 'mpii'"), std::string::npos) << m;
    EXPECT_NE(m.find("local"), std::string::npos) << m;
  }
}

TEST(Communicator, BackendsOfThisBuild) {
  auto b = available_backends();
  EXPECT_NE(std::find(b.begin(), b.end(), "local"), b.end());
#if PTLAB_WITH_MPI
  EXPECT_NE(std::find(b.begin(), b.end(), "mpi"), b.end());
#else
  EXPECT_EQ(std::find(b.begin(), b.end(), "mpi"), b.end());
  EXPECT_THROW(make_communicator("mpi"), Error);
#endif
#if PTLAB_WITH_NCCL
  EXPECT_NE(std::find(b.begin(), b.end(), "nccl"), b.end());
#else
  EXPECT_EQ(std::find(b.begin(), b.end(), "nccl"), b.end());
#endif
  // Every compiled backend names its library's version, without initialising it.
  auto versions = backend_versions();
  EXPECT_EQ(versions.size(), b.size());
  for (std::size_t i = 0; i < b.size(); ++i) EXPECT_EQ(versions[i].rfind(b[i] + ": ", 0), 0u) << versions[i];
#if PTLAB_WITH_NCCL
  EXPECT_NE(versions.back().find("NCCL 2."), std::string::npos) << versions.back();
#endif
}

TEST(Communicator, NcclWithoutAGpuIsAClearError) {
  if (available_backends().back() != "nccl") GTEST_SKIP() << "built without NCCL";
  if (cuda_device_count() > 0) GTEST_SKIP() << "a GPU is visible";
  try {
    make_communicator("nccl");
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("runtime.backend=nccl needs a CUDA device"), std::string::npos) << e.what();
  }
}

TEST(Communicator, LauncherLocalSizeFromEnvironment) {
  if (std::getenv("OMPI_COMM_WORLD_LOCAL_SIZE")) GTEST_SKIP() << "running under mpirun";
  setenv("LOCAL_WORLD_SIZE", "3", 1);
  EXPECT_EQ(launcher_local_size(), 3);
  setenv("LOCAL_WORLD_SIZE", "junk", 1);
  EXPECT_EQ(launcher_local_size(), 1);
  unsetenv("LOCAL_WORLD_SIZE");
}

}  // namespace ptlab::dist
