// Runs under `mpirun -np 2` (ctest label mpi): the collectives give the same answer on every rank.
#include "framework/dist/mpi_communicator.h"

#include <gtest/gtest.h>

namespace ptlab::dist {

TEST(MpiCommunicator, RanksAndLocalRanks) {
  MpiCommunicator comm;
  ASSERT_EQ(comm.size(), 2) << "this test is meant for mpirun -np 2";
  EXPECT_EQ(comm.local_size(), 2);  // both ranks on this node
  EXPECT_EQ(comm.local_rank(), comm.rank());
}

TEST(MpiCommunicator, AllReduceSumsOverRanks) {
  MpiCommunicator comm;
  at::Tensor t = at::full({5}, comm.rank() + 1, at::kFloat);  // rank 0: 1s, rank 1: 2s
  comm.all_reduce_sum(t);
  EXPECT_TRUE(t.equal(at::full({5}, 3, at::kFloat)));
  at::Tensor l = at::full({2}, static_cast<int64_t>(10 * comm.rank()), at::kLong);
  comm.all_reduce_sum(l);
  EXPECT_EQ(l[0].item<int64_t>(), 10);
}

TEST(MpiCommunicator, BroadcastAndGather) {
  MpiCommunicator comm;
  at::Tensor t = comm.rank() == 0 ? at::arange(3, at::kDouble) : at::zeros({3}, at::kDouble);
  comm.broadcast(t, 0);
  EXPECT_TRUE(t.equal(at::arange(3, at::kDouble)));
  EXPECT_EQ(comm.broadcast_string(comm.rank() == 1 ? "from one" : "", 1), "from one");
  EXPECT_EQ(comm.all_gather(comm.rank() * 1.5), (std::vector<double>{0.0, 1.5}));
}

TEST(MpiCommunicator, SplitMakesGroups) {
  MpiCommunicator comm;
  auto sub = comm.split(comm.rank(), 0);  // one group per rank
  EXPECT_EQ(sub->size(), 1);
  at::Tensor t = at::ones({1});
  sub->all_reduce_sum(t);
  EXPECT_EQ(t.item<float>(), 1.0f);
  auto all = comm.split(0, comm.rank());
  EXPECT_EQ(all->size(), 2);
}

}  // namespace ptlab::dist
