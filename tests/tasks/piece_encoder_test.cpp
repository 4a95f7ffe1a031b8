#include "tasks/piece_encoder.h"

#include "tests/tasks/tasks_test_support.h"

#include <gtest/gtest.h>

namespace ptlab::tasks {
namespace {

std::vector<int> ids(const text::Tokenizer& tok, const std::string& s) { return tok.encode(s, false).ids; }

std::vector<int> cat(std::initializer_list<std::vector<int>> parts) {
  std::vector<int> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

TEST(PieceEncoder, SpacingNames) {
  EXPECT_STREQ(spacing_name(Spacing::kStart), "start");
  EXPECT_STREQ(spacing_name(Spacing::kSpace), "space");
  EXPECT_STREQ(spacing_name(Spacing::kAttached), "attached");
}

TEST(PieceEncoder, Gpt2PutsTheSpaceInTheToken) {
  PTLAB_SHARED_TOKENIZER(gpt2, testing::kGpt2);
  EXPECT_EQ(encode_piece(gpt2, "great", Spacing::kStart), ids(gpt2, "great"));
  EXPECT_EQ(encode_piece(gpt2, "great", Spacing::kSpace), ids(gpt2, " great"));
  EXPECT_EQ(encode_piece(gpt2, "great", Spacing::kAttached), ids(gpt2, "great"));
  EXPECT_NE(ids(gpt2, " great"), ids(gpt2, "great"));  // the distinction matters for GPT-2
  EXPECT_TRUE(encode_piece(gpt2, "", Spacing::kSpace).empty());
  // Pieces joined with their spacing give the ids of the whole text.
  EXPECT_EQ(cat({encode_piece(gpt2, "It", Spacing::kStart), encode_piece(gpt2, "was great", Spacing::kSpace),
                 encode_piece(gpt2, "!", Spacing::kAttached)}),
            ids(gpt2, "It was great!"));
}

TEST(PieceEncoder, Llama2DummyPrefixAndAttachedPieces) {
  PTLAB_SHARED_TOKENIZER(llama, testing::kLlama2);
  EXPECT_EQ(encode_piece(llama, "great", Spacing::kStart), ids(llama, "great"));
  EXPECT_EQ(encode_piece(llama, "great", Spacing::kSpace), ids(llama, "great"));
  EXPECT_EQ(llama.id_to_token(ids(llama, "great")[0]), "\xE2\x96\x81great");  // "▁great"
  std::vector<int> attached = encode_piece(llama, "great", Spacing::kAttached);
  ASSERT_FALSE(attached.empty());
  EXPECT_NE(llama.id_to_token(attached[0]).rfind("\xE2\x96\x81", 0), 0u);  // no "▁" in front
  EXPECT_EQ(llama.decode(attached), "great");
  EXPECT_EQ(encode_piece(llama, "?", Spacing::kAttached), std::vector<int>({llama.token_to_id("?")}));
  EXPECT_EQ(cat({encode_piece(llama, "Really", Spacing::kStart), encode_piece(llama, "great", Spacing::kSpace),
                 encode_piece(llama, "?!", Spacing::kAttached), encode_piece(llama, "\nNext", Spacing::kAttached)}),
            ids(llama, "Really great?!\nNext"));
}

TEST(PieceEncoder, T5AttachedPieces) {
  PTLAB_SHARED_TOKENIZER(t5, testing::kT5);
  EXPECT_EQ(cat({encode_piece(t5, "Who are you", Spacing::kStart), encode_piece(t5, "?", Spacing::kAttached),
                 encode_piece(t5, "Fine", Spacing::kSpace)}),
            ids(t5, "Who are you? Fine"));
}

TEST(PieceEncoder, BertIgnoresSpacing) {
  PTLAB_SHARED_TOKENIZER(bert, testing::kBert);
  for (Spacing s : {Spacing::kStart, Spacing::kSpace, Spacing::kAttached})
    EXPECT_EQ(encode_piece(bert, "Terrible!", s), ids(bert, "Terrible!")) << spacing_name(s);
}

}  // namespace
}  // namespace ptlab::tasks
