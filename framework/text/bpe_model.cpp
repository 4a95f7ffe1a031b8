#include "framework/text/bpe_model.h"

#include "framework/core/error.h"
#include "framework/text/byte_level.h"

#include <algorithm>
#include <queue>

namespace ptlab::text {

BpeModel::BpeModel(std::unordered_map<std::string, int> vocab,
                   const std::vector<std::pair<std::string, std::string>>& merges,
                   const std::function<std::string(std::size_t)>& describe_merge, std::string_view where,
                   Options options)
    : vocab_(std::move(vocab)), where_(where), options_(options) {
  PTLAB_CHECK(!vocab_.empty(), "empty vocabulary in {}: a BPE vocabulary needs at least the 256 byte tokens", where_);
  int max_id = -1;
  for (const auto& [token, id] : vocab_) {
    PTLAB_CHECK(id >= 0, "negative id {} for token '{}' in {}", id, token, where_);
    max_id = std::max(max_id, id);
  }
  id_to_token_.assign(static_cast<std::size_t>(max_id) + 1, std::string());
  for (const auto& [token, id] : vocab_) id_to_token_[id] = token;

  const auto& alphabet = ByteLevelAlphabet::get();
  for (int b = 0; b < 256; ++b) byte_id_[b] = token_to_id(alphabet.utf8(static_cast<unsigned char>(b)));

  merges_.reserve(merges.size() * 2);
  for (std::size_t i = 0; i < merges.size(); ++i) {
    const auto& [a, b] = merges[i];
    int ia = token_to_id(a), ib = token_to_id(b), iab = token_to_id(a + b);
    auto missing = ia < 0 ? a : ib < 0 ? b : a + b;
    PTLAB_CHECK(ia >= 0 && ib >= 0 && iab >= 0,
                "{}: merge '{} {}' uses token '{}' which is not in the vocabulary {} (merges and vocabulary must "
                "come from the same tokenizer)",
                describe_merge(i), a, b, missing, where_);
    // A repeated rule keeps its last rank, like the dict that GPT-2's tokenizer builds.
    merges_[pair_key(ia, ib)] = Merge{static_cast<int>(i), iab};
  }
}

int BpeModel::token_to_id(std::string_view token) const {
  auto it = vocab_.find(std::string(token));
  return it == vocab_.end() ? -1 : it->second;
}

const std::string* BpeModel::id_to_token(int id) const {
  if (id < 0 || id >= size() || id_to_token_[id].empty()) return nullptr;
  return &id_to_token_[id];
}

std::size_t BpeModel::cache_size() const {
  std::lock_guard<std::mutex> lock(cache_mutex_);
  return cache_.size();
}

void BpeModel::encode(std::string_view bytes, std::vector<int>& out) const {
  if (bytes.empty()) return;
  if (options_.ignore_merges) {
    int id = token_to_id(ByteLevelAlphabet::get().encode(bytes));
    if (id >= 0) {
      out.push_back(id);
      return;
    }
  }
  const bool cacheable = bytes.size() <= options_.max_cached_bytes;
  std::string key;
  if (cacheable) {
    key.assign(bytes);
    std::lock_guard<std::mutex> lock(cache_mutex_);
    auto it = cache_.find(key);
    if (it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  const std::size_t first = out.size();
  merge_word(bytes, out);
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    if (cache_.size() >= options_.max_cache_entries) cache_.clear();
    cache_.emplace(std::move(key), std::vector<int>(out.begin() + first, out.end()));
  }
}

void BpeModel::merge_word(std::string_view bytes, std::vector<int>& out) const {
  // Symbols of the word as a doubly linked list over positions; dead symbols have id -1.
  struct Symbol {
    int id, prev, next;
  };
  const int n = static_cast<int>(bytes.size());
  std::vector<Symbol> sym(n);
  for (int i = 0; i < n; ++i) {
    const auto b = static_cast<unsigned char>(bytes[i]);
    int id = byte_id_[b];
    if (id < 0) {
      PTLAB_CHECK(options_.unk_id >= 0,
                  "byte 0x{:02X} has no token in the vocabulary {} and the tokenizer has no unknown token", b, where_);
      id = options_.unk_id;
    }
    sym[i] = Symbol{id, i - 1, i + 1 < n ? i + 1 : -1};
  }
  // Candidate merges ordered by (rank, position); entries made stale by earlier merges are skipped.
  struct Candidate {
    int rank, left, left_id, right_id;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : left > o.left; }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> heap;
  auto push = [&](int left) {
    if (left < 0) return;
    int right = sym[left].next;
    if (right < 0) return;
    auto it = merges_.find(pair_key(sym[left].id, sym[right].id));
    if (it != merges_.end()) heap.push({it->second.rank, left, sym[left].id, sym[right].id});
  };
  for (int i = 0; i + 1 < n; ++i) push(i);
  while (!heap.empty()) {
    Candidate c = heap.top();
    heap.pop();
    Symbol& left = sym[c.left];
    if (left.id != c.left_id || left.next < 0 || sym[left.next].id != c.right_id) continue;
    const int right = left.next;
    left.id = merges_.find(pair_key(c.left_id, c.right_id))->second.id;
    left.next = sym[right].next;
    if (left.next >= 0) sym[left.next].prev = c.left;
    sym[right].id = -1;
    push(left.prev);
    push(c.left);
  }
  for (int i = 0; i >= 0; i = sym[i].next) out.push_back(sym[i].id);
}

}  // namespace ptlab::text
