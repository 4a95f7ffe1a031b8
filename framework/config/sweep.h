// Multirun expansion (-m / --multirun): one override list per trial, as Hydra's BasicSweeper makes them.
//
// Each override contributes a list of values: a plain override one value, `a=1,2,3` / choice(1,2,3)
// its elements, range(start, stop[, step]) its numbers (stop excluded; floats and negative steps
// allowed), glob(pattern, exclude=pattern) the matching options of a config group (only for group
// overrides). The trials are the Cartesian product in itertools.product order: the first key varies
// slowest, the last fastest.
//
// A sweep file: when the composed defaults choose an option of the `sweep` group
// (configs/sweep/<name>.yaml, picked in the defaults lists or with sweep=<name>; sweeping group overrides
// do not take part in that choice), its
// `params: {key: "1,2,3", model: "glob(*)"}` mapping adds one override per key, ordered before the
// command line's; a command-line override of the same key (with the same +/~ prefix) replaces the
// file's values but keeps its position. interval() and tag() are rejected: only discrete sweeps are
// supported.
#pragma once

#include "framework/config/compose.h"
#include "framework/config/override.h"

#include <string>
#include <vector>

namespace ptlab::config {

/// The trials of a multirun: each a plain override list (no sweep syntax left), in Hydra's order.
std::vector<std::vector<std::string>> expand_multirun(const ComposeOptions& options,
                                                      const std::vector<std::string>& overrides);

/// The values one override sweeps over, as override value texts ("1", "'a b'", "gpt2"); a plain
/// override gives its single value. `config_dir` is needed for glob().
std::vector<std::string> sweep_values(const Override& override_, const std::string& config_dir);

/// At most this many trials (a typo like range(0,1e9) must not hang the launcher).
inline constexpr std::size_t kMaxTrials = 100000;

}  // namespace ptlab::config
