// `ptlab train method=ppt` end to end on stories260K + SST-2 (64 rows) with a few steps on a tiny corpus
// (tests/fixtures/ppt/corpus.txt): the data stage's JSONL, the pre-training in its cache directory, the
// transfer, the cache reused by a second trial (no second pre-training), stop_after, the documented
// `method=prompt_tuning method.init=file` transfer on the output, the cls labeler's predictions against
// `ptlab eval` of the same classifier, and the bad inputs as one line each.
#include "tests/launchers/train_support.h"

#include <gmock/gmock.h>

#include <set>

namespace ptlab::launchers {
namespace {

using namespace ptlab::launchers::testing;
using models::testing::TempDir;

std::string corpus_fixture() { return std::string(PTLAB_SOURCE_DIR) + "/tests/fixtures/ppt/corpus.txt"; }

// A small PPT trial: nsp on the fixture corpus, 3 pre-training and 3 transfer steps.
std::string ppt_args(const TempDir& dir, const std::string& run, const std::string& extra = "") {
  return fmt_args({"--config-dir", std::string(PTLAB_SOURCE_DIR) + "/configs", "paths.shared=" + std::string(PTLAB_SHARED_DIR),
                   "paths.outputs=" + dir.sub("outputs"), "model=stories260K", "task=sst2", "task.data.limit=64",
                   "method=ppt", "method.corpus=" + corpus_fixture(), "method.length=4", "method.train_examples=24",
                   "method.dev_examples=6", "method.pretrain_trainer.max_steps=3", "method.pretrain_trainer.batch_size=4",
                   "trainer.max_steps=3", "trainer.batch_size=4", "trainer.eval_batch_size=16", "runtime.threads=1",
                   "run.dir=" + run, extra});
}

std::vector<nlohmann::json> read_jsonl(const std::string& path) {
  std::vector<nlohmann::json> rows;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) rows.push_back(nlohmann::json::parse(line));
  return rows;
}

TEST(PptCommand, PretrainsOnceTransfersAndReusesTheCacheOnTheNextTrial) {
  REQUIRE_SHARED();
  TempDir dir;
  const std::string run0 = dir.sub("run0"), run1 = dir.sub("run1");
  Result r = ptlab("train " + ppt_args(dir, run0), dir);
  ASSERT_EQ(r.code, 0) << r.err;
  const auto pipeline = read_json(run0 + "/pipeline.json");
  ASSERT_EQ(pipeline["stages"].size(), 2u) << pipeline.dump();
  EXPECT_EQ(pipeline["stages"][0]["name"], "pretrain");
  EXPECT_EQ(pipeline["stages"][0]["reused"], false);
  EXPECT_EQ(pipeline["stages"][1]["name"], "final");
  const std::string cache = (fs::path(run0) / pipeline["stages"][0]["dir"].get<std::string>()).lexically_normal().string();
  EXPECT_EQ(fs::path(cache).parent_path().filename(), "ppt_pretrain");
  EXPECT_EQ(fs::path(cache).filename().string().rfind("nsp-", 0), 0u) << cache;
  // The data stage: 24 + 6 examples with their provenance, the pre-training a complete trial on them.
  const auto train = read_jsonl(cache + "/data/train.jsonl");
  EXPECT_EQ(train.size(), 24u);
  EXPECT_EQ(read_jsonl(cache + "/data/dev.jsonl").size(), 6u);
  for (const auto& row : train) {
    EXPECT_TRUE(row["label"] == "next" || row["label"] == "same_document" || row["label"] == "other_document");
    EXPECT_EQ(row["positions"].size(), 1u);
  }
  EXPECT_EQ(read_json(cache + "/summary.json")["status"], "completed");
  EXPECT_EQ(read_json(cache + "/summary.json")["steps"], 3);
  EXPECT_TRUE(fs::exists(cache + "/key.yaml"));
  // The transfer: prompt tuning from the pre-trained prompt, in the run directory.
  const std::string config = [&] {
    std::ifstream in(run0 + "/config.yaml");
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }();
  EXPECT_THAT(config, ::testing::HasSubstr("init: file"));
  EXPECT_THAT(config, ::testing::HasSubstr(fs::absolute(cache + "/prompt.safetensors").string()));
  EXPECT_EQ(read_json(run0 + "/summary.json")["status"], "completed");
  EXPECT_EQ(read_json(run0 + "/summary.json")["steps"], 3);
  // The run's metrics.h5 links the shared pre-training's log (a relative external link into the cache).
  const int64_t pretrain_evals = series_length(cache + "/metrics.h5", "/metrics/eval/accuracy/value");
  ASSERT_GT(pretrain_evals, 0);
  EXPECT_EQ(series_length(run0 + "/metrics.h5", "/stages/pretrain/metrics/eval/accuracy/value"), pretrain_evals);

  // A second trial (another downstream seed): the pre-training is reused, not run again.
  const auto metrics_time = fs::last_write_time(cache + "/metrics.h5");
  const at::Tensor pretrained = prompt_of(cache);
  Result second = ptlab("train " + ppt_args(dir, run1, "runtime.seed=1"), dir);
  ASSERT_EQ(second.code, 0) << second.err;
  EXPECT_THAT(second.err, ::testing::HasSubstr("stage pretrain is complete"));
  const auto pipeline1 = read_json(run1 + "/pipeline.json");
  EXPECT_EQ(pipeline1["stages"][0]["reused"], true);
  EXPECT_EQ(fs::last_write_time(cache + "/metrics.h5"), metrics_time);
  EXPECT_TRUE(prompt_of(cache).equal(pretrained));
  std::size_t caches = 0;
  for (const auto& entry : fs::directory_iterator(dir.sub("outputs/ppt_pretrain"))) caches += entry.is_directory();
  EXPECT_EQ(caches, 1u);

  // The documented transfer by hand: prompt tuning with the file init starts from the pre-trained prompt
  // (lr 1e-30: the steps change no float32 value) and trains.
  const std::string by_hand = dir.sub("by_hand");
  Result t = ptlab("train " + base_args(by_hand) + " method.init=file method.init_file=" + cache +
                       "/prompt.safetensors trainer.max_steps=2 trainer.optimizer.lr=1e-30",
                   dir);
  ASSERT_EQ(t.code, 0) << t.err;
  EXPECT_TRUE(prompt_of(by_hand).equal(pretrained));
}

TEST(PptCommand, ASweepOverSeedsPretrainsOnce) {
  REQUIRE_SHARED();
  TempDir dir;
  const std::string sweep = dir.sub("sweep");
  std::string args = ppt_args(dir, "");
  args = args.substr(0, args.find(" run.dir="));  // the sweep names the trials' directories
  Result r = ptlab("sweep -m --dir " + sweep + " " + args + " runtime.seed=0,1", dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.err, ::testing::HasSubstr("2 done, 0 failed"));
  int pipelines = 0, reused = 0;
  for (const auto& entry : fs::recursive_directory_iterator(sweep)) {
    if (entry.path().filename() != "pipeline.json") continue;
    ++pipelines;
    reused += read_json(entry.path().string())["stages"][0]["reused"].get<bool>();
  }
  EXPECT_EQ(pipelines, 2);
  EXPECT_EQ(reused, 1) << "the second trial reuses the first's pre-training";
  std::size_t caches = 0;
  for (const auto& entry : fs::directory_iterator(dir.sub("outputs/ppt_pretrain"))) caches += entry.is_directory();
  EXPECT_EQ(caches, 1u);
}

TEST(PptCommand, StopAfterPretrainAndAGivenPretrainedPrompt) {
  REQUIRE_SHARED();
  TempDir dir;
  Result r = ptlab("train " + ppt_args(dir, dir.sub("unused"), "method.stop_after=pretrain method.format=nss method.options=3"), dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_FALSE(fs::exists(dir.sub("unused/summary.json")));
  std::string cache;
  for (const auto& entry : fs::directory_iterator(dir.sub("outputs/ppt_pretrain"))) cache = entry.path().string();
  ASSERT_EQ(fs::path(cache).filename().string().rfind("nss-", 0), 0u) << cache;
  for (const auto& row : read_jsonl(cache + "/data/train.jsonl")) EXPECT_EQ(row["positions"].size(), 3u);
  EXPECT_THAT(r.err, ::testing::HasSubstr("method.init_file=" + cache + "/prompt.safetensors"));
  // method.pretrained: no pre-training at all, the transfer from the given prompt.
  const std::string run = dir.sub("given");
  Result g = ptlab("train " + ppt_args(dir, run, "method.pretrained=" + cache + " method.corpus=null"), dir);
  ASSERT_EQ(g.code, 0) << g.err;
  EXPECT_EQ(read_json(run + "/pipeline.json")["stages"].size(), 1u);
}

TEST(PptCommand, UnifiedPretrainsMultipleChoiceAndTransfersWithTheTasksUnifiedTemplate) {
  REQUIRE_SHARED();
  TempDir dir;
  const std::string run = dir.sub("run");
  Result r = ptlab("train " + ppt_args(dir, run, "method.format=unified method.min_options=2 method.max_options=3"), dir);
  ASSERT_EQ(r.code, 0) << r.err;
  const auto pipeline = read_json(run + "/pipeline.json");
  const std::string cache = (fs::path(run) / pipeline["stages"][0]["dir"].get<std::string>()).lexically_normal().string();
  std::set<std::string> tasks;
  for (const auto& row : read_jsonl(cache + "/data/train.jsonl")) {
    tasks.insert(row["task"].get<std::string>());
    EXPECT_EQ(row["task"], "options" + std::to_string(row["positions"].size()));
  }
  EXPECT_EQ(tasks, (std::set<std::string>{"options2", "options3"}));
  std::ifstream in(run + "/config.yaml");
  const std::string config((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_THAT(config, ::testing::HasSubstr("template_name: unified"));
  EXPECT_THAT(config, ::testing::HasSubstr("verbalizer_name: unified"));
}

TEST(PptCommand, ClsLabelsTheCorpusWithTheClassifiersOwnPredictions) {
  REQUIRE_SHARED();
  TempDir dir;
  // A classifier: a few steps of prompt tuning on SST-2.
  const std::string labeler = dir.sub("labeler");
  Result l = ptlab("train " + base_args(labeler) + " trainer.max_steps=6 trainer.optimizer.lr=0.3", dir);
  ASSERT_EQ(l.code, 0) << l.err;
  // The corpus: SST-2's first 64 dev sentences, one per line; their gold labels on the side.
  const std::string corpus = dir.sub("dev_sentences.txt");
  std::vector<std::string> gold;
  {
    std::ifstream in(shared("data/sst2/dev.tsv"));
    std::ofstream out(corpus);
    std::string line;
    std::getline(in, line);  // header
    while (gold.size() < 64 && std::getline(in, line)) {
      const auto tab = line.rfind('\t');
      out << line.substr(0, tab) << "\n";
      gold.push_back(line.substr(tab + 1) == "1" ? "positive" : "negative");
    }
  }
  Result r = ptlab("train " + ppt_args(dir, dir.sub("unused"), "method.stop_after=pretrain method.format=cls method.labeler=" +
                                                                   labeler + " method.corpus=" + corpus),
                   dir);
  std::string cache;
  for (const auto& entry : fs::directory_iterator(dir.sub("outputs/ppt_pretrain"))) cache = entry.path().string();
  const auto labels = read_jsonl(cache + "/data/labels.jsonl");
  ASSERT_EQ(labels.size(), gold.size()) << r.err;
  // The labeler's predictions score exactly the accuracy `ptlab eval` gives the same classifier on those rows.
  int correct = 0;
  for (std::size_t i = 0; i < gold.size(); ++i) {
    EXPECT_GE(labels[i]["probability"].get<double>(), 0.5);
    correct += labels[i]["label"] == gold[i];
  }
  Result e = ptlab("eval " + base_args(dir.sub("eval")) + " --split dev --from " + labeler, dir);
  ASSERT_EQ(e.code, 0) << e.err;
  EXPECT_NE(e.out.find(fmt_args({"accuracy", fmt_fixed(correct / 64.0)})), std::string::npos)
      << e.out << " labels.jsonl accuracy " << correct / 64.0;
  if (r.code == 0) {
    // Two classes among the predictions: the pseudo-labelled examples are the labeler's labels.
    std::map<std::string, std::string> label_of;
    for (const auto& row : labels) label_of[row["text"]] = row["label"];
    for (const auto& row : read_jsonl(cache + "/data/train.jsonl")) EXPECT_EQ(label_of[row["text_a"]], row["label"]);
  } else {
    // A labeler that says one class for everything is one clear error.
    expect_one_line_error(r, "needs >= 2 classes");
  }
}

TEST(PptCommand, BadInputsAreOneLineErrors) {
  REQUIRE_SHARED();
  TempDir dir;
  const std::string run = dir.sub("run");
  expect_one_line_error(ptlab("train " + ppt_args(dir, run, "method.format=nps"), dir),
                        "method.format: unknown PPT format 'nps'");
  const std::string empty = dir.sub("empty.txt");
  std::ofstream(empty) << "\n\n";
  expect_one_line_error(ptlab("train " + ppt_args(dir, run, "method.corpus=" + empty), dir),
                        "method.corpus: the corpus " + empty + " is empty");
  expect_one_line_error(ptlab("train " + ppt_args(dir, run, "method.corpus=" + dir.sub("missing.txt")), dir),
                        "does not exist");
  const std::string one_doc = dir.sub("one.txt");
  std::ofstream(one_doc) << "a .\nb .\nc .\n";
  expect_one_line_error(ptlab("train " + ppt_args(dir, run, "method.corpus=" + one_doc), dir),
                        "format nsp needs >= 2 documents");
  expect_one_line_error(ptlab("train " + ppt_args(dir, run, "method.format=nss method.options=1"), dir),
                        "method.options: next-sentence selection needs 2..26 options");
  expect_one_line_error(
      ptlab("train " + ppt_args(dir, run, "method.format=nss method.options=26"), dir),
      "method.options: 26 options need >= 27 sentences");
  expect_one_line_error(ptlab("train " + ppt_args(dir, run, "method.format=cls method.labeler=" + dir.sub("nothing")), dir),
                        "is not a ptlab run directory (no config.yaml)");
  expect_one_line_error(ptlab("train " + ppt_args(dir, run, "method.format=cls"), dir),
                        "method.labeler: format cls labels the corpus with a trained classifier");
  expect_one_line_error(ptlab("train " + ppt_args(dir, run, "method.format=unified task=trec"), dir),
                        "has no task.templates.unified");
}

}  // namespace
}  // namespace ptlab::launchers
