// Sampling: every data-order decision, deterministic from a seed (see rng.h for why it is portable).
//
//  - few_shot_indices: k rows per class (Gao et al. 2021 / LM-BFF style few-shot training sets), classes
//    in the dataset's label order, each class's rows in file order. Each class draws from its own
//    stream (seed, class name), so adding a class never changes another's picks.
//  - split_off: a seeded held-out part of a split (a dev set for datasets that ship none).
//  - epoch_order: a shuffle that is a pure function of (seed, epoch): resuming at epoch e needs no state.
//  - sharding: rank r of w takes a disjoint part; all parts together are all rows; sizes differ by at
//    most 1. Strided (rows r, r+w, r+2w, ...) needs no row count, so a reader can keep only its rows while
//    streaming; contiguous ([r*n/w, (r+1)*n/w)) keeps runs of neighbouring rows together.
#pragma once

#include "framework/data/example.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace ptlab::data {

enum class ShardMode { kStrided, kContiguous };

struct Shard {
  int rank = 0;
  int world = 1;
  ShardMode mode = ShardMode::kStrided;

  bool whole() const { return world == 1; }
  /// Error unless 0 <= rank < world.
  void validate() const;
};

/// Rows [begin, end) of rank's contiguous shard of n rows.
std::pair<int64_t, int64_t> contiguous_range(int64_t n, int rank, int world);
/// Whether row `index` of n belongs to the shard (n is ignored by strided shards).
bool in_shard(int64_t index, int64_t n, const Shard& shard);
/// The rows of the shard, ascending.
std::vector<int64_t> shard_indices(int64_t n, const Shard& shard);

/// A permutation of 0..n-1 that depends only on (seed, epoch).
std::vector<int64_t> epoch_order(int64_t n, uint64_t seed, int64_t epoch);
/// The rows one rank visits in one epoch, in visiting order: the shard of epoch_order's positions, so
/// ranks together visit every row exactly once per epoch.
std::vector<int64_t> epoch_shard(int64_t n, uint64_t seed, int64_t epoch, const Shard& shard);

struct HeldOut {
  std::vector<int64_t> kept;      // ascending
  std::vector<int64_t> held_out;  // ascending
};
/// A seeded choice of `count` of n rows to hold out (0 <= count <= n).
HeldOut split_off(int64_t n, int64_t count, uint64_t seed);
/// round(n * fraction), at least 1 when fraction > 0, and at most n - 1 (so both parts are non-empty
/// when n >= 2).
int64_t held_out_count(int64_t n, double fraction);

/// Few-shot selection from `rows`: k per class (classes = `classes` in order, or the distinct label
/// names sorted when `classes` is empty), or k rows in all when no row has a label. Result: indices into
/// `rows`, grouped by class in class order, ascending within a class. A class with fewer than k rows is an
/// Error naming it, its count and `what` (the split and file).
std::vector<int64_t> few_shot_indices(const std::vector<Example>& rows, int64_t k, uint64_t seed,
                                      const std::vector<std::string>& classes, const std::string& what);

/// items[indices[0]], items[indices[1]], ...
template <class T>
std::vector<T> take(const std::vector<T>& items, const std::vector<int64_t>& indices) {
  std::vector<T> out;
  out.reserve(indices.size());
  for (int64_t i : indices) out.push_back(items[std::size_t(i)]);
  return out;
}

}  // namespace ptlab::data
