#include "framework/text/sentencepiece_library.h"

#include <gtest/gtest.h>
#include <sentencepiece_processor.h>

#include <memory>

namespace ptlab::text {
namespace {

TEST(SentencePieceLibrary, LoadsInIsolation) {
  if (!sentencepiece_supported()) GTEST_SKIP() << "sanitizer build with LibTorch loaded";
  load_sentencepiece_library();
  EXPECT_FALSE(sentencepiece_library_path().empty());
  EXPECT_NE(detail::sentencepiece_symbol("_ZN13sentencepiece22SentencePieceProcessorC1Ev"), nullptr);
  // The forwarding constructor and a virtual call work; a processor with no model reports it.
  auto sp = std::make_unique<sentencepiece::SentencePieceProcessor>();
  auto status = sp->LoadFromSerializedProto("not a model");
  EXPECT_FALSE(status.ok());
  EXPECT_FALSE(status.ToString().empty());
}

}  // namespace
}  // namespace ptlab::text
