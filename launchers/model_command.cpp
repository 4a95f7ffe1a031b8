// `ptlab model info DIR` and `ptlab model forward DIR --input in.safetensors --output out.safetensors`:
// what a Hugging Face model directory holds, and one forward pass on given tensors (for checks against
// transformers and for scripting).
#include "framework/core/error.h"
#include "framework/core/suggest.h"
#include "framework/io/safetensors.h"
#include "framework/models/gguf_import.h"
#include "framework/models/loader.h"
#include "launchers/command.h"
#include "launchers/option_parser.h"

#include <ATen/core/grad_mode.h>
#include <nlohmann/json.hpp>

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

namespace ptlab::launchers {
namespace {

constexpr const char* kHelp =
    "usage: ptlab model info DIR [--json] [--dtype fp32|bf16|fp16] [--device cpu|cuda[:N]]\n"
    "       ptlab model forward DIR --input in.safetensors --output out.safetensors [--hidden-states]\n"
    "                               [--dtype fp32|bf16|fp16] [--device cpu|cuda[:N]]\n"
    "       ptlab model import FILE.gguf|DIR OUT_DIR [--dtype fp32|bf16|fp16] [--force]\n"
    "\n"
    "DIR may also be a .gguf file (llama.cpp's format): it is imported once into ~/.cache/ptlab/gguf/ and\n"
    "loaded from there.\n"
    "\n"
    "info     loads DIR (config.json + model.safetensors or model.safetensors.index.json) and prints the\n"
    "         family, layers, hidden size, heads, KV heads, vocabulary and parameter counts (with and\n"
    "         without embeddings). --json prints one JSON object instead.\n"
    "forward  runs one forward pass. Reads from --input: input_ids [B, T] (required), attention_mask,\n"
    "         token_type_ids (BERT), position_ids, decoder_input_ids and decoder_attention_mask (T5).\n"
    "         Writes to --output (fp32): logits, last_hidden_state, with --hidden-states also\n"
    "         hidden_states.0..L (0 = embeddings output, L = after the final norm; the decoder's for T5),\n"
    "         and for T5 encoder_last_hidden_state (+ encoder_hidden_states.N); pooled for BERT with a pooler.\n"
    "import   converts a GGUF file (or the one .gguf inside DIR) into a Hugging Face directory: config.json,\n"
    "         model.safetensors (every tensor dequantized; ggml's arithmetic, bit-exact), tokenizer.json and\n"
    "         tokenizer_config.json rebuilt from tokenizer.ggml.*. Architectures: llama (SmolLM2, Llama, ...).\n"
    "         Prints the time and the peak memory. --force replaces a non-empty OUT_DIR.\n"
    "--dtype   parameter dtype (default fp32)\n"
    "--device  cpu (default), cuda or cuda:N\n";

std::string with_commas(int64_t n) {
  std::string s = std::to_string(n), out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i && (s.size() - i) % 3 == 0) out += ',';
    out += s[i];
  }
  return out;
}

models::LoadOptions load_options(const OptionParser& opts) {
  models::LoadOptions options;
  options.dtype = models::parse_dtype(opts.get("--dtype", "fp32"));
  options.device = models::parse_device(opts.get("--device", "cpu"));
  return options;
}

int run_info(const std::vector<std::string>& args) {
  OptionParser opts("ptlab model info", {"--json"}, {"--dtype", "--device"});
  opts.parse(args);
  opts.expect_positional(1, "one model directory");
  auto model = models::load_backbone(opts.positional()[0], load_options(opts));
  const auto& i = model->info();
  const int64_t without = i.num_parameters - i.num_embedding_parameters;
  if (opts.flag("--json")) {
    nlohmann::ordered_json j = {{"family", i.family},
                                {"model_type", i.model_type},
                                {"layers", i.num_layers},
                                {"decoder_layers", i.num_decoder_layers},
                                {"hidden_size", i.hidden_size},
                                {"heads", i.num_heads},
                                {"kv_heads", i.num_kv_heads},
                                {"head_dim", i.head_dim},
                                {"intermediate_size", i.intermediate_size},
                                {"vocab_size", i.vocab_size},
                                {"max_positions", i.max_positions},
                                {"tied_embeddings", i.tied_embeddings},
                                {"is_encoder_decoder", i.is_encoder_decoder},
                                {"parameters", i.num_parameters},
                                {"parameters_without_embeddings", without},
                                {"dtype", models::dtype_name(model->dtype())}};
    std::printf("%s\n", j.dump().c_str());
    return 0;
  }
  std::printf("family           %s (model_type %s)\n", i.family.c_str(), i.model_type.c_str());
  if (i.is_encoder_decoder)
    std::printf("layers           %lld encoder + %lld decoder\n", static_cast<long long>(i.num_layers),
                static_cast<long long>(i.num_decoder_layers));
  else
    std::printf("layers           %lld\n", static_cast<long long>(i.num_layers));
  std::printf("hidden size      %lld\n", static_cast<long long>(i.hidden_size));
  std::printf("heads            %lld (head dim %lld)\n", static_cast<long long>(i.num_heads),
              static_cast<long long>(i.head_dim));
  std::printf("kv heads         %lld\n", static_cast<long long>(i.num_kv_heads));
  std::printf("intermediate     %lld\n", static_cast<long long>(i.intermediate_size));
  std::printf("vocab            %lld\n", static_cast<long long>(i.vocab_size));
  std::printf("max positions    %s\n",
              i.max_positions > 0 ? std::to_string(i.max_positions).c_str() : "unbounded (relative / rotary)");
  std::printf("tied embeddings  %s\n", i.tied_embeddings ? "yes" : "no");
  std::printf("parameters       %s with embeddings, %s without\n", with_commas(i.num_parameters).c_str(),
              with_commas(without).c_str());
  std::printf("dtype            %s\n", models::dtype_name(model->dtype()).c_str());
  return 0;
}

int run_forward(const std::vector<std::string>& args) {
  OptionParser opts("ptlab model forward", {"--hidden-states"}, {"--input", "--output", "--dtype", "--device"});
  opts.parse(args);
  opts.expect_positional(1, "one model directory");
  PTLAB_CHECK(opts.has("--input") && opts.has("--output"),
              "ptlab model forward: --input in.safetensors and --output out.safetensors are required");
  auto model = models::load_backbone(opts.positional()[0], load_options(opts));
  const std::string input_path = *opts.get("--input");
  auto tensors = io::load_safetensors(input_path);

  models::BackboneInput in;
  const std::vector<std::string> known = {"input_ids",       "attention_mask",     "token_type_ids",
                                          "position_ids",    "decoder_input_ids",  "decoder_attention_mask"};
  for (const auto& [name, t] : tensors) {
    PTLAB_CHECK(std::find(known.begin(), known.end(), name) != known.end(),
                "{}: unexpected tensor '{}'{}; the input may hold {}", input_path, name, did_you_mean(name, known),
                join_names(known));
    PTLAB_CHECK(!at::isFloatingType(t.scalar_type()), "{}: tensor '{}' must hold integers, got {}", input_path, name,
                c10::toString(t.scalar_type()));
  }
  PTLAB_CHECK(tensors.count("input_ids"), "{}: tensor 'input_ids' [B, T] is required", input_path);
  auto get = [&](const char* name) { return tensors.count(name) ? tensors.at(name).to(at::kLong) : at::Tensor(); };
  in.input_ids = get("input_ids");
  in.attention_mask = get("attention_mask");
  in.token_type_ids = get("token_type_ids");
  in.position_ids = get("position_ids");
  in.decoder_input_ids = get("decoder_input_ids");
  in.decoder_attention_mask = get("decoder_attention_mask");
  PTLAB_CHECK(!model->info().is_encoder_decoder || in.decoder_input_ids.defined(),
              "{}: {} is an encoder-decoder model; the input needs 'decoder_input_ids'", input_path,
              model->info().family);
  in.output_hidden_states = opts.flag("--hidden-states");

  at::NoGradGuard no_grad;
  auto out = model->forward(in);
  std::vector<std::pair<std::string, at::Tensor>> result;
  auto put = [&](const std::string& name, const at::Tensor& t) {
    if (t.defined()) result.emplace_back(name, t.to(at::kFloat).contiguous());
  };
  put("logits", out.logits);
  put("last_hidden_state", out.last_hidden_state);
  put("pooled", out.pooled);
  put("encoder_last_hidden_state", out.encoder_last_hidden_state);
  for (std::size_t l = 0; l < out.hidden_states.size(); ++l) put("hidden_states." + std::to_string(l), out.hidden_states[l]);
  for (std::size_t l = 0; l < out.encoder_hidden_states.size(); ++l)
    put("encoder_hidden_states." + std::to_string(l), out.encoder_hidden_states[l]);
  io::save_safetensors(*opts.get("--output"), result, {{"format", "pt"}});
  return 0;
}

int run_import(const std::vector<std::string>& args) {
  OptionParser opts("ptlab model import", {"--force"}, {"--dtype"});
  opts.parse(args);
  opts.expect_positional(2, "a .gguf file (or a directory holding one) and an output directory");
  namespace fs = std::filesystem;
  std::string source = opts.positional()[0];
  const std::string out = opts.positional()[1];
  std::error_code ec;
  if (fs::is_directory(source, ec)) {
    std::vector<std::string> found;
    for (const auto& e : fs::directory_iterator(source, ec))
      if (e.is_regular_file() && e.path().extension() == ".gguf") found.push_back(e.path().string());
    std::sort(found.begin(), found.end());
    PTLAB_CHECK(found.size() == 1, "ptlab model import: {} holds {} .gguf files{}; give the file itself", source,
                found.size(), found.empty() ? "" : fmt::format(" ({})", join_names(found)));
    source = found[0];
  }
  PTLAB_CHECK(models::is_gguf_path(source),
              "ptlab model import: {} is not a .gguf file (llama.cpp's format) or a directory holding one", source);
  PTLAB_CHECK(opts.flag("--force") || !fs::exists(out, ec) || (fs::is_directory(out, ec) && fs::is_empty(out, ec)),
              "ptlab model import: {} exists and is not empty; pass --force to replace its files", out);
  const auto start = std::chrono::steady_clock::now();
  models::import_gguf(source, out, models::parse_dtype(opts.get("--dtype", "fp32")));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  std::printf("imported %s -> %s in %.1f s, peak memory %.0f MiB\n", source.c_str(), out.c_str(), seconds,
              static_cast<double>(usage.ru_maxrss) / 1024.0);
  return 0;
}

int run_model(const std::vector<std::string>& args) {
  if (args.empty() || args[0] == "-h" || args[0] == "--help") {
    std::fputs(kHelp, stdout);
    return args.empty() ? 2 : 0;
  }
  if (wants_help(args)) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  const std::vector<std::string> subcommands = {"info", "forward", "import"};
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  if (args[0] == "import") return run_import(rest);
  if (args[0] == "info") return run_info(rest);
  if (args[0] == "forward") return run_forward(rest);
  PTLAB_FAIL("ptlab model: unknown subcommand '{}'{}; subcommands: {}", args[0], did_you_mean(args[0], subcommands),
             join_names(subcommands));
}

}  // namespace

void add_model_command(CommandRegistry& registry) {
  registry.add("model", "inspect a model, run one forward pass, import a GGUF file", Command{kHelp, run_model});
}

}  // namespace ptlab::launchers
