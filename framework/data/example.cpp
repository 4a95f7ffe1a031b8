#include "framework/data/example.h"

#include <fmt/format.h>

namespace ptlab::data {

std::string Provenance::describe() const {
  if (line <= 0) return pointer.empty() ? file : fmt::format("{} ({})", file, pointer);
  if (pointer.empty()) return fmt::format("{}:{}", file, line);
  return fmt::format("{}:{} ({})", file, line, pointer);
}

}  // namespace ptlab::data
