#include "framework/core/build_info.h"

#include "ptlab_git_sha.h"  // generated into the build tree at every build

namespace ptlab {

std::string build_version() { return PTLAB_VERSION; }

std::string build_git_sha() { return PTLAB_GIT_SHA; }

}  // namespace ptlab
