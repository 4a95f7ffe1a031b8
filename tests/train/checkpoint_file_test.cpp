// Checkpoint files: bit-identical round trip of tensors and meta, atomic replacement (no temporary file left,
// the old file kept when writing fails), load errors, and the CPU generator state.
#include "framework/train/checkpoint_file.h"

#include "framework/io/safetensors.h"
#include "tests/train/train_test_support.h"

#include <filesystem>
#include <fstream>
#include <sstream>

namespace ptlab::train {
namespace {

using testing::error_of;
using testing::TempDir;

std::string bytes_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

CheckpointFile sample() {
  at::manual_seed(5);
  CheckpointFile f;
  f.tensors["param/prompt.embedding"] = at::randn({8, 16});
  f.tensors["param/half"] = at::randn({3, 2}).to(at::kBFloat16);
  f.tensors["optim/prompt.embedding/exp_avg"] = at::randn({8, 16}, at::kDouble);
  f.tensors["optim/prompt.embedding/step"] = at::scalar_tensor(7, at::kLong);  // [] (0-d)
  f.tensors["optim/step"] = at::scalar_tensor(7, at::kLong);
  f.tensors["rng/cpu"] = cpu_rng_state();
  f.meta = {{"step", 7}, {"epoch", 0.5}, {"method", "prompt_tuning"}, {"data", {{"position", 56}, {"seed", 3}}},
            {"note", "üñí \"quoted\""}};
  return f;
}

TEST(CheckpointFile, RoundTripIsBitIdenticalAndLeavesNoTemporaryFile) {
  TempDir dir;
  const std::string path = dir.file("checkpoint.safetensors");
  const CheckpointFile f = sample();
  save_checkpoint(path, f);
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"checkpoint.safetensors"});

  const CheckpointFile back = load_checkpoint(path);
  EXPECT_EQ(back.meta, f.meta);
  ASSERT_EQ(back.tensors.size(), f.tensors.size());
  for (const auto& [name, t] : f.tensors) {
    const at::Tensor& b = back.tensors.at(name);
    EXPECT_EQ(b.scalar_type(), t.scalar_type()) << name;
    EXPECT_EQ(b.sizes(), t.sizes()) << name;
    EXPECT_TRUE(at::equal(b, t)) << name;
  }
  EXPECT_EQ(back.tensors.at("optim/step").dim(), 0);

  // Self-describing: any safetensors reader sees the format, the schema and the meta.
  io::SafetensorsFile raw(path);
  EXPECT_EQ(raw.metadata().at("format"), "ptlab.checkpoint");
  EXPECT_EQ(raw.metadata().at("schema_version"), std::to_string(kCheckpointSchemaVersion));
  EXPECT_EQ(nlohmann::json::parse(raw.metadata().at("ptlab")), f.meta);
}

TEST(CheckpointFile, OverwritingReplacesTheFileAndAFailedWriteKeepsTheOldOne) {
  TempDir dir;
  const std::string path = dir.file("ckpt.safetensors");
  CheckpointFile first = sample();
  save_checkpoint(path, first);
  CheckpointFile second = sample();
  second.meta["step"] = 8;
  second.tensors["param/prompt.embedding"] += 1;
  save_checkpoint(path, second);
  EXPECT_EQ(load_checkpoint(path).meta["step"], 8);
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"ckpt.safetensors"});

  // Leftovers of a save that was killed midway are cleaned up by the next save.
  std::ofstream(dir.file(".ckpt.safetensors.partial.99999")) << "torn";
  std::ofstream(dir.file(".ckpt.safetensors.partial.99999.tmp.99999")) << "torn";
  std::ofstream(dir.file(".other.safetensors.partial.99999")) << "not ours";
  save_checkpoint(path, second);
  EXPECT_EQ(dir.entries(), (std::vector<std::string>{".other.safetensors.partial.99999", "ckpt.safetensors"}));
  std::filesystem::remove(dir.file(".other.safetensors.partial.99999"));

  const std::string before = bytes_of(path);
  CheckpointFile broken = sample();
  broken.tensors["param/undefined"] = at::Tensor();  // fails while writing
  const std::string e = error_of([&] { save_checkpoint(path, broken); });
  EXPECT_CONTAINS(e, "param/undefined");
  EXPECT_EQ(bytes_of(path), before);
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"ckpt.safetensors"});
  EXPECT_EQ(load_checkpoint(path).meta["step"], 8);
}

TEST(CheckpointFile, AnUnwritableLocationIsAnErrorWithTheOsReason) {
  TempDir dir;
  std::ofstream(dir.file("plain_file")) << "x";
  // Tests run as root, for whom permissions are no obstacle: a path under a regular file always fails.
  const std::string path = dir.file("plain_file/ckpt.safetensors");
  std::string e = error_of([&] { save_checkpoint(path, sample()); });
  EXPECT_CONTAINS(e, path);
  EXPECT_CONTAINS(e, "Not a directory");
  e = error_of([&] { save_checkpoint(dir.file("missing/ckpt.safetensors"), sample()); });
  EXPECT_CONTAINS(e, "No such file or directory");

  // A directory in the way of the final rename: the error says so and no temporary file remains.
  std::filesystem::create_directories(dir.file("taken/inner"));
  e = error_of([&] { save_checkpoint(dir.file("taken"), sample()); });
  EXPECT_CONTAINS(e, dir.file("taken"));
  EXPECT_EQ(dir.entries(), (std::vector<std::string>{"plain_file", "taken"}));
}

TEST(CheckpointFile, LoadErrorsSayWhatIsWrong) {
  TempDir dir;
  std::string e = error_of([&] { load_checkpoint(dir.file("nope.safetensors")); });
  EXPECT_CONTAINS(e, "nope.safetensors does not exist");

  const std::string plain = dir.file("plain.safetensors");
  io::save_safetensors(plain, {{"w", at::ones({2})}});
  e = error_of([&] { load_checkpoint(plain); });
  EXPECT_CONTAINS(e, plain);
  EXPECT_CONTAINS(e, "not a ptlab training checkpoint");

  const std::string newer = dir.file("newer.safetensors");
  io::save_safetensors(newer, {{"w", at::ones({2})}},
                       {{"format", "ptlab.checkpoint"}, {"schema_version", "99"}, {"ptlab", "{}"}});
  e = error_of([&] { load_checkpoint(newer); });
  EXPECT_CONTAINS(e, "newer ptlab (checkpoint schema 99, this build reads up to 1)");

  const std::string bad_schema = dir.file("bad_schema.safetensors");
  io::save_safetensors(bad_schema, {}, {{"format", "ptlab.checkpoint"}, {"schema_version", "1x"}, {"ptlab", "{}"}});
  EXPECT_CONTAINS(error_of([&] { load_checkpoint(bad_schema); }), "schema_version '1x' is not an integer");

  const std::string bad_json = dir.file("bad_json.safetensors");
  io::save_safetensors(bad_json, {}, {{"format", "ptlab.checkpoint"}, {"schema_version", "1"}, {"ptlab", "{step: "}});
  EXPECT_CONTAINS(error_of([&] { load_checkpoint(bad_json); }), "metadata is not valid JSON");

  const std::string garbage = dir.file("garbage.safetensors");
  std::ofstream(garbage) << "this is not a safetensors file at all";
  EXPECT_CONTAINS(error_of([&] { load_checkpoint(garbage); }), garbage);
  EXPECT_CONTAINS(error_of([&] { load_checkpoint(dir.path()); }), "not a regular file");
}

TEST(CpuRngState, RestoringTheStateRepeatsTheSameDraws) {
  at::manual_seed(123);
  const at::Tensor state = cpu_rng_state();
  EXPECT_EQ(state.scalar_type(), at::kByte);
  EXPECT_EQ(state.dim(), 1);
  const at::Tensor first = at::randn({16});
  const double u = at::rand({1}).item<double>();
  set_cpu_rng_state(state);
  EXPECT_TRUE(at::equal(at::randn({16}), first));
  EXPECT_EQ(at::rand({1}).item<double>(), u);

  EXPECT_CONTAINS(error_of([] { set_cpu_rng_state(at::zeros({10}, at::kFloat)); }), "1-D uint8 tensor, got Float");
  EXPECT_CONTAINS(error_of([] { set_cpu_rng_state(at::zeros({10}, at::kByte)); }), "cannot restore the CPU random");
  EXPECT_CONTAINS(error_of([] { set_cpu_rng_state(at::Tensor()); }), "undefined");
}

}  // namespace
}  // namespace ptlab::train
