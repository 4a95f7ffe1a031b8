#include "framework/data/sampling.h"

#include "framework/core/error.h"
#include "framework/data/rng.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

namespace ptlab::data {
namespace {

// Stream ids keep the decisions independent of each other for the same seed.
constexpr uint64_t kEpochStream = 0x45504F4348ull;  // "EPOCH"
constexpr uint64_t kSplitStream = 0x53504C4954ull;  // "SPLIT"

std::vector<int64_t> iota(int64_t n) {
  std::vector<int64_t> v(std::size_t(std::max<int64_t>(n, 0)));
  std::iota(v.begin(), v.end(), int64_t(0));
  return v;
}

}  // namespace

void Shard::validate() const {
  PTLAB_CHECK(world >= 1 && rank >= 0 && rank < world, "invalid shard: rank {} of world size {} (need 0 <= rank < world)",
              rank, world);
}

std::pair<int64_t, int64_t> contiguous_range(int64_t n, int rank, int world) {
  // floor(n*r/w) boundaries: sizes are floor(n/w) or ceil(n/w). (n*r fits: n < 2^40 rows, r < 2^23.)
  return {n * rank / world, n * (rank + 1) / world};
}

bool in_shard(int64_t index, int64_t n, const Shard& shard) {
  if (shard.world == 1) return true;
  if (shard.mode == ShardMode::kStrided) return index % shard.world == shard.rank;
  const auto [b, e] = contiguous_range(n, shard.rank, shard.world);
  return index >= b && index < e;
}

std::vector<int64_t> shard_indices(int64_t n, const Shard& shard) {
  shard.validate();
  std::vector<int64_t> out;
  if (shard.mode == ShardMode::kStrided) {
    for (int64_t i = shard.rank; i < n; i += shard.world) out.push_back(i);
  } else {
    const auto [b, e] = contiguous_range(n, shard.rank, shard.world);
    for (int64_t i = b; i < e; ++i) out.push_back(i);
  }
  return out;
}

std::vector<int64_t> epoch_order(int64_t n, uint64_t seed, int64_t epoch) {
  std::vector<int64_t> order = iota(n);
  Rng rng(derive_seed(derive_seed(seed, kEpochStream), uint64_t(epoch)));
  shuffle(order, rng);
  return order;
}

std::vector<int64_t> epoch_shard(int64_t n, uint64_t seed, int64_t epoch, const Shard& shard) {
  const std::vector<int64_t> order = epoch_order(n, seed, epoch);
  return take(order, shard_indices(n, shard));
}

HeldOut split_off(int64_t n, int64_t count, uint64_t seed) {
  PTLAB_ASSERT(count >= 0 && count <= n, "split_off: count {} of {}", count, n);
  std::vector<int64_t> order = iota(n);
  Rng rng(derive_seed(seed, kSplitStream));
  // Partial Fisher–Yates: the first `count` positions become a uniform random subset.
  for (int64_t i = 0; i < count; ++i) {
    const int64_t j = i + int64_t(rng.below(uint64_t(n - i)));
    std::swap(order[std::size_t(i)], order[std::size_t(j)]);
  }
  HeldOut out;
  out.held_out.assign(order.begin(), order.begin() + count);
  std::sort(out.held_out.begin(), out.held_out.end());
  std::vector<char> taken(std::size_t(n), 0);
  for (int64_t i : out.held_out) taken[std::size_t(i)] = 1;
  for (int64_t i = 0; i < n; ++i)
    if (!taken[std::size_t(i)]) out.kept.push_back(i);
  return out;
}

int64_t held_out_count(int64_t n, double fraction) {
  if (n <= 1 || fraction <= 0) return 0;
  int64_t c = int64_t(std::llround(double(n) * fraction));
  return std::clamp<int64_t>(c, 1, n - 1);
}

std::vector<int64_t> few_shot_indices(const std::vector<Example>& rows, int64_t k, uint64_t seed,
                                      const std::vector<std::string>& classes, const std::string& what) {
  PTLAB_CHECK(k > 0, "few_shot.k must be positive, got {}", k);
  std::map<std::string, std::vector<int64_t>> members;
  for (std::size_t i = 0; i < rows.size(); ++i)
    if (rows[i].has_label()) members[rows[i].label_name].push_back(int64_t(i));

  auto pick = [&](const std::vector<int64_t>& pool, uint64_t stream, const std::string& name) {
    PTLAB_CHECK(int64_t(pool.size()) >= k, "few_shot.k={} but {} has only {} row{} in {}", k, name, pool.size(),
                pool.size() == 1 ? "" : "s", what);
    std::vector<int64_t> p = pool;
    Rng rng(derive_seed(seed, stream));
    for (int64_t i = 0; i < k; ++i) {
      const int64_t j = i + int64_t(rng.below(uint64_t(int64_t(p.size()) - i)));
      std::swap(p[std::size_t(i)], p[std::size_t(j)]);
    }
    p.resize(std::size_t(k));
    std::sort(p.begin(), p.end());
    return p;
  };

  std::vector<int64_t> out;
  if (members.empty()) return pick(iota(int64_t(rows.size())), hash_name(""), "the split");
  std::vector<std::string> order = classes;
  if (order.empty())
    for (const auto& kv : members) order.push_back(kv.first);
  for (const std::string& c : order) {
    auto it = members.find(c);
    const std::vector<int64_t> none;
    const auto picked = pick(it == members.end() ? none : it->second, hash_name(c), "class '" + c + "'");
    out.insert(out.end(), picked.begin(), picked.end());
  }
  return out;
}

}  // namespace ptlab::data
