// The single-process Communicator: every collective is the identity.
#pragma once

#include "framework/dist/communicator.h"

namespace ptlab::dist {

class LocalCommunicator final : public Communicator {
 public:
  std::string backend() const override { return "local"; }
  int rank() const override { return 0; }
  int size() const override { return 1; }
  int local_rank() const override { return 0; }
  int local_size() const override { return 1; }
  void all_reduce_sum(at::Tensor&) override {}
  void broadcast(at::Tensor&, int root) override;
  std::string broadcast_string(const std::string& value, int root) override;
  std::vector<double> all_gather(double value) override { return {value}; }
  void barrier() override {}
  std::unique_ptr<Communicator> split(int color, int key) override;
  [[noreturn]] void abort(int code) override;
};

}  // namespace ptlab::dist
