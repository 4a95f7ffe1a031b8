// Test support for tests/tasks: the real tokenizers of ../shared (skipping when absent) and an Example
// builder.
#pragma once

#include "framework/core/error.h"
#include "framework/models/backbone.h"
#include "framework/text/sentencepiece_library.h"
#include "framework/text/tokenizer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>

namespace ptlab::tasks::testing {

inline std::string shared_path(const std::string& relative) { return std::string(PTLAB_SHARED_DIR) + "/" + relative; }

/// The tokenizer at ../shared/<relative>, loaded once per process; nullptr when the file is absent (or
/// SentencePiece cannot be loaded in this build).
inline const text::Tokenizer* shared_tokenizer(const std::string& relative) {
  static std::map<std::string, std::unique_ptr<text::Tokenizer>> cache;
  auto it = cache.find(relative);
  if (it != cache.end()) return it->second.get();
  std::unique_ptr<text::Tokenizer> tokenizer;
  const std::string path = shared_path(relative);
  const bool is_sentencepiece = relative.find("llama") != std::string::npos || relative.find("t5") != std::string::npos;
  if (std::filesystem::exists(path) && (!is_sentencepiece || text::sentencepiece_supported())) {
    tokenizer = text::load_tokenizer(path);
  }
  return cache.emplace(relative, std::move(tokenizer)).first->second.get();
}

inline constexpr const char* kGpt2 = "models/tokenizers/gpt2";
inline constexpr const char* kBert = "models/tokenizers/bert-base-uncased";
inline constexpr const char* kLlama2 = "models/tokenizers/llama2-32k/tokenizer.model";
inline constexpr const char* kT5 = "golden/models/t5";  // a tiny T5 with the real t5 spiece.model

/// What a task needs to know about the backbone, for the three kinds.
inline models::BackboneInfo encoder_only() {
  models::BackboneInfo info;
  info.family = "bert";
  info.is_causal = false;
  return info;
}
inline models::BackboneInfo decoder_only() {
  models::BackboneInfo info;
  info.family = "gpt2";
  return info;
}
inline models::BackboneInfo encoder_decoder() {
  models::BackboneInfo info;
  info.family = "t5";
  info.is_encoder_decoder = true;
  return info;
}

/// The message of the ptlab::Error `fn` throws (a test failure when it throws none).
template <class Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no ptlab::Error thrown";
  return "";
}

}  // namespace ptlab::tasks::testing

/// Declares `const text::Tokenizer& var` loaded from ../shared/<relative>, or skips the test.
#define PTLAB_SHARED_TOKENIZER(var, relative)                                                      \
  const ::ptlab::text::Tokenizer* var##_ptr = ::ptlab::tasks::testing::shared_tokenizer(relative); \
  if (var##_ptr == nullptr)                                                                        \
    GTEST_SKIP() << "../shared not found (or SentencePiece unavailable): "                         \
                 << ::ptlab::tasks::testing::shared_path(relative);                                \
  const ::ptlab::text::Tokenizer& var = *var##_ptr
