// PPT (methods/ppt/): the corpus reader (documents, the pseudo-document fallback), each format's examples
// checked against where their texts come from in a hand-written fixture (tests/fixtures/ppt/corpus.txt:
// sentence s of document d reads "dD sS ..."), the config's bad inputs as one line each, the mask init, and
// the pre-trained prompt's exact round trip into prompt tuning's file init.
#include "methods/ppt/ppt.h"

#include "framework/config/yaml_value.h"
#include "framework/io/safetensors.h"
#include "methods/prompt_tuning/prompt_tuning.h"
#include "tests/methods/methods_test_support.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <unistd.h>

namespace ptlab::methods::ppt {
namespace {

using ::testing::HasSubstr;
using testing::error_of;
namespace fs = std::filesystem;

std::string fixture(const std::string& name) { return std::string(PTLAB_SOURCE_DIR) + "/tests/fixtures/ppt/" + name; }

// "dD sS ..." -> (D, S).
Position where(const std::string& text) {
  int d = -1, s = -1;
  EXPECT_EQ(std::sscanf(text.c_str(), "d%d s%d", &d, &s), 2) << text;
  return {d, s};
}

// The options of "A. x B. y ..." whose sentences all start "dD sS".
std::vector<std::string> split_options(const std::string& text_b, int64_t k) {
  std::vector<std::string> out;
  for (int64_t i = 0; i < k; ++i) {
    const std::string head = option_letter(i) + ". ";
    const auto begin = text_b.find(head);
    EXPECT_NE(begin, std::string::npos) << text_b;
    const auto end = i + 1 < k ? text_b.find(" " + option_letter(i + 1) + ". ") : std::string::npos;
    out.push_back(text_b.substr(begin + head.size(), end == std::string::npos ? end : end - begin - head.size()));
  }
  return out;
}

Corpus fixture_corpus() { return read_corpus(fixture("corpus.txt"), 10, 0, "method.corpus"); }

std::string temp_file(const std::string& name, const std::string& text) {
  const fs::path dir = fs::temp_directory_path() / ("ptlab_ppt_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / name) << text;
  return (dir / name).string();
}

TEST(PptCorpus, BlankLinesSeparateDocuments) {
  const Corpus c = fixture_corpus();
  EXPECT_FALSE(c.pseudo_documents);
  ASSERT_EQ(c.documents.size(), 4u);
  EXPECT_EQ(c.documents[0].size(), 6u);
  EXPECT_EQ(c.documents[1].size(), 4u);
  EXPECT_EQ(c.documents[2].size(), 3u);
  EXPECT_EQ(c.documents[3].size(), 7u);
  EXPECT_EQ(c.num_sentences(), 20);
  for (int64_t d = 0; d < 4; ++d)
    for (int64_t s = 0; s < static_cast<int64_t>(c.documents[d].size()); ++s)
      EXPECT_EQ(where(c.documents[d][s]), (Position{d, s}));
}

TEST(PptCorpus, WithoutBlankLinesBlocksOfLinesArePseudoDocuments) {
  const Corpus c = read_corpus(fixture("brown_like.txt"), 10, 0, "method.corpus");
  EXPECT_TRUE(c.pseudo_documents);
  ASSERT_EQ(c.documents.size(), 3u);  // 10 + 10 + 5
  EXPECT_EQ(c.documents[2].size(), 5u);
  EXPECT_EQ(c.documents[1][0].rfind("line10 ", 0), 0u);
  const Corpus limited = read_corpus(fixture("brown_like.txt"), 4, 9, "method.corpus");
  EXPECT_EQ(limited.num_sentences(), 9);
  EXPECT_EQ(limited.documents.size(), 3u);  // 4 + 4 + 1
}

TEST(PptFormats, NspPairsAreNextSameDocumentNotAdjacentOrFromAnotherDocument) {
  const Corpus c = fixture_corpus();
  const auto examples = build_nsp(c, 300, 7, "method.format");
  ASSERT_EQ(examples.size(), 300u);
  std::map<std::string, int> per_class;
  for (const auto& ex : examples) {
    const Position a = where(ex.text_a), b = where(ex.text_b);
    EXPECT_EQ(a, ex.anchor);
    ASSERT_EQ(ex.positions.size(), 1u);
    EXPECT_EQ(b, ex.positions[0]);
    ++per_class[ex.label];
    if (ex.label == "next") {
      EXPECT_EQ(a.first, b.first) << ex.text_a << " | " << ex.text_b;
      EXPECT_EQ(b.second, a.second + 1) << ex.text_a << " | " << ex.text_b;
    } else if (ex.label == "same_document") {
      EXPECT_EQ(a.first, b.first) << ex.text_a << " | " << ex.text_b;
      EXPECT_GE(std::abs(b.second - a.second), 2) << ex.text_a << " | " << ex.text_b;
    } else {
      EXPECT_EQ(ex.label, "other_document");
      EXPECT_NE(a.first, b.first) << ex.text_a << " | " << ex.text_b;
    }
  }
  EXPECT_EQ(per_class["next"], 100);
  EXPECT_EQ(per_class["same_document"], 100);
  EXPECT_EQ(per_class["other_document"], 100);
  // Deterministic per seed; another seed draws other pairs.
  const auto again = build_nsp(c, 300, 7, "method.format");
  const auto other = build_nsp(c, 300, 8, "method.format");
  bool differs = false;
  for (std::size_t i = 0; i < examples.size(); ++i) {
    EXPECT_EQ(examples[i].text_a + examples[i].text_b + examples[i].label, again[i].text_a + again[i].text_b + again[i].label);
    differs = differs || examples[i].text_a != other[i].text_a || examples[i].text_b != other[i].text_b;
  }
  EXPECT_TRUE(differs);
}

TEST(PptFormats, NssOptionsHoldTheNextSentenceOnceAtTheLabelledLetter) {
  const Corpus c = fixture_corpus();
  const int64_t k = 5;
  const auto examples = build_nss(c, 200, k, k, 3, "method.options");
  std::set<std::string> letters;
  for (const auto& ex : examples) {
    const Position a = where(ex.text_a);
    EXPECT_EQ(a, ex.anchor);
    EXPECT_TRUE(ex.task.empty());
    const auto options = split_options(ex.text_b, k);
    ASSERT_EQ(options.size(), static_cast<std::size_t>(k));
    ASSERT_EQ(ex.positions.size(), static_cast<std::size_t>(k));
    int answers = 0, same = 0, other = 0;
    int64_t answer_at = -1;
    std::set<std::string> texts;
    for (int64_t i = 0; i < k; ++i) {
      const Position p = where(options[i]);
      EXPECT_EQ(p, ex.positions[i]);
      texts.insert(options[i]);
      if (p == Position{a.first, a.second + 1}) {
        ++answers;
        answer_at = i;
      } else if (p.first == a.first) {
        EXPECT_NE(p.second, a.second) << "the anchor itself is no option";
        ++same;
      } else {
        ++other;
      }
    }
    EXPECT_EQ(answers, 1) << ex.text_b;
    EXPECT_EQ(option_letter(answer_at), ex.label);
    EXPECT_EQ(texts.size(), static_cast<std::size_t>(k)) << "options repeat: " << ex.text_b;
    // (K-1)/2 = 2 from the anchor's document when it has them (documents here have >= 3 sentences: at least 1).
    const int64_t available = static_cast<int64_t>(c.documents[a.first].size()) - 2;
    EXPECT_EQ(same, std::min<int64_t>(2, available)) << ex.text_a;
    EXPECT_EQ(other, k - 1 - same);
    letters.insert(ex.label);
  }
  EXPECT_EQ(letters.size(), static_cast<std::size_t>(k)) << "the answer sits at every index";
}

TEST(PptFormats, UnifiedDrawsTheNumberOfOptionsPerExampleAndNamesItsTask) {
  const Corpus c = fixture_corpus();
  const auto examples = build_nss(c, 200, 2, 4, 3, "method.max_options");
  std::set<std::string> tasks;
  for (const auto& ex : examples) {
    const int64_t k = static_cast<int64_t>(ex.positions.size());
    EXPECT_GE(k, 2);
    EXPECT_LE(k, 4);
    EXPECT_EQ(ex.task, "options" + std::to_string(k));
    const int64_t label = ex.label[0] - 'A';
    EXPECT_LT(label, k);
    EXPECT_EQ(ex.positions[static_cast<std::size_t>(label)], (Position{ex.anchor.first, ex.anchor.second + 1}));
    tasks.insert(ex.task);
  }
  EXPECT_EQ(tasks, (std::set<std::string>{"options2", "options3", "options4"}));
  // The task scores each example over its own options.
  PptConfig config;
  config.format = Format::kUnified;
  config.min_options = 2;
  config.max_options = 4;
  const YAML::Node task = pretraining_task(config, "/data", YAML::Node(), format_labels(Format::kUnified, 4));
  EXPECT_EQ(task["task_classes"]["options3"].size(), 3u);
  EXPECT_EQ(task["data"]["fields"]["meta.task"].Scalar(), "task");
  EXPECT_EQ(task["data"]["splits"]["train"]["path"].Scalar(), "/data/train.jsonl");
  EXPECT_EQ(task["verbalizer"]["label_words"]["D"][0].Scalar(), "D");
}

TEST(PptFormats, ClsKeepsConfidentPseudoLabels) {
  const Corpus c = fixture_corpus();
  std::vector<Prediction> predictions;
  for (int64_t i = 0; i < c.num_sentences(); ++i)
    predictions.push_back({i % 2 ? "positive" : "negative", i < 10 ? 0.9 : 0.4});
  const auto kept = build_cls(c, predictions, 0, 0.5, 1, "method.min_confidence");
  ASSERT_EQ(kept.size(), 10u);
  for (const auto& ex : kept) {
    const Position p = where(ex.text_a);
    EXPECT_EQ(p, ex.anchor);
    int64_t global = 0;
    for (int64_t d = 0; d < p.first; ++d) global += static_cast<int64_t>(c.documents[d].size());
    global += p.second;
    EXPECT_LT(global, 10);
    EXPECT_EQ(ex.label, global % 2 ? "positive" : "negative");
  }
  EXPECT_EQ(build_cls(c, predictions, 4, 0.0, 1, "method.min_confidence").size(), 4u);
  std::vector<Prediction> one_class(predictions.size(), Prediction{"positive", 1.0});
  EXPECT_THAT(error_of([&] { build_cls(c, one_class, 0, 0.0, 1, "method.min_confidence"); }),
              HasSubstr("needs >= 2 classes"));
  EXPECT_THAT(error_of([&] { build_cls(c, predictions, 0, 0.95, 1, "method.min_confidence"); }),
              HasSubstr("no corpus sentence was predicted with confidence >= 0.95"));
}

TEST(PptFormats, WritesInspectableJsonl) {
  const Corpus c = fixture_corpus();
  const auto examples = build_nsp(c, 3, 1, "method.format");
  const std::string path = temp_file("x.jsonl", "");
  write_examples_jsonl(path, examples);
  std::ifstream in(path);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    EXPECT_THAT(line, HasSubstr("\"text_a\":"));
    EXPECT_THAT(line, HasSubstr("\"positions\":[["));
    ++n;
  }
  EXPECT_EQ(n, 3);
}

TEST(PptUnified, TaskTemplatesListEveryClassAsTheOptionItsLetterNames) {
  for (const std::string name : {"sst2", "boolq", "cb", "rte", "synthetic_sentiment2", "synthetic_sentiment5"}) {
    SCOPED_TRACE(name);
    const YAML::Node task = YAML::LoadFile(std::string(PTLAB_SOURCE_DIR) + "/configs/task/" + name + ".yaml");
    const std::string tmpl = task["templates"]["unified"].as<std::string>();
    const YAML::Node verbalizer = task["verbalizers"]["unified"];
    // The classes in the data's order (labels, else the label_map's values in key order).
    std::vector<std::string> classes;
    if (task["data"]["labels"]) {
      classes = task["data"]["labels"].as<std::vector<std::string>>();
    } else {
      for (const auto& kv : task["data"]["label_map"]) classes.push_back(kv.second.as<std::string>());
    }
    ASSERT_GE(classes.size(), 2u);
    EXPECT_EQ(verbalizer["label_words"].size(), classes.size());
    for (std::size_t i = 0; i < classes.size(); ++i) {
      EXPECT_EQ(verbalizer["label_words"][classes[i]][0].as<std::string>(), option_letter(static_cast<int64_t>(i)));
      EXPECT_THAT(tmpl, HasSubstr(" " + option_letter(static_cast<int64_t>(i)) + ". ")) << tmpl;
    }
    EXPECT_EQ(tmpl.find(" " + option_letter(static_cast<int64_t>(classes.size())) + ". "), std::string::npos) << tmpl;
    EXPECT_THAT(tmpl, HasSubstr("Options: A. "));
    EXPECT_EQ(tmpl.substr(tmpl.size() - 14), "Answer: {mask}");
  }
}

// ---- bad inputs ------------------------------------------------------------------------------------------

TEST(PptBadInputs, CorpusErrorsAreOneLineEach) {
  EXPECT_THAT(error_of([] { read_corpus("/no/such/corpus.txt", 10, 0, "method.corpus"); }),
              HasSubstr("method.corpus: corpus file /no/such/corpus.txt does not exist"));
  const std::string empty = temp_file("empty.txt", "\n  \n\n");
  EXPECT_THAT(error_of([&] { read_corpus(empty, 10, 0, "method.corpus"); }),
              HasSubstr("method.corpus: the corpus " + empty + " is empty"));
  // One document: no other_document class, no random options.
  const Corpus one = read_corpus(temp_file("one.txt", "a .\nb .\nc .\nd .\n"), 10, 0, "method.corpus");
  EXPECT_THAT(error_of([&] { build_nsp(one, 10, 0, "method.format"); }),
              HasSubstr("format nsp needs >= 2 documents"));
  EXPECT_THAT(error_of([&] { build_nss(one, 10, 2, 2, 0, "method.options"); }), HasSubstr("needs >= 2 documents"));
  // Documents of two sentences: no same_document pair that is not adjacent.
  const Corpus pairs = read_corpus(temp_file("pairs.txt", "a .\nb .\n\nc .\nd .\n"), 10, 0, "method.corpus");
  EXPECT_THAT(error_of([&] { build_nsp(pairs, 10, 0, "method.format"); }),
              HasSubstr("needs a document of >= 3 sentences"));
  // More options than sentences.
  EXPECT_THAT(error_of([&] { build_nss(pairs, 10, 6, 6, 0, "method.options"); }),
              HasSubstr("method.options: 6 options need >= 7 sentences"));
  EXPECT_THAT(error_of([&] { build_nss(pairs, 10, 1, 1, 0, "method.options"); }),
              HasSubstr("needs 2 <= options <= 26"));
}

PptConfig decode(const std::string& yaml) {
  config::Origins origins;
  return PptConfig::decode(YAML::Load(yaml), origins, "method");
}

TEST(PptBadInputs, ConfigErrorsNameTheKey) {
  EXPECT_EQ(decode("{name: ppt, corpus: x.txt}").format, Format::kNsp);
  EXPECT_THAT(error_of([] { decode("{name: ppt, corpus: x.txt, format: nps}"); }),
              HasSubstr("method.format: unknown PPT format 'nps'"));
  EXPECT_THAT(error_of([] { decode("{name: ppt, corpus: x.txt, format: nps}"); }), HasSubstr("known: nsp, nss, cls, unified"));
  EXPECT_THAT(error_of([] { decode("{name: ppt, corpus: x.txt, format: nss, options: 1}"); }),
              HasSubstr("method.options: next-sentence selection needs 2..26 options"));
  EXPECT_THAT(error_of([] { decode("{name: ppt, corpus: x.txt, format: unified, min_options: 3, max_options: 2}"); }),
              HasSubstr("method.max_options"));
  EXPECT_THAT(error_of([] { decode("{name: ppt, corpus: x.txt, format: cls}"); }),
              HasSubstr("method.labeler: format cls labels the corpus with a trained classifier"));
  EXPECT_THAT(error_of([] { decode("{name: ppt, corpus: x.txt, labeler: some/run}"); }),
              HasSubstr("method.labeler: a labeler is used by format cls only"));
  EXPECT_THAT(error_of([] { decode("{name: ppt, corpus: null}"); }), HasSubstr("method.corpus: no corpus file"));
  EXPECT_THAT(error_of([] { decode("{name: ppt, corpus: x.txt, stop_after: data}"); }),
              HasSubstr("method.stop_after: the only stage to stop after is 'pretrain'"));
  EXPECT_THAT(error_of([] { decode("{name: ppt, corpus: x.txt, train_examples: 0}"); }),
              HasSubstr("method.train_examples: must be >= 1"));
  EXPECT_THAT(error_of([] { decode("{name: ppt, corpus: x.txt, pretrain_trainer: 3}"); }),
              HasSubstr("method.pretrain_trainer: expected a mapping"));
  EXPECT_THAT(error_of([] { decode("{name: ppt, corpus: x.txt, lenght: 3}"); }), HasSubstr("lenght"));
  // A given prompt needs no corpus.
  EXPECT_TRUE(decode("{name: ppt, corpus: null, pretrained: p.safetensors}").pretrained.has_value());
}

// ---- the prompt ------------------------------------------------------------------------------------------

TEST(PptPrompt, MaskInitRepeatsTheMaskTokensEmbedding) {
  PTLAB_METHOD_FIXTURE(f, "bert", methods::testing::kSentimentTask);
  auto method = methods::testing::make_method_from("{name: prompt_tuning, length: 5, init: mask}", *f.context);
  const auto& pt = dynamic_cast<const PromptTuning&>(*method);
  const int64_t mask = f.tokenizer().mask_id();
  ASSERT_GE(mask, 0) << "BERT has [MASK]";
  EXPECT_EQ(pt.init_token_ids(), std::vector<int64_t>(5, mask));
  const at::Tensor row = f.backbone().word_embeddings()[mask].to(at::kFloat).cpu();
  for (int64_t i = 0; i < 5; ++i) EXPECT_TRUE(pt.prompt_embeddings()[i].detach().cpu().equal(row)) << i;
}

TEST(PptPrompt, APreTrainedPromptRoundTripsIntoPromptTuningExactly) {
  PTLAB_METHOD_FIXTURE(f, "stories260K", methods::testing::kSentimentTask);
  auto source = methods::testing::make_method_from("{name: prompt_tuning, length: 6, init: mask}", *f.context);
  // "Pre-train": move the prompt off its init, then save it as the trial does (export_state -> prompt.safetensors).
  {
    c10::NoGradGuard no_grad;
    auto params = source->trainable_parameters();
    params[0].second.add_(at::randn_like(params[0].second));
  }
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (auto& [name, t] : source->export_state()) tensors.emplace_back(name, t.detach().cpu().contiguous());
  const std::string path = temp_file("prompt.safetensors", "");
  io::save_safetensors(path, tensors, {{"format", "pt"}, {"ptlab_method", "prompt_tuning"}});
  auto target = methods::testing::make_method_from(
      "{name: prompt_tuning, length: 6, init: file, init_file: '" + path + "'}", *f.context);
  const at::Tensor a = dynamic_cast<const PromptTuning&>(*source).prompt_embeddings().detach().cpu();
  const at::Tensor b = dynamic_cast<const PromptTuning&>(*target).prompt_embeddings().detach().cpu();
  EXPECT_TRUE(a.equal(b)) << "max abs diff " << (a - b).abs().max().item<double>();
  // Another length is an Error naming both shapes.
  EXPECT_THAT(error_of([&] {
                methods::testing::make_method_from(
                    "{name: prompt_tuning, length: 7, init: file, init_file: '" + path + "'}", *f.context);
              }),
              HasSubstr("method.init_file"));
}

}  // namespace
}  // namespace ptlab::methods::ppt
