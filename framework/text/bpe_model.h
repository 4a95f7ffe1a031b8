// The BPE model of byte-level BPE: a vocabulary of byte-level tokens, merge rules ranked by their
// position in merges.txt / tokenizer.json, and a cache of already-encoded pre-tokens.
//
// Encoding one pre-token (a word and its leading space, as raw bytes): map each byte to its one-byte
// token, then repeatedly merge the adjacent pair with the lowest rank (ties: leftmost) until no pair
// has a rule. This is what GPT-2's `bpe()` and the Rust BPE model compute for well-formed merge lists
// (every merge's parts are made by earlier merges). We use a heap over a linked list, so long words cost
// O(n log n) instead of O(n^2), and cache results per pre-token: running text repeats its words, so most
// pre-tokens are a hash lookup.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace ptlab::text {

class BpeModel {
 public:
  struct Options {
    /// Rust `ignore_merges` (Llama 3): a pre-token that is itself in the vocabulary is one token.
    bool ignore_merges = false;
    /// Id used for a byte whose one-byte token is missing from the vocabulary; -1 = such a byte is an
    /// Error.
    int unk_id = -1;
    /// Pre-tokens longer than this (bytes) are not cached.
    std::size_t max_cached_bytes = 256;
    /// The cache is emptied when it holds this many pre-tokens.
    std::size_t max_cache_entries = 200000;
  };

  /// `vocab` maps byte-level token text to its id (an empty vocabulary is an Error); `merges` are token
  /// pairs in rank order. A merge whose parts or result are not in the vocabulary is an Error naming
  /// `describe_merge(i)` ("merges.txt line 12"). `where` names the vocabulary file for messages.
  BpeModel(std::unordered_map<std::string, int> vocab, const std::vector<std::pair<std::string, std::string>>& merges,
           const std::function<std::string(std::size_t)>& describe_merge, std::string_view where, Options options);

  /// Appends the ids of one pre-token given as raw bytes (not byte-level text).
  void encode(std::string_view bytes, std::vector<int>& out) const;

  /// Id of a byte-level token, or -1.
  int token_to_id(std::string_view token) const;
  /// Byte-level text of `id`, or nullptr when no token has that id.
  const std::string* id_to_token(int id) const;
  /// Largest id + 1.
  int size() const { return static_cast<int>(id_to_token_.size()); }
  /// Number of merge rules.
  std::size_t merge_count() const { return merges_.size(); }
  /// Number of pre-tokens in the cache (for tests).
  std::size_t cache_size() const;

 private:
  struct Merge {
    int rank;
    int id;
  };
  static std::uint64_t pair_key(int a, int b) {
    return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(a)) << 32) | static_cast<std::uint32_t>(b);
  }
  void merge_word(std::string_view bytes, std::vector<int>& out) const;

  std::unordered_map<std::string, int> vocab_;
  std::vector<std::string> id_to_token_;
  std::unordered_map<std::uint64_t, Merge> merges_;
  int byte_id_[256];
  std::string where_;
  Options options_;
  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<int>> cache_;
};

}  // namespace ptlab::text
