// What this build of ptlab is: its version and the commit it was built from (stamped into every run log
// and printed by `ptlab --version`).
#pragma once

#include <string>

namespace ptlab {

/// PROJECT_VERSION from CMakeLists.txt.
std::string build_version();

/// `git rev-parse --short=12 HEAD` at build time (not configure time), "-dirty" with uncommitted changes;
/// "unknown" outside a git checkout.
std::string build_git_sha();

}  // namespace ptlab
