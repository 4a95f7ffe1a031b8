// `ptlab generate --adapter`: greedy continuations through trained soft prompts — PEFT's own prompt-tuning and
// prefix-tuning adapters of the golden runs in ../shared, on every family — against the references of
// tests/fixtures/references/make_generate_references.py (transformers 5.24: a KV cache seeded with the prefix;
// full recomputation with the prompt in front). PEFT 0.21's own generate() disagrees with both on most of these
// (the script records it), so it is not the reference. Plus the adapter's one-line errors.
#include "tests/launchers/train_support.h"

#include <fmt/format.h>

namespace ptlab::launchers::testing {
namespace {

nlohmann::json references() {
  return read_json(std::string(PTLAB_SOURCE_DIR) + "/tests/fixtures/references/generate_references.json");
}

std::string ids_arg(const nlohmann::json& ids) {
  std::string out;
  for (const auto& id : ids) out += (out.empty() ? "" : ",") + std::to_string(id.get<int64_t>());
  return out;
}

TEST(GenerateAdapter, EveryFamilyContinuesLikeTheReference) {
  const nlohmann::json ref = references();
  if (!fs::exists(shared("golden/peft/gpt2/prefix/adapter_final"))) GTEST_SKIP() << "../shared not found";
  TempDir dir;
  int checked = 0;
  for (const auto& c : ref["cases"]) {
    const std::string adapter = c["adapter"].get<std::string>();
    SCOPED_TRACE(adapter);
    if (!fs::exists(shared(c["model"].get<std::string>()) + "/config.json")) continue;
    const Result r =
        ptlab(fmt::format("generate {} --prompt-ids {} --max-new-tokens {} --adapter {} --json --threads 1",
                          shared(c["model"].get<std::string>()), ids_arg(ref["prompt_ids"]),
                          ref["max_new_tokens"].get<int>(), shared(adapter)),
              dir);
    ASSERT_EQ(r.code, 0) << r.err;
    const nlohmann::json out = nlohmann::json::parse(r.out);
    EXPECT_EQ(out["new_ids"], c["new_ids"]);
    // Decoder-only: the printed ids are the prompt then the new tokens, whether the prompt went in as ids
    // (prefix) or as embeddings behind virtual tokens (prompt tuning).
    if (c["run"] != "t5") {
      nlohmann::json whole = ref["prompt_ids"];
      for (const auto& id : c["new_ids"]) whole.push_back(id);
      EXPECT_EQ(out["ids"], whole);
    }
    ++checked;
  }
  EXPECT_EQ(checked, static_cast<int>(ref["cases"].size()));
}

TEST(GenerateAdapter, RunDirectoryAndBadAdaptersAreHandled) {
  if (!fs::exists(shared("golden/peft/gpt2/prefix/adapter_final"))) GTEST_SKIP() << "../shared not found";
  TempDir dir;
  // A run directory holding adapter/ works like the adapter itself.
  fs::create_directories(dir.sub("run"));
  fs::copy(shared("golden/peft/gpt2/prefix/adapter_final"), dir.sub("run/adapter"));
  const std::string gpt2 = shared("golden/models/gpt2");
  const Result a =
      ptlab("generate " + gpt2 + " --prompt-ids 5,17 --max-new-tokens 3 --json --adapter " + dir.sub("run"), dir);
  const Result b = ptlab("generate " + gpt2 + " --prompt-ids 5,17 --max-new-tokens 3 --json --adapter " +
                             shared("golden/peft/gpt2/prefix/adapter_final"),
                         dir);
  ASSERT_EQ(a.code, 0) << a.err;
  EXPECT_EQ(a.out, b.out);

  // A prefix adapter of another model: the method names both shapes. (A prompt-tuning adapter of a model of the
  // same width loads: moving a prompt between models is a research use, and only the width is checked.)
  expect_one_line_error(ptlab("generate " + shared("golden/models/llama") + " --prompt-ids 5,17 --adapter " +
                                  shared("golden/peft/gpt2/prefix/adapter_final"),
                              dir),
                        "but this prefix_tuning on llama has");
  // Not a method ptlab generates with (yet), and not an adapter at all.
  expect_one_line_error(
      ptlab("generate " + gpt2 + " --prompt-ids 5,17 --adapter " + shared("golden/peft/gpt2/ptuning_mlp/adapter_final"),
            dir),
      "peft_type 'P_TUNING' is not one ptlab generates with");
  expect_one_line_error(ptlab("generate " + gpt2 + " --prompt-ids 5,17 --adapter " + dir.sub("nowhere"), dir),
                        "nowhere");
}

}  // namespace
}  // namespace ptlab::launchers::testing
