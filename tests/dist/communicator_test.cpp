// The local backend and backend selection (no MPI launcher needed).
#include "framework/dist/communicator.h"

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
