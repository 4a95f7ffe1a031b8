// write_synthetic(): generates the whole synthetic dataset into a folder — the project's embedded default
// data, made on the spot with nothing downloaded:
//
//   OUT/corpus.txt                    unlabeled pretraining corpus, one line per sentence (see CorpusMix)
//   OUT/<task>/{train,dev,test}.tsv   sentiment2, sentiment5, topic: header "sentence<TAB>label";
//                                     entailment: "sentence1<TAB>sentence2<TAB>label" (labeled_tasks.h)
//   OUT/tokenizer/                    tokenizer.json, tokenizer_config.json, special_tokens_map.json
//   OUT/manifest.json                 written last (manifest.h)
//
// The same config gives byte-identical files on every machine. Each file is written under a temporary
// name and renamed; the old manifest is removed before anything else is written, so an interrupted run
// leaves a folder that is_complete() rejects. Generation runs on one core at several million words/s.
#pragma once

#include "tasks/synthetic/manifest.h"
#include "tasks/synthetic/synthetic_config.h"

#include <string>

namespace ptlab::tasks::synthetic {

struct WriteReport {
  Manifest manifest;          // what was written (files with sizes, tokens and hashes)
  double corpus_seconds = 0;  // generating and writing corpus.txt
  double total_seconds = 0;
  double corpus_tokens_per_second() const {
    return corpus_seconds > 0 ? static_cast<double>(manifest.corpus_tokens) / corpus_seconds : 0.0;
  }
  int64_t total_tokens() const;
};

/// Generates everything above into `out_dir` (created when missing). A bad config is an Error naming the
/// key; a folder that cannot be created or written is an Error naming it and the system's reason.
WriteReport write_synthetic(const SyntheticConfig& config, const std::string& out_dir);

/// write_synthetic() unless is_complete(out_dir, config) already; returns true when it wrote.
bool ensure_synthetic(const SyntheticConfig& config, const std::string& out_dir);

}  // namespace ptlab::tasks::synthetic
