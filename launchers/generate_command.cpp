// `ptlab generate DIR --prompt TEXT --max-new-tokens N [--greedy | sampling options]`: continues a prompt
// with a model directory's own tokenizer (framework/text) and the KV-cached generator.
#include "framework/core/error.h"
#include "framework/core/threads.h"
#include "framework/models/generate.h"
#include "framework/models/loader.h"
#include "framework/text/tokenizer.h"
#include "launchers/command.h"
#include "launchers/option_parser.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

namespace ptlab::launchers {
namespace {

constexpr const char* kHelp =
    "usage: ptlab generate DIR (--prompt TEXT | --prompt-ids 1,2,3) [--max-new-tokens N] [--greedy]\n"
    "                      [--temperature T] [--top-k K] [--top-p P] [--seed S] [--json]\n"
    "                      [--dtype fp32|bf16] [--device cpu|cuda[:N]] [--threads N]\n"
    "\n"
    "Continues the prompt with the model in DIR and prints the text (prompt and continuation, special tokens\n"
    "skipped). Greedy decoding unless --temperature, --top-k or --top-p is given (then sampling, seeded by\n"
    "--seed, default 0); --greedy forces greedy. Stops at the model's eos token or after N new tokens\n"
    "(default 20).\n"
    "\n"
    "--prompt TEXT      encoded with DIR's tokenizer, special tokens added as the model expects (e.g. <s>)\n"
    "--prompt-ids LIST  token ids instead of text (no tokenizer needed)\n"
    "--json             print {\"ids\", \"new_ids\", \"text\"} as one JSON line\n"
    "--threads N        intra-op threads (default: all cores)\n";

std::vector<int64_t> parse_ids(const std::string& text) {
  std::vector<int64_t> ids;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    char* end = nullptr;
    long long v = std::strtoll(item.c_str(), &end, 10);
    PTLAB_CHECK(!item.empty() && end && *end == '\0' && v >= 0,
                "ptlab generate: --prompt-ids needs comma-separated non-negative integers, got '{}'", text);
    ids.push_back(v);
  }
  PTLAB_CHECK(!ids.empty(), "ptlab generate: --prompt-ids is empty");
  return ids;
}

int run_generate(const std::vector<std::string>& args) {
  if (wants_help(args)) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  OptionParser opts("ptlab generate", {"--greedy", "--json"},
                    {"--prompt", "--prompt-ids", "--max-new-tokens", "--temperature", "--top-k", "--top-p", "--seed",
                     "--dtype", "--device", "--threads"});
  opts.parse(args);
  opts.expect_positional(1, "one model directory");
  PTLAB_CHECK(opts.has("--prompt") != opts.has("--prompt-ids"),
              "ptlab generate: give exactly one of --prompt TEXT and --prompt-ids 1,2,3");
  configure_threads(static_cast<int>(opts.get_int("--threads", 0)), 1);
  const std::string dir = opts.positional()[0];

  models::GenerationConfig config;
  config.max_new_tokens = opts.get_int("--max-new-tokens", 20);
  config.do_sample = !opts.flag("--greedy") && (opts.has("--temperature") || opts.has("--top-k") || opts.has("--top-p"));
  config.temperature = opts.get_double("--temperature", 1.0);
  config.top_k = opts.get_int("--top-k", 0);
  config.top_p = opts.get_double("--top-p", 1.0);
  config.seed = static_cast<uint64_t>(opts.get_int("--seed", 0));

  std::unique_ptr<text::Tokenizer> tokenizer;
  std::vector<int64_t> prompt;
  if (opts.has("--prompt")) {
    tokenizer = text::load_tokenizer(dir);
    for (int id : tokenizer->encode(*opts.get("--prompt")).ids) prompt.push_back(id);
    PTLAB_CHECK(!prompt.empty(), "ptlab generate: the prompt encodes to no tokens");
  } else {
    prompt = parse_ids(*opts.get("--prompt-ids"));
  }
  models::LoadOptions load;
  load.dtype = models::parse_dtype(opts.get("--dtype", "fp32"));
  load.device = models::parse_device(opts.get("--device", "cpu"));
  auto model = models::load_backbone(dir, load);

  models::BackboneInput in;
  in.input_ids = at::tensor(prompt, at::kLong).unsqueeze(0);  // [1, T]
  auto result = models::generate(*model, in, config);
  result.sequences = result.sequences.to(at::kCPU).contiguous();
  result.new_tokens = result.new_tokens.to(at::kCPU).contiguous();
  std::vector<int64_t> ids(result.sequences.data_ptr<int64_t>(),
                           result.sequences.data_ptr<int64_t>() + result.sequences.numel());
  std::vector<int64_t> new_ids(result.new_tokens.data_ptr<int64_t>(),
                               result.new_tokens.data_ptr<int64_t>() + result.new_tokens.numel());
  std::string text;
  if (tokenizer) {
    std::vector<int> as_int(ids.begin(), ids.end());
    text = tokenizer->decode(as_int, /*skip_special_tokens=*/true);
  }
  if (opts.flag("--json")) {
    nlohmann::ordered_json j = {{"ids", ids}, {"new_ids", new_ids}};
    if (tokenizer) j["text"] = text;
    std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace).c_str());
  } else if (tokenizer) {
    std::printf("%s\n", text.c_str());
  } else {
    std::string s;
    for (std::size_t i = 0; i < ids.size(); ++i) s += (i ? "," : "") + std::to_string(ids[i]);
    std::printf("%s\n", s.c_str());
  }
  return 0;
}

}  // namespace

void add_generate_command(CommandRegistry& registry) {
  registry.add("generate", "continue a prompt with a model (greedy or sampling, KV cache)",
               Command{kHelp, run_generate});
}

}  // namespace ptlab::launchers
