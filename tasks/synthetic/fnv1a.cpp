#include "tasks/synthetic/fnv1a.h"

#include <cstdio>

namespace ptlab::tasks::synthetic {

std::string Fnv1a64::hex() const {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(hash_));
  return text;
}

}  // namespace ptlab::tasks::synthetic
