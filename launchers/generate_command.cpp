// `ptlab generate DIR --prompt TEXT --max-new-tokens N [--greedy | sampling options] [--adapter PATH]`:
// continues a prompt with a model directory's own tokenizer (framework/text) and the KV-cached generator,
// optionally through a trained soft prompt: a PEFT prompt-tuning or prefix-tuning adapter (what every
// prompt_tuning / prefix_tuning run writes to RUN/adapter, or one PEFT saved). The adapter is loaded into
// the method itself (methods/), so the prompt it builds — virtual tokens in front (prompt tuning; T5: the
// encoder's), or every layer's key/value prefix seeding the KV cache (prefix tuning; T5: the decoder's)
// — is exactly the one training and `ptlab eval` use.
#include "framework/config/reader.h"
#include "framework/core/error.h"
#include "framework/core/threads.h"
#include "framework/io/peft_files.h"
#include "framework/models/generate.h"
#include "framework/models/loader.h"
#include "framework/text/tokenizer.h"
#include "launchers/command.h"
#include "launchers/option_parser.h"
#include "methods/builtin_methods.h"
#include "methods/method.h"
#include "tasks/batch.h"
#include "tasks/task.h"

#include <yaml-cpp/yaml.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <memory>

#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

namespace ptlab::launchers {
namespace {

constexpr const char* kHelp =
    "usage: ptlab generate DIR (--prompt TEXT | --prompt-ids 1,2,3) [--max-new-tokens N] [--greedy]\n"
    "                      [--temperature T] [--top-k K] [--top-p P] [--seed S] [--json]\n"
    "                      [--dtype fp32|bf16] [--device cpu|cuda[:N]] [--threads N] [--adapter PATH]\n"
    "\n"
    "Continues the prompt with the model in DIR and prints the text (prompt and continuation, special tokens\n"
    "skipped). Greedy decoding unless --temperature, --top-k or --top-p is given (then sampling, seeded by\n"
    "--seed, default 0); --greedy forces greedy. Stops at the model's eos token or after N new tokens\n"
    "(default 20).\n"
    "\n"
    "--prompt TEXT      encoded with DIR's tokenizer, special tokens added as the model expects (e.g. <s>)\n"
    "--prompt-ids LIST  token ids instead of text (no tokenizer needed)\n"
    "--adapter PATH     generate through a trained soft prompt: a PEFT PROMPT_TUNING or PREFIX_TUNING adapter\n"
    "                   directory, or a run directory holding one in adapter/ (prompt_tuning, prefix_tuning\n"
    "                   runs); it must belong to DIR's model\n"
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

// The method an adapter directory holds, loaded, on `model` (a plain lm task stands in for the task: it only
// decides where virtual tokens go, in front). Errors: not an adapter, a PEFT type ptlab does not generate
// with, an adapter of another model (the method's load_state names the shapes).
struct AdapterPrompt {
  std::unique_ptr<tasks::Task> task;
  std::unique_ptr<methods::Method> method;
};

AdapterPrompt load_adapter(const std::string& path, models::Backbone& model, const text::Tokenizer& tokenizer) {
  namespace fs = std::filesystem;
  const std::string dir = fs::exists(fs::path(path) / "adapter_config.json") || !fs::exists(fs::path(path) / "adapter")
                              ? path
                              : path + "/adapter";
  const nlohmann::json json = io::peft_files::read_config(dir);
  const std::string type = json.value("peft_type", std::string());
  PTLAB_CHECK(type == "PROMPT_TUNING" || type == "PREFIX_TUNING",
              "ptlab generate: {}/adapter_config.json: peft_type '{}' is not one ptlab generates with; expected "
              "PROMPT_TUNING or PREFIX_TUNING",
              dir, type);
  PTLAB_CHECK(json.contains("num_virtual_tokens") && json["num_virtual_tokens"].is_number_integer(),
              "ptlab generate: {}/adapter_config.json: num_virtual_tokens must be an integer", dir);
  const int64_t n = json["num_virtual_tokens"].get<int64_t>();
  static config::Origins origins;  // Readers keep a pointer to it
  YAML::Node task_node = YAML::Load("{type: lm, template: '{text_a}', max_length: 0}");
  origins.set_subtree("task", task_node, "ptlab generate");
  AdapterPrompt out;
  out.task =
      tasks::make_task(tasks::TaskConfig::decode(config::Reader(task_node, "task", origins), origins, "generate"),
                       tokenizer, model.info());
  YAML::Node method_node =
      YAML::Load(type == "PREFIX_TUNING" ? fmt::format("{{name: prefix_tuning, length: {}}}", n)
                                         : fmt::format("{{name: prompt_tuning, length: {}, init: normal}}", n));
  origins.set_subtree("method", method_node, "ptlab generate --adapter");
  methods::register_builtin_methods();
  const methods::MethodContext context{model, tokenizer, *out.task, 0};
  out.method = methods::make_method(config::Reader(method_node, "method", origins), context);
  out.method->load_state(dir);
  out.method->eval();
  return out;
}

// The backbone input of `prompt` through the adapter's method: its virtual tokens or its prefix.
models::BackboneInput adapter_input(AdapterPrompt& adapter, const std::vector<int64_t>& prompt,
                                    const text::Tokenizer& tokenizer) {
  tasks::RenderedExample example;
  example.input_ids = prompt;
  example.length = static_cast<int64_t>(prompt.size());
  example.token_type_ids.assign(prompt.size(), 0);
  const int64_t front = adapter.method->front_soft_tokens(adapter.task->prompt());
  if (front > 0) tasks::prepend_soft_tokens(example, front, tasks::Template::placeholder_id(tokenizer));
  const tasks::Batch batch = tasks::collate({example}, tasks::CollateOptions{});
  at::NoGradGuard no_grad;
  models::BackboneInput in = adapter.method->prompt(batch);
  // generate() builds the decoder side itself.
  in.decoder_input_ids = at::Tensor();
  in.decoder_attention_mask = at::Tensor();
  return in;
}

int run_generate(const std::vector<std::string>& args) {
  if (wants_help(args)) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  OptionParser opts("ptlab generate", {"--greedy", "--json"},
                    {"--prompt", "--prompt-ids", "--max-new-tokens", "--temperature", "--top-k", "--top-p", "--seed",
                     "--dtype", "--device", "--threads", "--adapter"});
  opts.parse(args);
  opts.expect_positional(1, "one model directory");
  PTLAB_CHECK(opts.has("--prompt") != opts.has("--prompt-ids"),
              "ptlab generate: give exactly one of --prompt TEXT and --prompt-ids 1,2,3");
  configure_threads(static_cast<int>(opts.get_int("--threads", 0)), 1);
  const std::string dir = opts.positional()[0];

  models::GenerationConfig config;
  config.max_new_tokens = opts.get_int("--max-new-tokens", 20);
  config.do_sample =
      !opts.flag("--greedy") && (opts.has("--temperature") || opts.has("--top-k") || opts.has("--top-p"));
  config.temperature = opts.get_double("--temperature", 1.0);
  config.top_k = opts.get_int("--top-k", 0);
  config.top_p = opts.get_double("--top-p", 1.0);
  config.seed = static_cast<uint64_t>(opts.get_int("--seed", 0));

  std::unique_ptr<text::Tokenizer> tokenizer;
  std::vector<int64_t> prompt;
  if (opts.has("--prompt") || opts.has("--adapter")) {
    tokenizer = text::load_tokenizer(dir);
  }
  if (opts.has("--prompt")) {
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
  AdapterPrompt adapter;
  if (opts.has("--adapter")) {
    adapter = load_adapter(*opts.get("--adapter"), *model, *tokenizer);
    in = adapter_input(adapter, prompt, *tokenizer);
  }
  auto result = models::generate(*model, in, config);
  // From inputs_embeds (prompt tuning), generate() returns the new tokens only: put the prompt back.
  if (in.inputs_embeds.defined() && !model->info().is_encoder_decoder) {
    result.sequences = at::cat({at::tensor(prompt, at::kLong).unsqueeze(0), result.sequences.to(at::kCPU)}, 1);
  }
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
