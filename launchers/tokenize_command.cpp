// `ptlab tokenize DIR|FILE [--pair] [--no-special-tokens] < lines.txt`: encodes each line of stdin with the
// tokenizer of a model directory (or a tokenizer file) and prints one JSON object per line — a quick way
// to check what a model will see, and to compare ptlab's tokenizers with Hugging Face's.
#include "framework/core/error.h"
#include "framework/core/suggest.h"
#include "framework/text/tokenizer.h"
#include "launchers/command.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

namespace ptlab::launchers {
namespace {

constexpr const char* kHelp =
    "usage: ptlab tokenize DIR|FILE [--pair] [--no-special-tokens] < lines.txt\n"
    "\n"
    "Encodes every line of standard input (UTF-8; a line ends at \\n, which is not part of the text) with\n"
    "the tokenizer of a model directory or tokenizer file, and prints one JSON line per input line:\n"
    "  {\"ids\": [...], \"tokens\": [...]}\n"
    "\n"
    "DIR|FILE             a model directory (tokenizer.json, vocab.json + merges.txt, vocab.txt,\n"
    "                     tokenizer.model / spiece.model, with tokenizer_config.json etc.) or one of those files\n"
    "--pair               each line is text_a<TAB>text_b; encodes the pair and adds \"token_type_ids\"\n"
    "--no-special-tokens  do not add the template's special tokens ([CLS]/[SEP], <s>, </s>, ...)\n"
    "-h, --help           this message\n";

int run_tokenize(const std::vector<std::string>& args) {
  if (wants_help(args)) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  bool pair = false, special = true;
  std::vector<std::string> paths;
  const std::vector<std::string> options = {"--pair", "--no-special-tokens", "--help"};
  for (const std::string& a : args) {
    if (a == "--pair") {
      pair = true;
    } else if (a == "--no-special-tokens") {
      special = false;
    } else if (a.size() > 1 && a[0] == '-') {
      PTLAB_FAIL("ptlab tokenize: unknown option '{}'{}; options: {}", a, did_you_mean(a, options),
                 join_names(options));
    } else {
      paths.push_back(a);
    }
  }
  PTLAB_CHECK(paths.size() == 1, "ptlab tokenize: expected one tokenizer directory or file, got {}{}\n{}", paths.size(),
              paths.empty() ? "" : " (" + join_names(paths) + ")", kHelp);
  const auto tokenizer = text::load_tokenizer(paths[0]);

  std::string line;
  for (std::size_t number = 1; std::getline(std::cin, line); ++number) {
    nlohmann::ordered_json out;
    text::Encoding e;
    try {
      if (pair) {
        const std::size_t tab = line.find('\t');
        PTLAB_CHECK(tab != std::string::npos, "--pair expects text_a<TAB>text_b, but the line has no tab");
        e = tokenizer->encode_pair(std::string_view(line).substr(0, tab), std::string_view(line).substr(tab + 1),
                                   special);
      } else {
        e = tokenizer->encode(line, special);
      }
    } catch (const Error& err) {
      PTLAB_FAIL("standard input line {}: {}", number, err.what());
    }
    out["ids"] = e.ids;
    out["tokens"] = e.tokens;
    if (pair) out["token_type_ids"] = e.type_ids;
    std::string s = out.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
    s += '\n';
    std::fwrite(s.data(), 1, s.size(), stdout);
  }
  std::fflush(stdout);
  return 0;
}

}  // namespace

void add_tokenize_command(CommandRegistry& registry) {
  registry.add("tokenize", "encode lines of stdin with a model's tokenizer (JSON lines out)",
               Command{kHelp, run_tokenize});
}

}  // namespace ptlab::launchers
