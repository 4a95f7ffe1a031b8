// Test support for tests/text: paths into ../shared, a temporary directory, and the golden comparison —
// a tokenizer against a file of ../shared/golden/tokenizers (see its README): ids, tokens, ids_special,
// tokens_special, decoded, decoded_raw, decoded_skip_special and, for the BERT kits, pair_ids /
// pair_token_type_ids, on every line. Mismatches are reported with the line, its source and both values
// (the first few per field), and counted per field.
#pragma once

#include "framework/core/error.h"
#include "framework/text/sentencepiece_library.h"
#include "framework/text/tokenizer.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace ptlab::text::testing {

inline std::string shared_path(const std::string& relative) { return std::string(PTLAB_SHARED_DIR) + "/" + relative; }

inline bool shared_available(const std::string& relative) { return std::filesystem::exists(shared_path(relative)); }

#define PTLAB_REQUIRE_SHARED(relative)                     \
  if (!::ptlab::text::testing::shared_available(relative)) \
  GTEST_SKIP() << "../shared not found: " << ::ptlab::text::testing::shared_path(relative)

/// SentencePiece tokenizers need libsentencepiece, which sanitizer builds cannot load next to LibTorch.
#define PTLAB_REQUIRE_SENTENCEPIECE()            \
  if (!::ptlab::text::sentencepiece_supported()) \
  GTEST_SKIP() << "SentencePiece is unavailable in this sanitizer build (see sentencepiece_library.h)"

/// A fresh directory under the system temp dir, removed with its contents at scope exit.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "ptlab_text_XXXXXX").string();
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  /// Writes `content` to `name` inside the directory and returns the file's path.
  std::string write(const std::string& name, const std::string& content) const {
    std::string p = path_ + "/" + name;
    std::ofstream(p, std::ios::binary) << content;
    return p;
  }
  /// Symlinks `target` as `name` inside the directory and returns the link's path.
  std::string link(const std::string& name, const std::string& target) const {
    std::string p = path_ + "/" + name;
    std::filesystem::create_symlink(target, p);
    return p;
  }

 private:
  std::string path_;
};

/// The message of the ptlab::Error that `f` throws ("" when it throws none).
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const ::ptlab::Error& e) {
    return e.what();
  }
  return "";
}

inline std::vector<nlohmann::json> read_golden(const std::string& kit) {
  std::ifstream in(shared_path("golden/tokenizers/" + kit + ".jsonl"));
  std::vector<nlohmann::json> lines;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

/// Field name -> number of mismatching lines.
inline std::map<std::string, int> compare_with_golden(const Tokenizer& tok, const std::string& kit,
                                                      int max_reports_per_field = 3) {
  std::map<std::string, int> errors;
  auto lines = read_golden(kit);
  EXPECT_EQ(lines.size(), 406u) << kit;
  auto report = [&](const std::string& field, std::size_t i, const nlohmann::json& line, const nlohmann::json& want,
                    const nlohmann::json& got) {
    if (++errors[field] <= max_reports_per_field)
      ADD_FAILURE() << kit << " line " << i << " (" << line["source"].get<std::string>() << ") " << field
                    << "\n  text: " << nlohmann::json(line["text"]).dump() << "\n  want: " << want.dump()
                    << "\n  got:  " << got.dump();
  };
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto& line = lines[i];
    const std::string text = line["text"];
    const Encoding plain = tok.encode(text, false);
    const Encoding special = tok.encode(text, true);
    const auto ids = line["ids"].get<std::vector<int>>();
    const auto ids_special = line["ids_special"].get<std::vector<int>>();
    if (plain.ids != ids) report("ids", i, line, ids, plain.ids);
    if (plain.tokens != line["tokens"].get<std::vector<std::string>>())
      report("tokens", i, line, line["tokens"], plain.tokens);
    if (special.ids != ids_special) report("ids_special", i, line, ids_special, special.ids);
    if (special.tokens != line["tokens_special"].get<std::vector<std::string>>())
      report("tokens_special", i, line, line["tokens_special"], special.tokens);
    // Decoding is checked from the golden ids, so an encoding mismatch does not hide a decoding one.
    std::string decoded = tok.decode(ids);
    if (decoded != line["decoded"].get<std::string>()) report("decoded", i, line, line["decoded"], decoded);
    std::string raw = tok.decode(ids, false, false);
    if (raw != line["decoded_raw"].get<std::string>()) report("decoded_raw", i, line, line["decoded_raw"], raw);
    std::string skip = tok.decode(ids_special, true);
    if (skip != line["decoded_skip_special"].get<std::string>())
      report("decoded_skip_special", i, line, line["decoded_skip_special"], skip);
    if (line.contains("pair_ids")) {
      const Encoding pair = tok.encode_pair(text, line["pair_text_b"].get<std::string>(), true);
      if (pair.ids != line["pair_ids"].get<std::vector<int>>()) report("pair_ids", i, line, line["pair_ids"], pair.ids);
      if (pair.type_ids != line["pair_token_type_ids"].get<std::vector<int>>())
        report("pair_token_type_ids", i, line, line["pair_token_type_ids"], pair.type_ids);
    }
  }
  return errors;
}

/// Asserts that every field of every line matches.
inline void expect_golden(const Tokenizer& tok, const std::string& kit) {
  auto errors = compare_with_golden(tok, kit);
  for (const auto& [field, count] : errors) ADD_FAILURE() << kit << ": " << count << " lines differ in " << field;
}

}  // namespace ptlab::text::testing
