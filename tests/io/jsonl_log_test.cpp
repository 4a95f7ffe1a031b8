#include "framework/io/jsonl_log.h"

#include "framework/core/error.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

namespace ptlab::io {
namespace {

namespace fs = std::filesystem;

class JsonlLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ptlab_jsonl_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  static std::string read(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  static std::vector<std::string> lines(const std::string& p) {
    std::vector<std::string> out;
    std::istringstream in(read(p));
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }

  fs::path dir_;
};

TEST_F(JsonlLogTest, WritesOneFlushedObjectPerLineWithSplitPrefixedKeys) {
  std::string p = path("metrics.jsonl");
  JsonlLog log(p, /*append=*/false);
  EXPECT_TRUE(log.write(1200, 1724061234.5, "train", {{"loss", 0.413}, {"lr", 0.0003}}));
  // Flushed per line: readable while the writer is still open.
  EXPECT_EQ(read(p),
            "{\"step\":1200,\"wall_time\":1724061234.5,\"split\":\"train\",\"train/loss\":0.413,"
            "\"train/lr\":0.0003}\n");
  EXPECT_TRUE(log.write(1200, 1724061240.0, "eval", {{"accuracy", 0.9}}));
  auto l = lines(p);
  ASSERT_EQ(l.size(), 2u);
  auto event = nlohmann::json::parse(l[1]);
  EXPECT_EQ(event["split"], "eval");
  EXPECT_EQ(event["step"], 1200);
  EXPECT_DOUBLE_EQ(event["eval/accuracy"].get<double>(), 0.9);
}

TEST_F(JsonlLogTest, NonFiniteValuesAreWrittenAsNull) {
  std::string p = path("m.jsonl");
  JsonlLog log(p, false);
  log.write(
      1, 0.0, "train",
      {{"nan", std::nan("")}, {"inf", std::numeric_limits<double>::infinity()}, {"ninf", -HUGE_VAL}, {"ok", 1.5}});
  auto event = nlohmann::json::parse(lines(p).at(0));  // parses: no bare NaN/Infinity tokens
  EXPECT_TRUE(event["train/nan"].is_null());
  EXPECT_TRUE(event["train/inf"].is_null());
  EXPECT_TRUE(event["train/ninf"].is_null());
  EXPECT_EQ(event["train/ok"], 1.5);
}

TEST_F(JsonlLogTest, TruncatesWithoutAppend) {
  std::string p = path("m.jsonl");
  { JsonlLog(p, false).write(1, 0.0, "train", {{"loss", 1.0}}); }
  { JsonlLog(p, false).write(2, 0.0, "train", {{"loss", 2.0}}); }
  auto l = lines(p);
  ASSERT_EQ(l.size(), 1u);
  EXPECT_EQ(nlohmann::json::parse(l[0])["step"], 2);
}

TEST_F(JsonlLogTest, AppendKeepsLinesDropsRerunStepsPerSplitAndEndsATornLine) {
  std::string p = path("m.jsonl");
  {
    JsonlLog log(p, false);
    for (int64_t s = 1; s <= 5; ++s) log.write(s, 0.0, "train", {{"loss", 1.0}});
    log.write(4, 0.0, "eval", {{"accuracy", 0.5}});
  }
  { std::ofstream(p, std::ios::app) << "{\"step\":6,\"wall_"; }  // a writer killed mid-line
  JsonlLog log(p, /*append=*/true);
  EXPECT_FALSE(log.write(5, 0.0, "train", {{"loss", 9.0}})) << "step 5 of train is already in the file";
  EXPECT_TRUE(log.write(6, 0.0, "train", {{"loss", 6.0}}));
  EXPECT_TRUE(log.write(5, 0.0, "eval", {{"accuracy", 0.6}})) << "eval only reached step 4";
  EXPECT_FALSE(log.write(4, 0.0, "eval", {{"accuracy", 0.6}}));
  EXPECT_TRUE(log.write(1, 0.0, "sys", {{"mem", 1.0}})) << "a split not in the file is not filtered";
  auto l = lines(p);
  ASSERT_EQ(l.size(), 10u);
  EXPECT_EQ(l[6], "{\"step\":6,\"wall_") << "the torn line stays, ended by a newline";
  EXPECT_EQ(nlohmann::json::parse(l[7])["train/loss"], 6.0);
  EXPECT_EQ(nlohmann::json::parse(l[8])["eval/accuracy"], 0.6);
  EXPECT_EQ(nlohmann::json::parse(l[9])["split"], "sys");
}

TEST_F(JsonlLogTest, AppendToAMissingFileCreatesIt) {
  std::string p = path("new.jsonl");
  JsonlLog log(p, true);
  EXPECT_TRUE(log.write(0, 0.0, "train", {}));
  EXPECT_EQ(read(p), "{\"step\":0,\"wall_time\":0.0,\"split\":\"train\"}\n");
}

TEST_F(JsonlLogTest, UnopenablePathIsAnErrorNamingIt) {
  std::string p = path("missing_dir/m.jsonl");
  try {
    JsonlLog log(p, false);
    ADD_FAILURE() << "expected an Error";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find(p), std::string::npos) << m;
    EXPECT_NE(m.find("No such file or directory"), std::string::npos) << m;
  }
}

TEST_F(JsonlLogTest, SummaryJsonIsWrittenAtomicallyAndReplaced) {
  std::string p = path("summary.json");
  nlohmann::json s = {{"run_id", "sw/0"},
                      {"status", "completed"},
                      {"best", {{"eval/accuracy", 0.912}, {"step", 4000}}},
                      {"final", {{"train/loss", std::nan("")}}}};
  write_summary_json(p, s);
  auto back = nlohmann::json::parse(read(p));
  EXPECT_EQ(back["run_id"], "sw/0");
  EXPECT_EQ(back["best"]["step"], 4000);
  EXPECT_TRUE(back["final"]["train/loss"].is_null());
  s["status"] = "failed";
  write_summary_json(p, s);
  EXPECT_EQ(nlohmann::json::parse(read(p))["status"], "failed");
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir_)) names.push_back(entry.path().filename().string());
  EXPECT_EQ(names, std::vector<std::string>{"summary.json"}) << "no temporary file is left behind";
}

TEST_F(JsonlLogTest, SummaryJsonInAMissingDirectoryIsAnErrorNamingThePath) {
  std::string p = path("nope/summary.json");
  try {
    write_summary_json(p, {{"a", 1}});
    ADD_FAILURE() << "expected an Error";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find(p), std::string::npos) << m;
    EXPECT_NE(m.find("No such file or directory"), std::string::npos) << m;
  }
}

TEST_F(JsonlLogTest, ToJsonKeepsTheTypesOfHParams) {
  auto j = to_json({{"lr", 3e-4}, {"len", int64_t{20}}, {"name", std::string("pt")}, {"flag", true}});
  EXPECT_TRUE(j["lr"].is_number_float());
  EXPECT_TRUE(j["len"].is_number_integer());
  EXPECT_EQ(j["len"], 20);
  EXPECT_EQ(j["name"], "pt");
  EXPECT_TRUE(j["flag"].is_boolean());
  EXPECT_EQ(j["flag"], true);
  EXPECT_TRUE(to_json({}).is_object());
}

}  // namespace
}  // namespace ptlab::io
