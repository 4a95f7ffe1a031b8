#include "framework/core/threads.h"

#include "framework/core/error.h"

#include <ATen/Parallel.h>
#include <gtest/gtest.h>

namespace ptlab {

TEST(Threads, AutomaticDividesCoresAmongRanks) {
  EXPECT_EQ(choose_thread_count(0, 1, 16), 16);
  EXPECT_EQ(choose_thread_count(0, 4, 16), 4);
  EXPECT_EQ(choose_thread_count(0, 3, 2), 1);  // never below one
  EXPECT_EQ(choose_thread_count(5, 4, 16), 5);  // explicit wins
  EXPECT_THROW(choose_thread_count(-1, 1, 2), Error);
}

TEST(Threads, ConfigureAppliesToLibTorch) {
  int n = configure_threads(1, 1);
  EXPECT_EQ(n, 1);
  EXPECT_EQ(at::get_num_threads(), 1);
  n = configure_threads(0, 1);
  EXPECT_EQ(n, available_cores());
  EXPECT_EQ(at::get_num_threads(), available_cores());
}

}  // namespace ptlab
