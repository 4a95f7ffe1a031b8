#include "framework/dist/local_communicator.h"

#include "framework/core/error.h"

#include <cstdlib>

namespace ptlab::dist {

void LocalCommunicator::broadcast(at::Tensor&, int root) {
  PTLAB_ASSERT(root == 0, "broadcast root {} outside a 1-process communicator", root);
}

std::string LocalCommunicator::broadcast_string(const std::string& value, int root) {
  PTLAB_ASSERT(root == 0, "broadcast root {} outside a 1-process communicator", root);
  return value;
}

std::unique_ptr<Communicator> LocalCommunicator::split(int, int) { return std::make_unique<LocalCommunicator>(); }

void LocalCommunicator::abort(int code) { std::exit(code); }

}  // namespace ptlab::dist
