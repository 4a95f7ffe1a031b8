// PPT's self-supervised pre-training data (Gu et al. 2022, "PPT: Pre-trained Prompt Tuning for Few-shot
// Learning"; METHODS.md §3.4): an unlabeled text file -> documents -> sentences -> labelled examples
// (text_a, text_b, label) for prompt tuning. Torch-free: plain strings, the portable data::Rng, so the same
// corpus, sizes and seed give the same examples on every machine.
//
// The corpus (read_corpus). One sentence per line; surrounding whitespace is trimmed.
//  - A file with blank lines: each blank-line-separated block of lines is one document.
//  - A file without blank lines (the Brown corpus, ../shared/corpus/brown/brown.txt, has none): the
//    fallback is PSEUDO-DOCUMENTS of `block_sentences` consecutive lines (the last block may be shorter).
//    Neighbouring lines of a running text are still neighbours, so "next sentence" stays true; "same
//    document" then means "within block_sentences lines", a proxy for the paper's documents.
// A missing file, and a file with no non-blank line, are Errors naming the key path and the file.
//
// The formats (every builder draws `count` examples with data::Rng(seed), a stream per format):
//  - nsp  sentence pair, 3 classes (PPT's "sentence-pair" format, NSP-style):
//           next            text_b is the sentence right after text_a in its document
//           same_document   text_b is from text_a's document, neither text_a nor a neighbour (|j - i| >= 2)
//           other_document  text_b is from another document
//         Example e has class e mod 3 before a final shuffle, so the classes are balanced. Needs >= 2
//         documents and a sentence with a non-neighbour in its document (a document of >= 3 sentences).
//  - nss  next-sentence selection, multiple choice with K = `options` options written into text_b as
//         "A. <s> B. <s> ..." (letters A..Z): one option is the next sentence, (K-1)/2 of the others come
//         from the anchor's document (not the anchor, not the answer), the rest from other documents; the
//         answer sits at a uniformly drawn index and the label is its letter. Options never repeat the
//         answer's text. Needs 2 <= K <= 26, >= 2 documents and enough sentences for K-1 distractors.
//  - unified  PPT's unified format: nss with the number of options drawn per example from
//         [min_options, max_options]; each example's meta task is "options<K>", so a task with task_classes
//         scores it over its own K letters only. Downstream tasks use a template that lists their classes
//         as options (templates.unified / verbalizers.unified in configs/task/*.yaml).
//  - cls  single-sentence classification with pseudo-labels (PPT: 5-way sentiment from a RoBERTa): the
//         corpus sentences labelled by a trained classifier (build_cls takes its predictions); predictions
//         below `min_confidence` are dropped.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace ptlab::methods::ppt {

enum class Format { kNsp, kNss, kCls, kUnified };

/// "nsp", "nss", "cls", "unified".
const char* format_name(Format format);
std::vector<std::string> format_names();
/// The format called `name`; an unknown name is an Error naming `where`, did-you-mean and the known names.
Format parse_format(const std::string& name, const std::string& where);

struct Corpus {
  std::string path;
  std::vector<std::vector<std::string>> documents;  ///< sentences, in file order
  bool pseudo_documents = false;                      ///< no blank lines: blocks of block_sentences lines
  int64_t num_sentences() const;
};

/// Reads `path` (see the top). `block_sentences` >= 1 sizes pseudo-documents; `limit` > 0 reads only the
/// first `limit` sentences. Errors name `where` (the key path of the corpus setting) and the file.
Corpus read_corpus(const std::string& path, int64_t block_sentences, int64_t limit, const std::string& where);

/// A sentence's place in the corpus: (document, sentence) indices.
using Position = std::pair<int64_t, int64_t>;

struct PptExample {
  std::string text_a;
  std::string text_b;  ///< nsp: the second sentence; nss / unified: the options; cls: empty
  std::string label;   ///< the class name
  std::string task;    ///< unified: "options<K>"; else empty
  Position anchor{-1, -1};          ///< where text_a comes from (cls: the sentence)
  std::vector<Position> positions;  ///< nsp: text_b's place; nss / unified: each option's place
};

/// The class names of a format, in class order (nss / unified: the letters of `max_options` options).
std::vector<std::string> format_labels(Format format, int64_t max_options);

/// The letter of option `index` (0 -> "A").
std::string option_letter(int64_t index);

std::vector<PptExample> build_nsp(const Corpus& corpus, int64_t count, uint64_t seed, const std::string& where);
/// nss with `min_options` == `max_options` == K; unified otherwise (K drawn per example).
std::vector<PptExample> build_nss(const Corpus& corpus, int64_t count, int64_t min_options, int64_t max_options,
                                  uint64_t seed, const std::string& where);

/// A classifier's prediction for one sentence.
struct Prediction {
  std::string label;
  double confidence = 1.0;  ///< the predicted class's probability
};

/// cls: every sentence of `corpus` (document order) with its prediction, those with confidence >=
/// `min_confidence` kept, shuffled with `seed`, at most `count`. Errors (naming `where`): predictions not one
/// per sentence; no sentence left; fewer than 2 classes among those kept.
std::vector<PptExample> build_cls(const Corpus& corpus, const std::vector<Prediction>& predictions, int64_t count,
                                  double min_confidence, uint64_t seed, const std::string& where);

/// "A. first option B. second option" for `options`.
std::string render_options(const std::vector<std::string>& options);

/// Writes `examples` as JSONL, one object per line: text_a, text_b, label, task (when set), and the
/// provenance: anchor [doc, sentence], positions [[doc, sentence], ...]. Errors name the path.
void write_examples_jsonl(const std::string& path, const std::vector<PptExample>& examples);

}  // namespace ptlab::methods::ppt
