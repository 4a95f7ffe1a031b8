// Stop signals: SIGUSR1 and SIGTERM raised in this process set the flag (and do not end the process).
#include "framework/train/stop_signal.h"

#include "tests/train/train_test_support.h"

#include <csignal>

namespace ptlab::train {
namespace {

TEST(StopSignal, RaisedSignalsSetTheFlagAndClearResetsIt) {
  install_stop_handlers();
  install_stop_handlers();  // idempotent
  clear_stop_request();
  EXPECT_FALSE(stop_requested());
  EXPECT_EQ(stop_signal(), 0);

  ASSERT_EQ(std::raise(SIGUSR1), 0);
  EXPECT_TRUE(stop_requested());
  EXPECT_EQ(stop_signal(), SIGUSR1);

  clear_stop_request();
  EXPECT_FALSE(stop_requested());
  ASSERT_EQ(std::raise(SIGTERM), 0);
  EXPECT_TRUE(stop_requested());
  EXPECT_EQ(stop_signal(), SIGTERM);
  clear_stop_request();
}

TEST(StopSignal, RequestForTestingSetsTheFlagWithoutASignal) {
  clear_stop_request();
  request_stop_for_testing(SIGUSR1);
  EXPECT_TRUE(stop_requested());
  EXPECT_EQ(stop_signal(), SIGUSR1);
  clear_stop_request();
  EXPECT_CONTAINS(testing::error_of([] { request_stop_for_testing(0); }), "must be > 0");
  EXPECT_FALSE(stop_requested());
}

}  // namespace
}  // namespace ptlab::train
