// p_tuning end to end: `ptlab train` with an LSTM prompt encoder on stories260K + SST-2 from ../shared writes
// prompt.safetensors (the encoder) and a PEFT P_TUNING adapter (its output), resumes from its checkpoint,
// and `ptlab eval --from` the run and from the adapter (the frozen output table) give the same accuracy;
// `ptlab bench train --method ptuning` measures its steps.
#include "tests/launchers/train_support.h"

namespace ptlab::launchers {
namespace {

using namespace ptlab::launchers::testing;
using models::testing::TempDir;
namespace fs = std::filesystem;

std::string p_tuning_args(const std::string& run_dir) {
  std::string args = base_args(run_dir);
  args.replace(args.find("method=prompt_tuning"), 20, "method=p_tuning");
  args.replace(args.find("method.init=sampled_vocab"), 25,
               "method.encoder=lstm method.encoder_hidden_size=16 method.init=normal");
  return args;
}

std::string file_text(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// The "accuracy <value>" part of `ptlab eval`'s output.
std::string accuracy_of(const std::string& out) {
  const auto at = out.find("accuracy");
  return at == std::string::npos ? out : out.substr(at, out.find_first_of("\n,", at) - at);
}

TEST(PTuningCommand, TrainsResumesAndEvaluatesFromItsRunAndItsPeftAdapter) {
  REQUIRE_SHARED();
  TempDir dir;
  const std::string run = dir.sub("run");
  Result r = ptlab("train " + p_tuning_args(run) + " trainer.max_steps=4 trainer.eval_every=2", dir);
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* f : {"prompt.safetensors", "checkpoint.safetensors", "adapter/adapter_config.json",
                        "adapter/adapter_model.safetensors"})
    EXPECT_TRUE(fs::exists(run + "/" + f)) << f;
  const std::string config = file_text(run + "/adapter/adapter_config.json");
  EXPECT_NE(config.find("\"peft_type\": \"P_TUNING\""), std::string::npos) << config;
  EXPECT_NE(config.find("\"encoder_reparameterization_type\": \"LSTM\""), std::string::npos) << config;
  // The encoder is in prompt.safetensors: the embedding and the LSTM's and head's weights.
  const auto state = io::load_safetensors(run + "/prompt.safetensors");
  EXPECT_TRUE(state.count("embedding") && state.count("lstm_head.weight_ih_l0") && state.count("mlp_head.2.weight"));
  EXPECT_GT(read_json(run + "/summary.json")["trainable_parameters"].get<int64_t>(), 4 * 64);

  Result more =
      ptlab("train " + p_tuning_args(run) + " trainer.max_steps=6 trainer.eval_every=2 trainer.resume=true", dir);
  ASSERT_EQ(more.code, 0) << more.err;
  EXPECT_NE(more.err.find("resumed from"), std::string::npos) << more.err;
  EXPECT_EQ(read_json(run + "/summary.json")["steps"], 6);

  Result from_run = ptlab("eval " + p_tuning_args(dir.sub("e1")) + " --split dev --from " + run, dir);
  Result from_adapter = ptlab("eval " + p_tuning_args(dir.sub("e2")) + " --split dev --from " + run + "/adapter", dir);
  ASSERT_EQ(from_run.code, 0) << from_run.err;
  ASSERT_EQ(from_adapter.code, 0) << from_adapter.err;
  EXPECT_NE(from_run.out.find("accuracy"), std::string::npos) << from_run.out;
  EXPECT_EQ(accuracy_of(from_run.out), accuracy_of(from_adapter.out)) << from_run.out << "\n" << from_adapter.out;

  // An LSTM run's state into an MLP p_tuning: one line naming both encoders.
  std::string mlp = p_tuning_args(dir.sub("e3"));
  mlp.replace(mlp.find("method.encoder=lstm"), 19, "method.encoder=mlp");
  Result wrong = ptlab("eval " + mlp + " --split dev --from " + run, dir);
  expect_one_line_error(wrong, "holds an lstm encoder");
}

// `ptlab bench train --method ptuning`: steps with PEFT's prompt encoder in front of the backbone.
TEST(PTuningCommand, BenchTrainMeasuresPTuningSteps) {
  REQUIRE_SHARED();
  TempDir dir;
  const std::string model = std::string(PTLAB_SHARED_DIR) + "/models/stories260K";
  for (const std::string encoder : {"mlp", "lstm"}) {
    Result r = ptlab("bench train " + model + " --method ptuning --encoder " + encoder +
                         " --hidden 16 --batch 2 --seq 16 --prompt 4 --steps 2 --warmup 1 --threads 1 --json",
                     dir);
    ASSERT_EQ(r.code, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["method"], "ptuning");
    EXPECT_EQ(j["encoder"], encoder);
    EXPECT_GT(j["step_ms"].get<double>(), 0.0);
  }
  expect_one_line_error(ptlab("bench train " + model + " --method ptuning --encoder gru", dir),
                        "--encoder is mlp or lstm, got 'gru'");
  expect_one_line_error(ptlab("bench train " + model + " --encoder lstm", dir), "add --method ptuning");
}

}  // namespace
}  // namespace ptlab::launchers
