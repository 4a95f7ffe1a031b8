#include "tasks/synthetic/manifest.h"

#include "tasks/synthetic/atomic_file.h"
#include "tasks/synthetic/labeled_tasks.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <unistd.h>
#include <filesystem>
#include <fstream>

namespace ptlab::tasks::synthetic {
namespace {

namespace fs = std::filesystem;

// A folder with two small files and a manifest that lists them.
struct Folder {
  Folder() {
    path = (fs::temp_directory_path() / ("ptlab_manifest_" + std::to_string(::getpid()))).string();
    fs::remove_all(path);
    fs::create_directories(path + "/topic");
    manifest.config.corpus_sentences = 3;
    manifest.vocab_size = 42;
    manifest.corpus_sentences = 3;
    manifest.corpus_tokens = 15;
    add("corpus.txt", "the soup was tasty .\nthe pie was bad .\nwe ate the cake .\n", 15);
    add("topic/train.tsv", "sentence\tlabel\nthe soup was tasty .\tfood\n", 5);
    manifest.splits.push_back(SplitRecord{"topic", "train", "topic/train.tsv", 1, 5, {1, 0, 0, 0, 0}});
    write_manifest();
  }
  ~Folder() { fs::remove_all(path); }

  void add(const std::string& relative, const std::string& text, int64_t tokens) {
    const std::string hash = write_file_atomically(path + "/" + relative, text);
    manifest.files.push_back(FileRecord{relative, text.size(), tokens, hash});
  }
  void write_manifest() { write_file_atomically(path + "/manifest.json", manifest_json(manifest)); }
  nlohmann::json read_manifest() const {
    std::ifstream in(path + "/manifest.json");
    return nlohmann::json::parse(in);
  }

  std::string path;
  Manifest manifest;
};

}  // namespace

TEST(Manifest, LayoutHoldsVersionConfigLabelsCountsAndHashes) {
  Folder f;
  auto j = f.read_manifest();
  EXPECT_EQ(j["format"], "ptlab-synthetic");
  EXPECT_EQ(j["generator_version"], kGeneratorVersion);
  EXPECT_EQ(j["schema_version"], kManifestSchemaVersion);
  EXPECT_EQ(j["config"], to_json(f.manifest.config));
  EXPECT_EQ(j["vocab_size"], 42);
  EXPECT_EQ(j["corpus"]["tokens"], 15);
  EXPECT_EQ(j["tasks"]["topic"]["labels"][0], "food");
  EXPECT_EQ(j["tasks"]["topic"]["verbalizer"]["sport"], "sport");
  EXPECT_EQ(j["tasks"]["entailment"]["columns"], (nlohmann::json{"sentence1", "sentence2", "label"}));
  EXPECT_EQ(j["tasks"]["sentiment5"]["verbalizer"]["very_positive"], "great");
  EXPECT_EQ(j["tasks"]["topic"]["splits"]["train"]["label_counts"]["food"], 1);
  EXPECT_EQ(j["tasks"]["topic"]["splits"]["train"]["file"], "topic/train.tsv");
  ASSERT_EQ(j["files"].size(), 2u);
  EXPECT_EQ(j["files"][0]["path"], "corpus.txt");
  EXPECT_EQ(j["files"][0]["fnv1a64"].get<std::string>().size(), 16u);
  EXPECT_EQ(j["files"][1]["bytes"], f.manifest.files[1].bytes);
  // Same manifest, same bytes (no timings in it).
  EXPECT_EQ(manifest_json(f.manifest), manifest_json(f.manifest));
}

TEST(Manifest, CompleteWhenEverythingMatches) {
  Folder f;
  EXPECT_EQ(incomplete_reason(f.path, f.manifest.config), "");
  EXPECT_TRUE(is_complete(f.path, f.manifest.config));
}

TEST(Manifest, MissingManifestMeansIncomplete) {
  Folder f;
  fs::remove(f.path + "/manifest.json");
  EXPECT_NE(incomplete_reason(f.path, f.manifest.config).find("no manifest.json"), std::string::npos);
  EXPECT_FALSE(is_complete(f.path + "/nonexistent", f.manifest.config));
}

TEST(Manifest, DifferentConfigNamesTheKey) {
  Folder f;
  SyntheticConfig other = f.manifest.config;
  other.topic.dev = 9;
  const std::string reason = incomplete_reason(f.path, other);
  EXPECT_NE(reason.find("different config"), std::string::npos) << reason;
  EXPECT_NE(reason.find("tasks/topic/dev"), std::string::npos) << reason;
  other = f.manifest.config;
  other.seed = 99;
  EXPECT_NE(incomplete_reason(f.path, other).find("seed"), std::string::npos);
}

TEST(Manifest, ChangedTruncatedOrMissingFilesMeanIncomplete) {
  {
    Folder f;
    std::ofstream(f.path + "/corpus.txt", std::ios::app) << "x";
    EXPECT_EQ(incomplete_reason(f.path, f.manifest.config), "corpus.txt was changed");
  }
  {
    Folder f;  // same size, different bytes
    std::ofstream(f.path + "/topic/train.tsv") << "sentence\tlabel\nthe soup was tasty .\tfilm\n";
    EXPECT_EQ(incomplete_reason(f.path, f.manifest.config), "topic/train.tsv was changed");
  }
  {
    Folder f;
    fs::remove(f.path + "/topic/train.tsv");
    EXPECT_EQ(incomplete_reason(f.path, f.manifest.config), "topic/train.tsv is missing");
  }
}

TEST(Manifest, OtherGeneratorVersionOrBrokenManifestMeansIncomplete) {
  Folder f;
  auto j = f.read_manifest();
  j["generator_version"] = kGeneratorVersion + 1;
  write_file_atomically(f.path + "/manifest.json", j.dump());
  EXPECT_NE(incomplete_reason(f.path, f.manifest.config).find("generator version"), std::string::npos);
  write_file_atomically(f.path + "/manifest.json", "{\"format\": \"ptlab-synth");
  EXPECT_NE(incomplete_reason(f.path, f.manifest.config).find("not valid JSON"), std::string::npos);
  write_file_atomically(f.path + "/manifest.json", "{\"format\": \"ptlab-synthetic\", \"generator_version\": \"x\"}");
  EXPECT_FALSE(incomplete_reason(f.path, f.manifest.config).empty());
  write_file_atomically(f.path + "/manifest.json", "[1, 2]");
  EXPECT_FALSE(incomplete_reason(f.path, f.manifest.config).empty());
}

}  // namespace ptlab::tasks::synthetic
