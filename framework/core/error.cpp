#include "framework/core/error.h"

namespace ptlab::detail {

void throw_internal(const char* file, int line, const char* cond, const std::string& message) {
  throw InternalError(fmt::format("internal error at {}:{}: {} ({}); please report this", file, line, message, cond));
}

}  // namespace ptlab::detail
