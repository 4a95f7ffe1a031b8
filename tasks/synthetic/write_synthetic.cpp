#include "tasks/synthetic/write_synthetic.h"

#include "framework/core/error.h"
#include "framework/core/log.h"
#include "tasks/synthetic/atomic_file.h"
#include "tasks/synthetic/fnv1a.h"
#include "tasks/synthetic/labeled_tasks.h"
#include "tasks/synthetic/lexicon.h"
#include "tasks/synthetic/random.h"
#include "tasks/synthetic/sentence_generator.h"
#include "tasks/synthetic/tokenizer_files.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <string_view>
#include <unordered_set>

namespace ptlab::tasks::synthetic {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

int64_t count_words(const std::string& text) {
  if (text.empty()) return 0;
  return 1 + static_cast<int64_t>(std::count(text.begin(), text.end(), ' '));
}

void make_folder(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  PTLAB_CHECK(!ec, "cannot create the synthetic data folder '{}': {}", dir, ec.message());
  PTLAB_CHECK(fs::is_directory(dir, ec), "cannot create the synthetic data folder '{}': a file of that name exists",
              dir);
}

// Fails early, naming the folder, when files cannot be created in it.
void check_writable(const std::string& dir) {
  const std::string probe = dir + "/.ptlab_write_probe";
  std::FILE* f = std::fopen(probe.c_str(), "wb");
  PTLAB_CHECK(f != nullptr, "cannot write into the synthetic data folder '{}': {}", dir, std::strerror(errno));
  std::fclose(f);
  std::remove(probe.c_str());
}

FileRecord commit(AtomicFile& file, const std::string& relative, int64_t tokens) {
  file.commit();
  return FileRecord{relative, file.bytes(), tokens, file.hash()};
}

// Whether a corpus line states a held-out (dev/test) sentence: the whole line, or its first sentence before a
// summary ("... overall , it was great ."), a topic line's tail or a question.
bool states_held_out(std::string_view line, const std::unordered_set<uint64_t>& held) {
  if (held.count(fnv1a64(line))) return true;
  for (std::string_view marker : {" overall , it was ", " this is about ", " so , "}) {
    const auto at = line.find(marker);
    if (at != std::string_view::npos && held.count(fnv1a64(line.substr(0, at)))) return true;
  }
  return false;
}

// `held`: hashes of the labeled tasks' dev and test sentences. A corpus line that states one is drawn again, so
// a model pretrained on the corpus has never seen an evaluation sentence (with its verdict) before.
void write_corpus(const SyntheticConfig& config, const std::string& out_dir, Manifest& m,
                  const std::unordered_set<uint64_t>& held) {
  const Lexicon& lex = lexicon();
  SentenceGenerator gen(lex, derive_seed(config.seed, "corpus"));
  AtomicFile file(out_dir + "/corpus.txt");
  std::vector<WordId> ids;
  std::string buffer, line;
  buffer.reserve(1 << 21);
  int64_t tokens = 0;
  int64_t redrawn = 0;
  for (int64_t i = 0; i < config.corpus_sentences; ++i) {
    ids.clear();
    gen.corpus_line(config.corpus_mix, ids);
    line.clear();
    lex.render(ids.data(), ids.size(), line);
    if (states_held_out(line, held)) {
      PTLAB_CHECK(++redrawn < config.corpus_sentences + 100000,
                  "synthetic corpus: nearly every line repeats a dev/test sentence; use smaller dev/test splits");
      --i;
      continue;
    }
    tokens += static_cast<int64_t>(ids.size());
    buffer += line;
    buffer.push_back('\n');
    if (buffer.size() >= (1 << 20)) {
      file.write(buffer);
      buffer.clear();
    }
  }
  file.write(buffer);
  m.corpus_sentences = config.corpus_sentences;
  m.corpus_tokens = tokens;
  m.files.push_back(commit(file, "corpus.txt", tokens));
}

using Splits = std::array<std::vector<Example>, 3>;

Splits write_task(const SyntheticConfig& config, const TaskSpec& spec, const std::string& out_dir, Manifest& m,
                  std::unordered_set<uint64_t>& held) {
  make_folder(out_dir + "/" + spec.name);
  Splits splits = generate_task(lexicon(), spec.name, config.sizes(spec.name), config.seed);
  for (std::size_t s = 1; s < splits.size(); ++s)  // dev and test
    for (const Example& ex : splits[s]) {
      held.insert(fnv1a64(ex.text1));
      if (!ex.text2.empty()) held.insert(fnv1a64(ex.text2));
    }
  for (std::size_t s = 0; s < splits.size(); ++s) {
    const std::string relative = spec.name + "/" + std::string(kSplitNames[s]) + ".tsv";
    SplitRecord record{
        spec.name, std::string(kSplitNames[s]), relative, 0, 0, std::vector<int64_t>(spec.labels.size(), 0)};
    std::string text = spec.pair ? "sentence1\tsentence2\tlabel\n" : "sentence\tlabel\n";
    for (const Example& ex : splits[s]) {
      text += ex.text1;
      text += '\t';
      if (spec.pair) {
        text += ex.text2;
        text += '\t';
      }
      text += spec.labels[static_cast<std::size_t>(ex.label)];
      text += '\n';
      record.tokens += count_words(ex.text1) + count_words(ex.text2);
      ++record.label_counts[static_cast<std::size_t>(ex.label)];
    }
    record.examples = static_cast<int64_t>(splits[s].size());
    AtomicFile file(out_dir + "/" + relative);
    file.write(text);
    m.files.push_back(commit(file, relative, record.tokens));
    m.splits.push_back(std::move(record));
  }
  return splits;
}

// multitask/: sentiment2 and topic in one file per split (columns task, sentence, label), the rows of the
// two tasks alternating — the mixed-task data of configs/task/synthetic_multitask.yaml. Its label counts
// are by class of kMultitaskLabels.
void write_multitask(const std::map<std::string, Splits>& by_task, const std::string& out_dir, Manifest& m) {
  make_folder(out_dir + "/multitask");
  std::vector<std::string> labels;
  for (const char* task : kMultitaskTasks)
    for (const std::string& label : task_spec(task).labels) labels.push_back(label);
  for (std::size_t s = 0; s < kSplitNames.size(); ++s) {
    const std::string relative = "multitask/" + std::string(kSplitNames[s]) + ".tsv";
    SplitRecord record{"multitask", std::string(kSplitNames[s]), relative, 0, 0, std::vector<int64_t>(labels.size(), 0)};
    std::string text = "task\tsentence\tlabel\n";
    const auto& a = by_task.at(kMultitaskTasks[0])[s];
    const auto& b = by_task.at(kMultitaskTasks[1])[s];
    const std::size_t rows = std::max(a.size(), b.size());
    for (std::size_t i = 0; i < rows; ++i) {
      for (int t = 0; t < 2; ++t) {
        const auto& examples = t == 0 ? a : b;
        if (i >= examples.size()) continue;
        const std::string& label = task_spec(kMultitaskTasks[t]).labels[static_cast<std::size_t>(examples[i].label)];
        text += std::string(kMultitaskTasks[t]) + "\t" + examples[i].text1 + "\t" + label + "\n";
        record.tokens += count_words(examples[i].text1);
        ++record.label_counts[static_cast<std::size_t>(std::find(labels.begin(), labels.end(), label) - labels.begin())];
        ++record.examples;
      }
    }
    AtomicFile file(out_dir + "/" + relative);
    file.write(text);
    m.files.push_back(commit(file, relative, record.tokens));
    m.splits.push_back(std::move(record));
  }
}

void write_tokenizer(const std::string& out_dir, Manifest& m) {
  make_folder(out_dir + "/tokenizer");
  const std::pair<const char*, std::string> files[] = {
      {"tokenizer/tokenizer.json", tokenizer_json(lexicon())},
      {"tokenizer/tokenizer_config.json", tokenizer_config_json()},
      {"tokenizer/special_tokens_map.json", special_tokens_map_json()},
  };
  for (const auto& [relative, text] : files) {
    AtomicFile file(out_dir + "/" + relative);
    file.write(text);
    m.files.push_back(commit(file, relative, 0));
  }
  m.vocab_size = static_cast<int64_t>(vocabulary(lexicon()).size());
}

}  // namespace

int64_t WriteReport::total_tokens() const {
  int64_t total = 0;
  for (const auto& f : manifest.files) total += f.tokens;
  return total;
}

WriteReport write_synthetic(const SyntheticConfig& config, const std::string& out_dir) {
  validate(config);
  PTLAB_CHECK(!out_dir.empty(), "synthetic data: the output folder name is empty");
  const auto start = Clock::now();
  make_folder(out_dir);
  check_writable(out_dir);
  // Invalidate first: from here until the new manifest is in place, the folder is incomplete.
  const std::string manifest_path = out_dir + "/" + std::string(kManifestFile);
  std::error_code ec;
  fs::remove(manifest_path, ec);
  PTLAB_CHECK(!ec, "cannot remove the old '{}': {}", manifest_path, ec.message());

  WriteReport report;
  Manifest& m = report.manifest;
  m.config = config;
  // The tasks first: the corpus leaves out their dev and test sentences.
  std::unordered_set<uint64_t> held;
  std::map<std::string, Splits> by_task;
  for (const auto& spec : task_specs()) by_task[spec.name] = write_task(config, spec, out_dir, m, held);
  write_multitask(by_task, out_dir, m);
  const auto corpus_start = Clock::now();
  write_corpus(config, out_dir, m, held);
  report.corpus_seconds = seconds_since(corpus_start);
  write_tokenizer(out_dir, m);
  write_file_atomically(manifest_path, manifest_json(m));
  report.total_seconds = seconds_since(start);
  return report;
}

bool ensure_synthetic(const SyntheticConfig& config, const std::string& out_dir) {
  validate(config);
  const std::string reason = incomplete_reason(out_dir, config);
  if (reason.empty()) return false;
  log_info("synthetic data in {}: {}; generating it", out_dir, reason);
  write_synthetic(config, out_dir);
  return true;
}

}  // namespace ptlab::tasks::synthetic
