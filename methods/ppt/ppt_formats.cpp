#include "methods/ppt/ppt_formats.h"

#include "framework/core/error.h"
#include "framework/core/suggest.h"
#include "framework/data/rng.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

namespace ptlab::methods::ppt {
namespace fs = std::filesystem;

namespace {

constexpr Format kFormats[] = {Format::kNsp, Format::kNss, Format::kCls, Format::kUnified};

std::string trim(const std::string& s) {
  const char* ws = " \t\r\n\f\v";
  const auto b = s.find_first_not_of(ws);
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}

const std::string& sentence(const Corpus& c, const Position& p) {
  return c.documents[static_cast<std::size_t>(p.first)][static_cast<std::size_t>(p.second)];
}

int64_t doc_size(const Corpus& c, int64_t d) { return static_cast<int64_t>(c.documents[static_cast<std::size_t>(d)].size()); }

// Sentences of every document but `doc`, drawn uniformly (by global index, skipping doc's block).
Position other_document_sentence(const Corpus& c, int64_t doc, data::Rng& rng,
                                 const std::vector<int64_t>& doc_start) {
  const int64_t total = c.num_sentences() - doc_size(c, doc);
  PTLAB_ASSERT(total > 0, "no sentence outside document {}", doc);
  int64_t k = static_cast<int64_t>(rng.below(static_cast<uint64_t>(total)));
  if (k >= doc_start[static_cast<std::size_t>(doc)]) k += doc_size(c, doc);  // skip the anchor's document
  const auto it = std::upper_bound(doc_start.begin(), doc_start.end(), k);
  const int64_t d = static_cast<int64_t>(it - doc_start.begin()) - 1;
  return {d, k - doc_start[static_cast<std::size_t>(d)]};
}

std::vector<int64_t> document_starts(const Corpus& c) {
  std::vector<int64_t> starts;
  int64_t at = 0;
  for (const auto& d : c.documents) {
    starts.push_back(at);
    at += static_cast<int64_t>(d.size());
  }
  return starts;
}

// Anchors (d, i) with a next sentence (i + 1 < |d|).
std::vector<Position> next_anchors(const Corpus& c) {
  std::vector<Position> out;
  for (int64_t d = 0; d < static_cast<int64_t>(c.documents.size()); ++d)
    for (int64_t i = 0; i + 1 < doc_size(c, d); ++i) out.emplace_back(d, i);
  return out;
}

template <class T>
const T& pick(const std::vector<T>& items, data::Rng& rng) {
  return items[static_cast<std::size_t>(rng.below(items.size()))];
}

}  // namespace

const char* format_name(Format format) {
  switch (format) {
    case Format::kNsp: return "nsp";
    case Format::kNss: return "nss";
    case Format::kCls: return "cls";
    case Format::kUnified: return "unified";
  }
  PTLAB_ASSERT(false, "unknown PPT format {}", static_cast<int>(format));
}

std::vector<std::string> format_names() {
  std::vector<std::string> out;
  for (Format f : kFormats) out.emplace_back(format_name(f));
  return out;
}

Format parse_format(const std::string& name, const std::string& where) {
  for (Format f : kFormats)
    if (name == format_name(f)) return f;
  PTLAB_FAIL("{}: unknown PPT format '{}'{}; known: {}", where, name, did_you_mean(name, format_names()),
             join_names(format_names()));
}

int64_t Corpus::num_sentences() const {
  int64_t n = 0;
  for (const auto& d : documents) n += static_cast<int64_t>(d.size());
  return n;
}

Corpus read_corpus(const std::string& path, int64_t block_sentences, int64_t limit, const std::string& where) {
  PTLAB_CHECK(block_sentences >= 1, "{}: block_sentences must be >= 1 (sentences per pseudo-document), got {}",
              where, block_sentences);
  PTLAB_CHECK(!path.empty(), "{}: no corpus file given (a text file, one sentence per line)", where);
  PTLAB_CHECK(fs::is_regular_file(path), "{}: corpus file {} does not exist (a text file, one sentence per line)",
              where, path);
  std::ifstream in(path, std::ios::binary);
  PTLAB_CHECK(in.good(), "{}: cannot read the corpus file {}", where, path);
  Corpus corpus;
  corpus.path = path;
  std::vector<std::vector<std::string>> blocks(1);
  bool blank_separated = false;
  int64_t count = 0;
  std::string line;
  while (std::getline(in, line)) {
    if (limit > 0 && count >= limit) break;
    const std::string s = trim(line);
    if (s.empty()) {
      if (!blocks.back().empty()) {
        blocks.emplace_back();
        blank_separated = true;
      }
      continue;
    }
    blocks.back().push_back(s);
    ++count;
  }
  if (blocks.back().empty()) blocks.pop_back();
  // A trailing blank line after the only block does not make documents.
  if (blocks.size() <= 1) blank_separated = false;
  PTLAB_CHECK(count > 0, "{}: the corpus {} is empty (no non-blank line); give a text file with one sentence per line",
              where, path);
  if (blank_separated) {
    corpus.documents = std::move(blocks);
  } else {
    corpus.pseudo_documents = true;
    const auto& all = blocks.front();
    for (std::size_t i = 0; i < all.size(); i += static_cast<std::size_t>(block_sentences)) {
      const std::size_t end = std::min(all.size(), i + static_cast<std::size_t>(block_sentences));
      corpus.documents.emplace_back(all.begin() + static_cast<std::ptrdiff_t>(i),
                                    all.begin() + static_cast<std::ptrdiff_t>(end));
    }
  }
  return corpus;
}

std::string option_letter(int64_t index) {
  PTLAB_ASSERT(index >= 0 && index < 26, "option index {} outside A..Z", index);
  return std::string(1, static_cast<char>('A' + index));
}

std::vector<std::string> format_labels(Format format, int64_t max_options) {
  switch (format) {
    case Format::kNsp: return {"next", "same_document", "other_document"};
    case Format::kNss:
    case Format::kUnified: {
      std::vector<std::string> out;
      for (int64_t k = 0; k < max_options; ++k) out.push_back(option_letter(k));
      return out;
    }
    case Format::kCls: return {};
  }
  return {};
}

std::string render_options(const std::vector<std::string>& options) {
  std::string out;
  for (std::size_t k = 0; k < options.size(); ++k) {
    if (k) out += ' ';
    out += option_letter(static_cast<int64_t>(k)) + ". " + options[k];
  }
  return out;
}

std::vector<PptExample> build_nsp(const Corpus& corpus, int64_t count, uint64_t seed, const std::string& where) {
  PTLAB_CHECK(count >= 1, "{}: the number of examples must be >= 1, got {}", where, count);
  const int64_t docs = static_cast<int64_t>(corpus.documents.size());
  PTLAB_CHECK(docs >= 2,
              "{}: format nsp needs >= 2 documents for its other_document class, but {} has {} (separate documents "
              "with blank lines, or lower block_sentences below the {} sentences)",
              where, corpus.path, docs, corpus.num_sentences());
  const std::vector<Position> next = next_anchors(corpus);
  // same_document anchors: a sentence with a non-neighbour in its document (|j - i| >= 2 for some j; the
  // middle sentence of a 3-sentence document has none).
  std::vector<Position> far;
  for (int64_t d = 0; d < docs; ++d)
    for (int64_t i = 0; i < doc_size(corpus, d); ++i)
      if (i >= 2 || i + 2 < doc_size(corpus, d)) far.emplace_back(d, i);
  PTLAB_CHECK(!far.empty(),
              "{}: format nsp needs a document of >= 3 sentences for its same_document class (a sentence that is "
              "not a neighbour), but every document of {} has fewer",
              where, corpus.path);
  const std::vector<int64_t> starts = document_starts(corpus);
  data::Rng rng(data::derive_seed(seed, data::hash_name("nsp")));
  const std::vector<std::string> labels = format_labels(Format::kNsp, 0);
  std::vector<PptExample> out;
  out.reserve(static_cast<std::size_t>(count));
  for (int64_t e = 0; e < count; ++e) {
    PptExample ex;
    const int64_t cls = e % 3;
    ex.label = labels[static_cast<std::size_t>(cls)];
    Position b;
    if (cls == 0) {
      ex.anchor = pick(next, rng);
      b = {ex.anchor.first, ex.anchor.second + 1};
    } else if (cls == 1) {
      ex.anchor = pick(far, rng);
      const int64_t n = doc_size(corpus, ex.anchor.first), i = ex.anchor.second;
      std::vector<int64_t> js;
      for (int64_t j = 0; j < n; ++j)
        if (j < i - 1 || j > i + 1) js.push_back(j);
      b = {ex.anchor.first, pick(js, rng)};
    } else {
      const int64_t k = static_cast<int64_t>(rng.below(static_cast<uint64_t>(corpus.num_sentences())));
      const int64_t d = static_cast<int64_t>(std::upper_bound(starts.begin(), starts.end(), k) - starts.begin()) - 1;
      ex.anchor = {d, k - starts[static_cast<std::size_t>(d)]};
      b = other_document_sentence(corpus, d, rng, starts);
    }
    ex.text_a = sentence(corpus, ex.anchor);
    ex.text_b = sentence(corpus, b);
    ex.positions = {b};
    out.push_back(std::move(ex));
  }
  data::shuffle(out, rng);
  return out;
}

std::vector<PptExample> build_nss(const Corpus& corpus, int64_t count, int64_t min_options, int64_t max_options,
                                  uint64_t seed, const std::string& where) {
  PTLAB_CHECK(count >= 1, "{}: the number of examples must be >= 1, got {}", where, count);
  PTLAB_CHECK(min_options >= 2 && min_options <= max_options && max_options <= 26,
              "{}: next-sentence selection needs 2 <= options <= 26 (one right answer and at least one distractor, "
              "lettered A..Z), got {}",
              where, min_options == max_options ? fmt::format("{}", min_options)
                                                : fmt::format("{}..{}", min_options, max_options));
  const int64_t docs = static_cast<int64_t>(corpus.documents.size());
  PTLAB_CHECK(docs >= 2,
              "{}: next-sentence selection needs >= 2 documents (its random options come from other documents), "
              "but {} has {} (separate documents with blank lines, or lower block_sentences)",
              where, corpus.path, docs);
  const std::vector<Position> next = next_anchors(corpus);
  PTLAB_CHECK(!next.empty(), "{}: next-sentence selection needs a document of >= 2 sentences; {} has none", where,
              corpus.path);
  PTLAB_CHECK(corpus.num_sentences() >= max_options + 1,
              "{}: {} options need >= {} sentences (the anchor, its next sentence and {} distractors), but {} has {}",
              where, max_options, max_options + 1, max_options - 1, corpus.path, corpus.num_sentences());
  const std::vector<int64_t> starts = document_starts(corpus);
  const bool unified = min_options != max_options;
  data::Rng rng(data::derive_seed(seed, data::hash_name(unified ? "unified" : "nss")));
  std::vector<PptExample> out;
  out.reserve(static_cast<std::size_t>(count));
  for (int64_t e = 0; e < count; ++e) {
    const int64_t k = min_options + static_cast<int64_t>(rng.below(static_cast<uint64_t>(max_options - min_options + 1)));
    PptExample ex;
    ex.anchor = pick(next, rng);
    const Position answer{ex.anchor.first, ex.anchor.second + 1};
    std::set<std::string> texts = {sentence(corpus, answer)};
    std::vector<Position> distractors;
    // Same-document distractors: every sentence of the anchor's document but the anchor and the answer.
    std::vector<Position> same;
    for (int64_t j = 0; j < doc_size(corpus, ex.anchor.first); ++j)
      if (j != ex.anchor.second && j != answer.second) same.emplace_back(ex.anchor.first, j);
    data::shuffle(same, rng);
    const int64_t want_same = (k - 1) / 2;
    for (const Position& p : same) {
      if (static_cast<int64_t>(distractors.size()) >= want_same) break;
      if (texts.insert(sentence(corpus, p)).second) distractors.push_back(p);
    }
    // The rest from other documents (text repeats redrawn; bounded, then an Error).
    int64_t tries = 0;
    while (static_cast<int64_t>(distractors.size()) < k - 1) {
      PTLAB_CHECK(++tries <= 1000 * k,
                  "{}: cannot find {} distinct distractor sentences for next-sentence selection in {} ({} sentences); "
                  "use fewer options or a larger corpus",
                  where, k - 1, corpus.path, corpus.num_sentences());
      const Position p = other_document_sentence(corpus, ex.anchor.first, rng, starts);
      if (texts.insert(sentence(corpus, p)).second) distractors.push_back(p);
    }
    data::shuffle(distractors, rng);
    const int64_t at = static_cast<int64_t>(rng.below(static_cast<uint64_t>(k)));
    distractors.insert(distractors.begin() + at, answer);
    ex.positions = distractors;
    std::vector<std::string> options;
    for (const Position& p : ex.positions) options.push_back(sentence(corpus, p));
    ex.text_a = sentence(corpus, ex.anchor);
    ex.text_b = render_options(options);
    ex.label = option_letter(at);
    if (unified) ex.task = fmt::format("options{}", k);
    out.push_back(std::move(ex));
  }
  return out;
}

std::vector<PptExample> build_cls(const Corpus& corpus, const std::vector<Prediction>& predictions, int64_t count,
                                  double min_confidence, uint64_t seed, const std::string& where) {
  PTLAB_CHECK(static_cast<int64_t>(predictions.size()) == corpus.num_sentences(),
              "{}: {} predictions for the {} sentences of {}", where, predictions.size(), corpus.num_sentences(),
              corpus.path);
  std::vector<PptExample> out;
  std::set<std::string> classes;
  std::size_t k = 0;
  for (int64_t d = 0; d < static_cast<int64_t>(corpus.documents.size()); ++d) {
    for (int64_t i = 0; i < doc_size(corpus, d); ++i, ++k) {
      const Prediction& p = predictions[k];
      if (p.confidence < min_confidence) continue;
      PptExample ex;
      ex.anchor = {d, i};
      ex.text_a = sentence(corpus, ex.anchor);
      ex.label = p.label;
      classes.insert(p.label);
      out.push_back(std::move(ex));
    }
  }
  PTLAB_CHECK(!out.empty(),
              "{}: no corpus sentence was predicted with confidence >= {} (min_confidence); lower it or use a larger "
              "corpus",
              where, min_confidence);
  PTLAB_CHECK(classes.size() >= 2,
              "{}: the pseudo-labels kept ({} sentences of {}) all say '{}'; single-sentence classification needs "
              ">= 2 classes (lower min_confidence, use a larger corpus or another labeler)",
              where, out.size(), corpus.path, *classes.begin());
  data::Rng rng(data::derive_seed(seed, data::hash_name("cls")));
  data::shuffle(out, rng);
  if (count > 0 && static_cast<int64_t>(out.size()) > count) out.resize(static_cast<std::size_t>(count));
  return out;
}

void write_examples_jsonl(const std::string& path, const std::vector<PptExample>& examples) {
  const fs::path tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    PTLAB_CHECK(out.good(), "cannot write {}", tmp.string());
    for (const PptExample& ex : examples) {
      nlohmann::json j = {{"text_a", ex.text_a}, {"text_b", ex.text_b}, {"label", ex.label}};
      if (!ex.task.empty()) j["task"] = ex.task;
      j["anchor"] = {ex.anchor.first, ex.anchor.second};
      nlohmann::json positions = nlohmann::json::array();
      for (const Position& p : ex.positions) positions.push_back({p.first, p.second});
      j["positions"] = positions;
      out << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
    }
    PTLAB_CHECK(out.good(), "error writing {}", tmp.string());
  }
  fs::rename(tmp, path);
}

}  // namespace ptlab::methods::ppt
