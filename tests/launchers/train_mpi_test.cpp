// Data parallel under mpirun (ctest label mpi): two ranks with batch b each reach the same parameters as one
// process with batch 2b, on stories260K + SST-2 from ../shared.
#include "tests/launchers/train_support.h"

namespace ptlab::launchers {
namespace {

using namespace ptlab::launchers::testing;
using models::testing::TempDir;

// Two ranks with batch b each reach the same parameters as one process with batch 2b.
TEST(TrainCommandMpi, TwoRanksEqualOneProcessWithTheDoubleBatch) {
  REQUIRE_SHARED();
  TempDir dir;
  const std::string common = " trainer.max_steps=3 trainer.eval_every=0 trainer.restore_best=false task.data.limit=32";
  const std::string one = dir.sub("one");
  Result single = ptlab("train " + base_args(one) + common + " trainer.batch_size=8", dir);
  ASSERT_EQ(single.code, 0) << single.err;
  const std::string two = dir.sub("two");
  Result r;
  run_shell(std::string(PTLAB_MPIEXEC) + " --allow-run-as-root --oversubscribe -x OMP_WAIT_POLICY=PASSIVE -np 2 " +
                PTLAB_BINARY + " train " + base_args(two) + common + " trainer.batch_size=4",
            dir, r);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(read_json(two + "/summary.json")["world_size"], 2);
  auto a = prompt_of(one), b = prompt_of(two);
  EXPECT_LT((a - b).abs().max().item<double>(), 1e-6);
  // The prompt received gradients (the comparison is not between two untouched initial prompts).
  std::ifstream jsonl(two + "/metrics.jsonl");
  std::string line;
  ASSERT_TRUE(std::getline(jsonl, line));
  EXPECT_GT(nlohmann::json::parse(line).value("train/grad_norm", 0.0), 0.0) << line;
}

}  // namespace
}  // namespace ptlab::launchers
