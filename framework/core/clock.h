// Wall-clock time as runs record it: seconds since the Unix epoch (metrics' wall_time) and ISO 8601 UTC
// stamps (run logs, trial status files).
#pragma once

#include <string>

namespace ptlab {

/// Seconds since the Unix epoch, with sub-second precision.
double unix_seconds();

/// The current time in UTC as ISO 8601, e.g. "2026-12-02T21:44:18Z".
std::string utc_now();

}  // namespace ptlab
