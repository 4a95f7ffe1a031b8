// Tests framework/text/wordlevel_tokenizer.cpp on the tokenizer files of a small synthetic language made on
// the spot with tasks/synthetic's write_synthetic (well under a second), and on hand-written tokenizer.json
// files for the features the synthetic writer does not use (Lowercase, Whitespace, TemplateProcessing).
#include "framework/text/wordlevel_tokenizer.h"

#include "framework/core/error.h"
#include "tasks/synthetic/tokenizer_files.h"
#include "tasks/synthetic/write_synthetic.h"
#include "tests/text/text_test_support.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sys/wait.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

namespace ptlab::text {
namespace {

namespace fs = std::filesystem;
namespace synthetic = ptlab::tasks::synthetic;
using json = nlohmann::json;
using testing::error_of;
using testing::TempDir;

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// One small synthetic language for the whole suite.
class WordLevelSynthetic : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::make_unique<TempDir>();
    synthetic::SyntheticConfig config;
    config.seed = 11;
    config.corpus_sentences = 300;
    config.set_task_sizes(20, 10, 10);
    const auto start = std::chrono::steady_clock::now();
    synthetic::write_synthetic(config, data_dir());
    write_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  static void TearDownTestSuite() { dir_.reset(); }

  static std::string data_dir() { return dir_->path() + "/synthetic"; }
  static std::string tokenizer_dir() { return data_dir() + "/tokenizer"; }
  static const synthetic::Lexicon& lex() { return synthetic::lexicon(); }
  // The vocabulary id of a word of the language.
  static int id_of(std::string_view word) {
    return lex().id(word) + static_cast<int>(synthetic::kSpecialTokens.size());
  }

  static std::unique_ptr<TempDir> dir_;
  static double write_seconds_;
};

std::unique_ptr<TempDir> WordLevelSynthetic::dir_;
double WordLevelSynthetic::write_seconds_ = 0;

TEST_F(WordLevelSynthetic, LoadsTheSyntheticTokenizerDirectory) {
  EXPECT_LT(write_seconds_, 1.0);
  auto tok = load_tokenizer(tokenizer_dir());
  EXPECT_EQ(tok->kind(), "wordlevel");
  EXPECT_FALSE(tok->clean_up_tokenization_spaces());  // tokenizer_config.json says so
  const auto vocab = synthetic::vocabulary(lex());
  ASSERT_EQ(tok->vocab_size(), static_cast<int>(vocab.size()));
  for (std::size_t i = 0; i < vocab.size(); ++i) {
    ASSERT_EQ(tok->token_to_id(vocab[i]), static_cast<int>(i)) << vocab[i];
    ASSERT_EQ(tok->id_to_token(static_cast<int>(i)), vocab[i]);
  }
  EXPECT_EQ(tok->token_to_id("zorblax"), -1);
  // The tokenizer.json file itself loads the same way, with the side files next to it.
  auto from_file = load_tokenizer(tokenizer_dir() + "/tokenizer.json");
  EXPECT_EQ(from_file->kind(), "wordlevel");
  EXPECT_EQ(from_file->eos_id(), 3);
}

TEST_F(WordLevelSynthetic, KnownWordsMapToTheirVocabularyIds) {
  auto tok = load_tokenizer(tokenizer_dir());
  const std::string text = "the soup was delicious , but the film was bland .";
  Encoding e = tok->encode(text);
  std::vector<int> want;
  std::vector<std::string> words;
  for (const char* w : {"the", "soup", "was", "delicious", ",", "but", "the", "film", "was", "bland", "."}) {
    want.push_back(id_of(w));
    words.push_back(w);
  }
  EXPECT_EQ(e.ids, want);
  EXPECT_EQ(e.tokens, words);
  EXPECT_EQ(e.type_ids, std::vector<int>(want.size(), 0));
  ASSERT_TRUE(e.has_offsets());
  for (std::size_t i = 0; i < e.size(); ++i)
    EXPECT_EQ(text.substr(e.offsets[i].first, e.offsets[i].second - e.offsets[i].first), words[i]);
  EXPECT_EQ(e.offsets[1], (std::pair<std::size_t, std::size_t>{4, 8}));
}

TEST_F(WordLevelSynthetic, UnknownWordsBecomeUnk) {
  auto tok = load_tokenizer(tokenizer_dir());
  ASSERT_EQ(tok->unk_id(), 1);
  // No normalizer: capitalised words are not the lower-case ones.
  Encoding e = tok->encode("the zorblax was The soup", false);
  EXPECT_EQ(e.ids, (std::vector<int>{id_of("the"), 1, id_of("was"), 1, id_of("soup")}));
  EXPECT_EQ(e.tokens, (std::vector<std::string>{"the", "<unk>", "was", "<unk>", "soup"}));
  // The offsets still point at the unknown words in the input.
  EXPECT_EQ(e.offsets[1], (std::pair<std::size_t, std::size_t>{4, 11}));
  EXPECT_EQ(tok->decode(e.ids), "the <unk> was <unk> soup");
  EXPECT_EQ(tok->decode(e.ids, true), "the was soup");  // <unk> is special
}

TEST_F(WordLevelSynthetic, PunctuationIsAWordOfItsOwnOnlyWhenSeparatedBySpaces) {
  // The writer puts spaces around every punctuation mark, so WhitespaceSplit is the exact tokenisation; a
  // mark glued to a word makes the whole piece unknown, as in the Rust WordLevel model.
  auto tok = load_tokenizer(tokenizer_dir());
  EXPECT_EQ(tok->encode("good .").ids, (std::vector<int>{id_of("good"), id_of(".")}));
  EXPECT_EQ(tok->encode("good.").ids, (std::vector<int>{1}));
  EXPECT_EQ(tok->encode("honestly , it was good ?").ids,
            (std::vector<int>{id_of("honestly"), id_of(","), id_of("it"), id_of("was"), id_of("good"), id_of("?")}));
  // Any run of Unicode whitespace separates words; leading and trailing whitespace gives nothing.
  EXPECT_EQ(tok->encode("  good\t\t.\n").ids, tok->encode("good .").ids);
  EXPECT_EQ(tok->encode("good\u3000.").ids, tok->encode("good .").ids);  // ideographic space
  EXPECT_TRUE(tok->encode("").ids.empty());
  EXPECT_TRUE(tok->encode(" \t ").ids.empty());
}

TEST_F(WordLevelSynthetic, EncodeDecodeRoundTripsEveryCorpusAndTaskLine) {
  auto tok = load_tokenizer(tokenizer_dir());
  std::vector<std::string> texts = read_lines(data_dir() + "/corpus.txt");
  ASSERT_EQ(texts.size(), 300u);
  for (const char* task : {"sentiment2", "topic", "entailment"}) {
    auto lines = read_lines(data_dir() + "/" + task + "/train.tsv");
    ASSERT_EQ(lines.size(), 21u) << task;
    for (std::size_t i = 1; i < lines.size(); ++i) {  // columns of each row but the header
      std::istringstream row(lines[i]);
      for (std::string field; std::getline(row, field, '\t');) texts.push_back(field);
    }
  }
  std::size_t tokens = 0;
  for (const std::string& text : texts) {
    Encoding e = tok->encode(text);
    for (int id : e.ids) ASSERT_NE(id, tok->unk_id()) << "unknown word in: " << text;
    ASSERT_EQ(tok->decode(e.ids), text);
    ASSERT_EQ(tok->decode(e.ids, true), text);
    // One id per space-separated word.
    ASSERT_EQ(e.size(), static_cast<std::size_t>(std::count(text.begin(), text.end(), ' ') + 1)) << text;
    tokens += e.size();
  }
  EXPECT_GT(tokens, 3000u);
}

TEST_F(WordLevelSynthetic, SpecialTokensComeFromTheAddedTokensAndTheConfig) {
  auto tok = load_tokenizer(tokenizer_dir());
  EXPECT_EQ(tok->pad_id(), 0);
  EXPECT_EQ(tok->unk_id(), 1);
  EXPECT_EQ(tok->bos_id(), 2);
  EXPECT_EQ(tok->eos_id(), 3);
  EXPECT_EQ(tok->mask_id(), 4);
  EXPECT_EQ(tok->sep_id(), -1);
  EXPECT_EQ(tok->cls_id(), -1);
  for (int id = 0; id < 5; ++id) EXPECT_TRUE(tok->is_special(id)) << id;
  EXPECT_FALSE(tok->is_special(id_of("the")));
  EXPECT_EQ(tok->added_tokens().size(), 5u);

  // No post-processor: asking for special tokens adds none (callers place <s> / </s> themselves).
  EXPECT_EQ(tok->encode("the soup", true).ids, tok->encode("the soup", false).ids);
  Encoding pair = tok->encode_pair("the soup", "the film", true);
  EXPECT_EQ(pair.ids, (std::vector<int>{id_of("the"), id_of("soup"), id_of("the"), id_of("film")}));
  EXPECT_EQ(pair.type_ids, (std::vector<int>{0, 0, 1, 1}));

  // Special-token strings in the text are matched, even glued to words.
  Encoding e = tok->encode("<s>the soup<mask> </s>");
  EXPECT_EQ(e.ids, (std::vector<int>{2, id_of("the"), id_of("soup"), 4, 3}));
  EXPECT_EQ(e.tokens, (std::vector<std::string>{"<s>", "the", "soup", "<mask>", "</s>"}));
  EXPECT_EQ(tok->decode(e.ids), "<s> the soup <mask> </s>");
  EXPECT_EQ(tok->decode(e.ids, true), "the soup");
  EXPECT_EQ(tok->decode({0, 0, id_of("good"), 0}, true), "good");
}

TEST_F(WordLevelSynthetic, TokenizerJsonAloneUsesTheTransformersDefaults) {
  // Without tokenizer_config.json: unk is the model's unk_token, no other role is set, and decode cleans
  // up spaces before punctuation (PreTrainedTokenizerFast's default clean_up_tokenization_spaces=true).
  TempDir alone;
  alone.write("tokenizer.json", read_file(tokenizer_dir() + "/tokenizer.json"));
  auto tok = load_tokenizer(alone.path());
  EXPECT_EQ(tok->kind(), "wordlevel");
  EXPECT_EQ(tok->unk_id(), 1);
  EXPECT_EQ(tok->bos_id(), -1);
  EXPECT_EQ(tok->pad_id(), -1);
  EXPECT_TRUE(tok->is_special(2));  // flagged special in added_tokens
  EXPECT_TRUE(tok->clean_up_tokenization_spaces());
  const std::vector<int> ids = tok->encode("it was good , really good .").ids;
  EXPECT_EQ(tok->decode(ids), "it was good, really good.");
  EXPECT_EQ(tok->decode(ids, false, false), "it was good , really good .");
}

TEST_F(WordLevelSynthetic, DecodingAnUnknownIdIsAnError) {
  auto tok = load_tokenizer(tokenizer_dir());
  const int n = tok->vocab_size();
  std::string message = error_of([&] { tok->decode({id_of("the"), n}); });
  EXPECT_TRUE(contains(message, "token id " + std::to_string(n))) << message;
  EXPECT_TRUE(contains(message, tokenizer_dir())) << message;
  EXPECT_TRUE(contains(error_of([&] { tok->id_to_token(-1); }), "token id -1")) << message;
}

TEST_F(WordLevelSynthetic, TokenizeCommandEncodesWithTheSyntheticTokenizer) {
  if (!fs::exists(PTLAB_BINARY)) GTEST_SKIP() << "ptlab is not built: " << PTLAB_BINARY;
  TempDir io;
  const std::string in = io.write("in.txt", "the soup was good .\nthe zorblax\n");
  const std::string out = io.path() + "/out.txt", err = io.path() + "/err.txt";
  const std::string command =
      std::string(PTLAB_BINARY) + " tokenize " + tokenizer_dir() + " < " + in + " > " + out + " 2> " + err;
  const int status = std::system(command.c_str());
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << read_file(err);
  auto lines = read_lines(out);
  ASSERT_EQ(lines.size(), 2u) << read_file(out);
  json first = json::parse(lines[0]), second = json::parse(lines[1]);
  EXPECT_EQ(first["ids"], json({id_of("the"), id_of("soup"), id_of("was"), id_of("good"), id_of(".")}));
  EXPECT_EQ(first["tokens"], json({"the", "soup", "was", "good", "."}));
  EXPECT_EQ(second["tokens"], json({"the", "<unk>"}));
}

// ---- hand-written tokenizer.json files --------------------------------------------------------------

// A tokenizer.json with a WordLevel model over `vocab` and the given other sections.
std::string wordlevel_json(const json& vocab, const json& extra = json::object(), const json& unk = "[UNK]") {
  json j = {{"version", "1.0"},         {"added_tokens", json::array()}, {"normalizer", nullptr},
            {"pre_tokenizer", nullptr}, {"post_processor", nullptr},     {"decoder", nullptr}};
  j["model"] = {{"type", "WordLevel"}, {"vocab", vocab}};
  if (!unk.is_null()) j["model"]["unk_token"] = unk;
  for (const auto& [key, value] : extra.items()) j[key] = value;
  return j.dump();
}

const json kSmallVocab = {{"[UNK]", 0}, {"[CLS]", 1}, {"[SEP]", 2}, {"hello", 3}, {",", 4},
                          {"world", 5}, {"!", 6},     {"don", 7},   {"'", 8},     {"t", 9}};

TEST(WordLevelTokenizer, LowercaseWhitespaceAndTemplateProcessing) {
  TempDir dir;
  json extra = json::parse(R"({
    "normalizer": {"type": "Lowercase"},
    "pre_tokenizer": {"type": "Whitespace"},
    "post_processor": {"type": "TemplateProcessing",
      "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                 {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
      "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
               {"SpecialToken": {"id": "[SEP]", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}},
               {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
      "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [1], "tokens": ["[CLS]"]},
                         "[SEP]": {"id": "[SEP]", "ids": [2], "tokens": ["[SEP]"]}}}})");
  extra["added_tokens"] = json::array();
  for (const auto& [content, id] : {std::pair<const char*, int>{"[UNK]", 0}, {"[CLS]", 1}, {"[SEP]", 2}})
    extra["added_tokens"].push_back({{"id", id}, {"content", content}, {"normalized", false}, {"special", true}});
  dir.write("tokenizer.json", wordlevel_json(kSmallVocab, extra));
  auto tok = load_tokenizer(dir.path());
  ASSERT_EQ(tok->kind(), "wordlevel");

  Encoding e = tok->encode("Hello, WORLD! Don't");
  EXPECT_EQ(e.tokens, (std::vector<std::string>{"[CLS]", "hello", ",", "world", "!", "don", "'", "t", "[SEP]"}));
  EXPECT_EQ(e.ids, (std::vector<int>{1, 3, 4, 5, 6, 7, 8, 9, 2}));
  EXPECT_FALSE(e.has_offsets());  // the normaliser changed the text
  // Whitespace keeps runs of punctuation together: "!!" is one (unknown) piece.
  EXPECT_EQ(tok->encode("world!!", false).ids, (std::vector<int>{5, 0}));

  Encoding pair = tok->encode_pair("hello", "world", true);
  EXPECT_EQ(pair.ids, (std::vector<int>{1, 3, 2, 5, 2}));
  EXPECT_EQ(pair.type_ids, (std::vector<int>{0, 0, 0, 1, 1}));

  EXPECT_EQ(tok->decode(e.ids, true, false), "hello , world ! don ' t");
  EXPECT_EQ(tok->decode(e.ids, true), "hello, world! don't");  // clean_up_tokenization
  EXPECT_EQ(tok->decode(e.ids), "[CLS] hello, world! don't [SEP]");
}

TEST(WordLevelTokenizer, WhitespaceSplitThenPunctuation) {
  TempDir dir;
  json steps = json::parse(R"([{"type": "WhitespaceSplit"}, {"type": "Punctuation", "behavior": "Isolated"}])");
  json extra = {{"pre_tokenizer", {{"type", "Sequence"}, {"pretokenizers", steps}}}};
  const std::string file = dir.write("tokenizer.json", wordlevel_json(kSmallVocab, extra));
  auto tok = load_tokenizer(file);
  Encoding e = tok->encode("hello,world!! don't");
  EXPECT_EQ(e.ids, (std::vector<int>{3, 4, 5, 6, 6, 7, 8, 9}));
  ASSERT_TRUE(e.has_offsets());
  EXPECT_EQ(e.offsets[2], (std::pair<std::size_t, std::size_t>{6, 11}));
  EXPECT_EQ(tok->unk_id(), 0);
}

TEST(WordLevelTokenizer, NoPreTokenizerLooksUpTheWholeText) {
  TempDir dir;
  auto tok = load_tokenizer(dir.write("tokenizer.json", wordlevel_json(kSmallVocab)));
  EXPECT_EQ(tok->encode("hello").ids, (std::vector<int>{3}));
  EXPECT_EQ(tok->encode("hello world").ids, (std::vector<int>{0}));
}

TEST(WordLevelTokenizer, ModelWithoutTypeOrUnkTokenUsesTheRustDefaults) {
  // Old files omit "type"; a model with only an object vocab is WordLevel, and unk_token defaults to <unk>.
  TempDir dir;
  json j = {{"model", {{"vocab", {{"<unk>", 0}, {"a", 1}, {"b", 3}}}}},
            {"pre_tokenizer", {{"type", "WhitespaceSplit"}}}};
  auto tok = load_tokenizer(dir.write("tokenizer.json", j.dump()));
  EXPECT_EQ(tok->kind(), "wordlevel");
  EXPECT_EQ(tok->encode("a b c").ids, (std::vector<int>{1, 3, 0}));
  EXPECT_EQ(tok->vocab_size(), 4);
  // Id 2 is a gap in the vocabulary.
  std::string message = error_of([&] { tok->id_to_token(2); });
  EXPECT_TRUE(contains(message, "token id 2")) << message;
  EXPECT_TRUE(contains(message, "no token with this id")) << message;
}

// The message of loading a tokenizer.json with this content; every message is one line naming the file.
std::string load_error(const TempDir& dir, const std::string& content) {
  const std::string file = dir.write("tokenizer.json", content);
  std::string message = error_of([&] { load_tokenizer(dir.path()); });
  EXPECT_FALSE(message.empty()) << content;
  EXPECT_TRUE(contains(message, file)) << message;
  EXPECT_FALSE(contains(message, "\n")) << message;
  return message;
}

TEST(WordLevelTokenizer, BadFilesAreOneLineErrors) {
  TempDir dir;
  std::string m = load_error(dir, R"({"model": {"type": "WordLevel", "unk_token": "<unk>"}})");
  EXPECT_TRUE(contains(m, "has no \"vocab\"")) << m;

  m = load_error(dir, R"({"model": {"type": "WordLevel", "vocab": [["a", 0]], "unk_token": "a"}})");
  EXPECT_TRUE(contains(m, "model.vocab must be an object")) << m;

  m = load_error(dir, R"({"model": {"type": "WordLevel", "vocab": {}, "unk_token": "a"}})");
  EXPECT_TRUE(contains(m, "model.vocab is empty")) << m;

  m = load_error(dir, wordlevel_json({{"[UNK]", 0}, {"hello", 1}}, json::object(), "[UNKK]"));
  EXPECT_TRUE(contains(m, "model.unk_token '[UNKK]' is not in model.vocab")) << m;
  EXPECT_TRUE(contains(m, "did you mean [UNK]")) << m;

  // The Rust default unk_token is <unk>, which this vocabulary lacks.
  m = load_error(dir, wordlevel_json({{"[UNK]", 0}}, json::object(), json()));
  EXPECT_TRUE(contains(m, "'<unk>' is not in model.vocab")) << m;

  m = load_error(dir, wordlevel_json({{"[UNK]", 0}}, json::object(), 7));
  EXPECT_TRUE(contains(m, "model.unk_token must be a string, got 7")) << m;

  m = load_error(dir, wordlevel_json({{"[UNK]", 0}, {"hello", -1}}));
  EXPECT_TRUE(contains(m, "the id of 'hello' must be an integer in [0, 16777216), got -1")) << m;
  m = load_error(dir, wordlevel_json({{"[UNK]", 0}, {"hello", "1"}}));
  EXPECT_TRUE(contains(m, "the id of 'hello'")) << m;
  m = load_error(dir, wordlevel_json({{"[UNK]", 0}, {"hello", 4000000000}}));
  EXPECT_TRUE(contains(m, "got 4000000000")) << m;

  m = load_error(dir, wordlevel_json({{"[UNK]", 0}, {"hello", 1}, {"world", 1}}));
  EXPECT_TRUE(contains(m, "'hello' and 'world' both have id 1")) << m;

  m = load_error(dir, wordlevel_json(kSmallVocab, {{"decoder", {{"type", "WordPiece"}}}}));
  EXPECT_TRUE(contains(m, "decoder: type 'WordPiece' is not supported for a WordLevel model")) << m;

  m = load_error(dir, wordlevel_json(kSmallVocab, {{"pre_tokenizer", {{"type", "ByteLevel"}}}}));
  EXPECT_TRUE(contains(m, "ByteLevel step is not supported with a WordLevel model")) << m;

  m = load_error(dir, wordlevel_json(kSmallVocab, {{"pre_tokenizer", {{"type", "Metaspace"}}}}));
  EXPECT_TRUE(contains(m, "pre-tokenizer type 'Metaspace' is not supported")) << m;
  EXPECT_TRUE(contains(m, "WhitespaceSplit")) << m;

  m = load_error(dir, wordlevel_json(kSmallVocab, {{"normalizer", {{"type", "BertNormalizer"}}}}));
  EXPECT_TRUE(contains(m, "normalizer")) << m;
  EXPECT_TRUE(contains(m, "'BertNormalizer'")) << m;

  m = load_error(dir, wordlevel_json(kSmallVocab, {{"added_tokens", json::parse(R"([{"content": "x"}])")}}));
  EXPECT_TRUE(contains(m, "added_tokens")) << m;
}

TEST(WordLevelTokenizer, UnsupportedModelMessageListsWordLevel) {
  TempDir dir;
  dir.write("tokenizer.json", R"({"model": {"type": "Unigram", "vocab": [["<unk>", 0.0]]}})");
  std::string message = error_of([&] { load_tokenizer(dir.path()); });
  EXPECT_TRUE(contains(message, "WordLevel")) << message;
}

}  // namespace
}  // namespace ptlab::text
