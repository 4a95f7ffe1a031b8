#include "tasks/synthetic/random.h"

#include "tasks/synthetic/fnv1a.h"

namespace ptlab::tasks::synthetic {

uint64_t derive_seed(uint64_t seed, std::string_view stream) {
  uint64_t state = seed ^ fnv1a64(stream);
  return splitmix64(state);
}

}  // namespace ptlab::tasks::synthetic
