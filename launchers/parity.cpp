#include "launchers/parity.h"

#include "framework/config/origins.h"
#include "framework/config/reader.h"
#include "framework/core/error.h"
#include "framework/core/suggest.h"
#include "framework/io/safetensors.h"
#include "framework/models/loader.h"
#include "framework/text/tokenizer.h"
#include "launchers/parity_support.h"
#include "tasks/batch.h"
#include "tasks/linear_head.h"
#include "tasks/objective.h"
#include "tasks/task.h"
#include "tasks/template.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace ptlab::launchers {
namespace {

namespace fs = std::filesystem;
using TensorFile = std::map<std::string, at::Tensor>;

constexpr const char* kPeftEncoder = "prompt_encoder.default.";
constexpr const char* kClassifierWeight = "base_model.classifier.modules_to_save.default.weight";
constexpr const char* kClassifierBias = "base_model.classifier.modules_to_save.default.bias";
constexpr const char* kGoldenFiles =
    "result.json, batch.safetensors, init_full_state.safetensors, grads_step0.safetensors and "
    "final_full_state.safetensors (golden/README.md)";

std::string shape_of(at::IntArrayRef sizes) {
  std::ostringstream s;
  s << sizes;
  return s.str();
}

// ---- result.json ----------------------------------------------------------------------------------------

const nlohmann::json& json_at(const nlohmann::json& root, const std::string& key_path, const std::string& file) {
  const nlohmann::json* node = &root;
  std::size_t start = 0;
  while (start <= key_path.size()) {
    const std::size_t dot = std::min(key_path.find('.', start), key_path.size());
    const std::string key = key_path.substr(start, dot - start);
    PTLAB_CHECK(node->is_object() && node->contains(key),
                "{}: key '{}' is missing; a PEFT golden result.json has it (golden/README.md)", file, key_path);
    node = &(*node)[key];
    start = dot + 1;
  }
  return *node;
}

template <class T>
T json_value(const nlohmann::json& root, const std::string& key_path, const std::string& file, const char* expected) {
  const nlohmann::json& value = json_at(root, key_path, file);
  const bool number = value.is_number() && !value.is_boolean();
  bool ok = false;
  if constexpr (std::is_same_v<T, std::string>) ok = value.is_string();
  if constexpr (std::is_same_v<T, double>) ok = number;
  if constexpr (std::is_same_v<T, int64_t>) ok = value.is_number_integer();
  if constexpr (std::is_same_v<T, bool>) ok = value.is_boolean();
  if constexpr (std::is_same_v<T, nlohmann::json>) ok = true;
  if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
    ok = value.is_array() &&
         std::all_of(value.begin(), value.end(), [](const nlohmann::json& v) { return v.is_number_integer(); });
  }
  if constexpr (std::is_same_v<T, std::vector<double>>) {
    ok = value.is_array() && !value.empty() &&
         std::all_of(value.begin(), value.end(), [](const nlohmann::json& v) { return v.is_number(); });
  }
  PTLAB_CHECK(ok, "{}: '{}' is {} but must be {}", file, key_path, value.dump(), expected);
  return value.get<T>();
}

// ---- golden tensors -------------------------------------------------------------------------------------

TensorFile load_golden_file(const GoldenRun& golden, const std::string& name) {
  const std::string path = golden.dir + "/" + name;
  PTLAB_CHECK(fs::is_regular_file(path), "{} has no {}; a PEFT golden run directory holds {}", golden.dir, name,
              kGoldenFiles);
  return io::load_safetensors(path);
}

const at::Tensor& tensor_of(const TensorFile& file, const std::string& name, const std::string& path) {
  auto it = file.find(name);
  PTLAB_CHECK(it != file.end(), "{}: no tensor '{}'; it holds: {}", path, name, join_names([&] {
                std::vector<std::string> names;
                for (const auto& entry : file) names.push_back(entry.first);
                return names;
              }()));
  return it->second;
}

double max_abs(const at::Tensor& t) { return t.numel() == 0 ? 0.0 : t.detach().abs().max().item<double>(); }

using parity_support::lm_task;
using parity_support::make_method;
using parity_support::max_abs_diff;

// ---- the model ------------------------------------------------------------------------------------------

// The parameter count PEFT's base model had, from ptlab's count of the model it loaded: the same for every
// flavour but seqcls, where BertForSequenceClassification lacks the MLM head ptlab loads (dense d x d + d,
// LayerNorm 2d, vocabulary bias V; its decoder is tied) and has the pooler (d x d + d) and the frozen
// original of the classifier PEFT copies into modules_to_save (C x d + C).
int64_t golden_base_parameters(const models::BackboneInfo& info, const std::string& flavour, int64_t num_labels) {
  if (flavour != "seqcls") return info.num_parameters;
  const int64_t d = info.hidden_size;
  return info.num_parameters - (d * d + d + 2 * d + info.vocab_size) + (d * d + d) + (num_labels * d + num_labels);
}

void check_base_model(const GoldenRun& golden, const std::string& model_dir, const models::BackboneInfo& info,
                      int64_t num_labels) {
  const int64_t count = golden_base_parameters(info, golden.flavour, num_labels);
  PTLAB_CHECK(count == golden.base_parameters,
              "{} is not the base model of {}: as PEFT's {} model it has {} parameters ({}, {} layers, hidden {}), "
              "but result.json's base model '{}' had {} (all_params - trainable_params); give the golden's base "
              "model",
              model_dir, golden.dir, golden.flavour, count, info.family, info.num_layers, info.hidden_size,
              golden.base_model, golden.base_parameters);
}

// ---- the batch ------------------------------------------------------------------------------------------

// PEFT's batch as a tasks::Batch, built the way the trainer builds one: each row's real tokens, `n`
// virtual tokens prepended (tasks::prepend_soft_tokens; none for prefix-style methods), padded on the right
// (tasks::collate). Sets `layout_ok` to whether it is exactly PEFT's layout: [prompt][tokens][pads],
// attention 1 on the prompt, n ignored labels in front.
tasks::Batch peft_batch(const TensorFile& file, const std::string& path, const std::string& flavour, int64_t n,
                        int64_t placeholder, bool& layout_ok) {
  const at::Tensor ids = tensor_of(file, "input_ids", path).to(at::kLong);        // [B, T]
  const at::Tensor mask = tensor_of(file, "attention_mask", path).to(at::kLong);  // [B, T]
  PTLAB_CHECK(ids.dim() == 2 && mask.sizes() == ids.sizes(),
              "{}: input_ids {} and attention_mask {} must be [B, T] of the same shape", path, shape_of(ids.sizes()),
              shape_of(mask.sizes()));
  const at::Tensor labels = flavour == "mlm" ? at::Tensor() : tensor_of(file, "labels", path).to(at::kLong);
  const int64_t rows = ids.size(0), width = ids.size(1);
  int64_t pad_id = 0;
  std::vector<tasks::RenderedExample> rendered;
  for (int64_t b = 0; b < rows; ++b) {
    const int64_t length = mask[b].sum().item<int64_t>();
    if (length < width) pad_id = ids[b][length].item<int64_t>();
    auto values = [&](const at::Tensor& row) {  // row[0:length] as a vector
      const at::Tensor t = row.narrow(0, 0, length).contiguous();
      return std::vector<int64_t>(t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + length);
    };
    tasks::RenderedExample r;
    r.input_ids = values(ids[b]);
    r.length = length;
    r.token_type_ids = file.count("token_type_ids") ? values(file.at("token_type_ids").to(at::kLong)[b])
                                                    : std::vector<int64_t>(length, 0);
    if (flavour == "causal") {
      r.token_labels = values(labels[b]);
    } else if (flavour == "mlm") {  // the loss reads the label word at the [MASK]
      r.token_labels.assign(length, tasks::kIgnoreIndex);
      r.token_labels[tensor_of(file, "mask_positions", path)[b].item<int64_t>()] =
          tensor_of(file, "mask_labels", path)[b].item<int64_t>();
    } else if (flavour == "seqcls") {
      r.label = labels[b].item<int64_t>();
    }
    if (file.count("task_ids")) r.task_id = file.at("task_ids").to(at::kLong)[b].item<int64_t>();  // MPT
    if (n > 0) tasks::prepend_soft_tokens(r, n, placeholder);
    rendered.push_back(std::move(r));
  }
  tasks::CollateOptions options;
  options.pad_id = pad_id;
  tasks::Batch batch = tasks::collate(rendered, options);

  layout_ok = batch.input_ids.size(1) == n + width && at::equal(batch.input_ids.narrow(1, n, width), ids) &&
              at::equal(batch.attention_mask, at::cat({at::ones({rows, n}, at::kLong), mask}, 1));
  if (n > 0) layout_ok = layout_ok && at::equal(batch.soft_positions, at::arange(n).expand({rows, n}));
  if (flavour == "causal") {
    layout_ok = layout_ok && at::equal(batch.token_labels,
                                       at::cat({at::full({rows, n}, tasks::kIgnoreIndex, at::kLong), labels}, 1));
  }
  if (flavour == "seq2seq") {
    // transformers' T5 shift_right: decoder input = [start] + labels[:-1], -100 read as the pad id (0).
    const at::Tensor shifted =  // [B, T_dec]
        at::cat({at::zeros({rows, 1}, at::kLong), labels.narrow(1, 0, labels.size(1) - 1)}, 1);
    batch.decoder_input_ids = shifted.masked_fill(shifted.eq(tasks::kIgnoreIndex), 0);
    batch.decoder_attention_mask = at::ones_like(labels);  // transformers passes none: all ones
    batch.decoder_labels = labels;
  }
  return batch;
}

// ---- PEFT's tensors as ptlab's ----------------------------------------------------------------------------

// A tensor of PEFT's files and the ptlab tensor that replays it: its first `rows` rows (all of them but for
// PEFT's unused seq2seq half).
struct Mapped {
  std::string name;  // the method's parameter name; "" for the classifier
  at::Tensor param;
  int64_t rows = 0;
};

// Maps every tensor of PEFT's init state onto a parameter of `method` or of the seqcls `classifier`; every
// parameter of the method must have one.
std::map<std::string, Mapped> map_tensors(const TensorFile& init, const std::string& path, const ParityMethod& entry,
                                          methods::Method& method, tasks::LinearHead& classifier, int64_t submodules,
                                          const GoldenRun& golden, const std::string& model_dir) {
  std::map<std::string, at::Tensor> by_name;
  for (auto& [name, param] : method.trainable_parameters()) by_name.emplace(name, param);
  std::vector<std::string> names;
  for (const auto& entry_name : by_name) names.push_back(entry_name.first);
  std::map<std::string, Mapped> mapped;
  std::set<std::string> covered;
  for (const auto& [key, peft] : init) {
    at::Tensor param;
    std::string name;
    if (key.rfind(kPeftEncoder, 0) == 0) {
      name = entry.parameter_name(key.substr(std::string(kPeftEncoder).size()));
      PTLAB_CHECK(by_name.count(name), "{}: PEFT's tensor '{}' has no counterpart among {}'s parameters ({})", path,
                  key, entry.method, join_names(names));
      PTLAB_CHECK(covered.insert(name).second, "{}: two PEFT tensors map onto {}'s parameter '{}'", path, entry.method,
                  name);
      param = by_name.at(name);
    } else if (key == kClassifierWeight && classifier) {
      param = classifier->weight();
    } else if (key == kClassifierBias && classifier) {
      param = classifier->bias();
    } else {
      PTLAB_FAIL("{}: unexpected tensor '{}' for a {} golden of {}; it holds {}* tensors{}", path, key, golden.flavour,
                 golden.peft_method, kPeftEncoder, golden.flavour == "seqcls" ? " and the classifier" : "");
    }
    const bool same = param.sizes() == peft.sizes();
    const bool leading = submodules > 1 && param.dim() == peft.dim() && param.dim() > 0 &&
                         peft.size(0) == submodules * param.size(0) && param.sizes().slice(1) == peft.sizes().slice(1);
    PTLAB_CHECK(same || leading,
                "{}: ptlab's {} on {} makes '{}' of shape {}, but PEFT's is {}: the model is not the golden's base "
                "model '{}'",
                path, entry.method, model_dir, key, shape_of(param.sizes()), shape_of(peft.sizes()), golden.base_model);
    mapped.emplace(key, Mapped{name, param, param.size(0)});
  }
  for (const std::string& name : names) {
    PTLAB_CHECK(covered.count(name), "{}: no PEFT tensor for {}'s parameter '{}'; PEFT's {} golden has none to compare",
                path, entry.method, name, golden.peft_method);
  }
  return mapped;
}

// Compares ptlab's `actual` (the leading rows of PEFT's `expected`) with `expected`; PEFT's other rows are
// compared with `rest` (what they must equal: no gradient, their init) at tolerance 0.
void compare(const std::string& key, const at::Tensor& actual, const at::Tensor& expected, const at::Tensor& rest,
             double absolute, double relative, std::vector<TensorDiff>& out) {
  const int64_t rows = actual.size(0);
  const bool split = expected.size(0) > rows;
  const at::Tensor head = expected.narrow(0, 0, rows);
  const double scale = max_abs(head);
  out.push_back(TensorDiff{split ? key + "[0:" + std::to_string(rows) + "]" : key, max_abs_diff(actual, head), scale,
                           absolute + relative * scale});
  if (split) {
    const at::Tensor tail = expected.narrow(0, rows, expected.size(0) - rows);
    out.push_back(TensorDiff{key + "[" + std::to_string(rows) + ":" + std::to_string(expected.size(0)) + "]",
                             max_abs_diff(tail, rest), max_abs(tail), 0.0});
  }
}

}  // namespace

namespace parity_support {

double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  return max_abs(a.detach().to(at::kCPU, at::kDouble) - b.detach().to(at::kCPU, at::kDouble));
}

std::unique_ptr<methods::Method> make_method(const YAML::Node& config, const methods::MethodContext& context,
                                             const std::string& origin) {
  config::Origins origins;
  origins.set_subtree("method", config, origin);
  return methods::make_method(config::Reader(config, "method", origins), context);
}

std::unique_ptr<tasks::Task> lm_task(const text::Tokenizer& tokenizer, const models::BackboneInfo& info) {
  config::Origins origins;
  YAML::Node node = YAML::Load("{type: lm, template: '{text_a}', max_length: 0}");
  origins.set_subtree("task", node, "ptlab parity");
  const tasks::TaskConfig config = tasks::TaskConfig::decode(config::Reader(node, "task", origins), origins, "parity");
  return tasks::make_task(config, tokenizer, info);
}

}  // namespace parity_support

GoldenRun GoldenRun::read(const std::string& given) {
  std::string dir = given;  // without trailing slashes, for the paths in messages
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  PTLAB_CHECK(fs::is_directory(dir),
              "golden run directory '{}' not found; give a PEFT golden run directory such as "
              "../shared/golden/peft/gpt2/prompt_random",
              dir);
  const std::string path = dir + "/result.json";
  if (!fs::is_regular_file(path) && fs::is_regular_file(dir + "/error.txt")) {
    std::ifstream error(dir + "/error.txt");
    std::string line, last;
    while (std::getline(error, line)) {
      if (!line.empty()) last = line;
    }
    PTLAB_FAIL("{} has no result.json: PEFT could not train this run ({}/error.txt: {}); pick a run with result.json",
               dir, dir, last);
  }
  PTLAB_CHECK(fs::is_regular_file(path), "{} has no result.json; a PEFT golden run directory holds {}", dir,
              kGoldenFiles);
  std::ifstream in(path, std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  nlohmann::json root;
  try {
    root = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    std::string reason = e.what();
    reason = reason.substr(reason.find("] ") == std::string::npos ? 0 : reason.find("] ") + 2);
    PTLAB_FAIL("{}: not valid JSON ({}); a golden run's result.json is written by the golden scripts", path, reason);
  }
  PTLAB_CHECK(root.is_object(), "{}: must hold a JSON object, not {}", path, root.type_name());

  GoldenRun golden;
  golden.dir = dir;
  if (root.contains("cpt_config")) {  // golden/cpt/<model>/<variant>: CPT's own layout (golden/README.md "cpt/")
    golden.peft_method = "cpt";
    golden.flavour = "cpt";
    golden.base_model = json_value<std::string>(root, "model", path, "a path under paths.shared");
    golden.num_virtual_tokens = json_value<int64_t>(root, "cpt_config.num_virtual_tokens", path, "a positive integer");
    golden.losses = json_value<std::vector<double>>(root, "losses", path, "a non-empty list of numbers");
    golden.adapter_config = json_at(root, "cpt_config", path);
    golden.cpt_result = root;
  } else {
    golden.peft_method = json_value<std::string>(root, "method", path, "a string (prompt_random, prefix, ...)");
    golden.base_model = json_value<std::string>(root, "base_model", path, "a path under paths.shared");
    golden.flavour = json_value<std::string>(root, "flavour", path, "a string");
    const std::vector<std::string> flavours = {"causal", "seqcls", "mlm", "seq2seq"};
    PTLAB_CHECK(std::find(flavours.begin(), flavours.end(), golden.flavour) != flavours.end(),
                "{}: flavour '{}' is not one of {}", path, golden.flavour, join_names(flavours));
    golden.num_virtual_tokens = json_value<int64_t>(root, "num_virtual_tokens", path, "a positive integer");
    PTLAB_CHECK(golden.num_virtual_tokens > 0, "{}: num_virtual_tokens is {} but must be positive", path,
                golden.num_virtual_tokens);
    golden.base_parameters = json_value<int64_t>(root, "all_params", path, "an integer") -
                             json_value<int64_t>(root, "trainable_params", path, "an integer");
    golden.losses = json_value<std::vector<double>>(root, "losses", path, "a non-empty list of numbers");
  }

  const std::string type = json_value<std::string>(root, "optimizer.type", path, "a string");
  PTLAB_CHECK(type == "torch.optim.AdamW", "{}: optimizer.type is '{}'; ptlab parity replays torch.optim.AdamW only",
              path, type);
  golden.optimizer.name = "adamw";
  golden.optimizer.lr = json_value<double>(root, "optimizer.lr", path, "a number");
  const std::vector<double> betas = json_value<std::vector<double>>(root, "optimizer.betas", path, "[beta1, beta2]");
  PTLAB_CHECK(betas.size() == 2, "{}: optimizer.betas has {} values but must be [beta1, beta2]", path, betas.size());
  golden.optimizer.beta1 = betas[0];
  golden.optimizer.beta2 = betas[1];
  golden.optimizer.eps = json_value<double>(root, "optimizer.eps", path, "a number");
  golden.optimizer.weight_decay = json_value<double>(root, "optimizer.weight_decay", path, "a number");

  if (golden.flavour != "cpt") golden.adapter_config = json_at(root, "adapter_init.adapter_config", path);
  PTLAB_CHECK(golden.adapter_config.is_object(), "{}: adapter_init.adapter_config must be an object", path);
  return golden;
}

template <class T>
T GoldenRun::adapter_value(const std::string& key) const {
  const char* expected = std::is_same_v<T, std::string> ? "a string"
                         : std::is_same_v<T, bool>      ? "true or false"
                         : std::is_same_v<T, double>    ? "a number"
                         : std::is_same_v<T, std::vector<int64_t>> ? "a list of integers"
                                                        : "an integer";
  return json_value<T>(adapter_config, key, dir + "/result.json (adapter_init.adapter_config)", expected);
}
template std::string GoldenRun::adapter_value<std::string>(const std::string&) const;
template int64_t GoldenRun::adapter_value<int64_t>(const std::string&) const;
template bool GoldenRun::adapter_value<bool>(const std::string&) const;
template nlohmann::json GoldenRun::adapter_value<nlohmann::json>(const std::string&) const;
template double GoldenRun::adapter_value<double>(const std::string&) const;
template std::vector<int64_t> GoldenRun::adapter_value<std::vector<int64_t>>(const std::string&) const;

bool ParityReport::passed() const {
  auto all_ok = [](const auto& items) {
    return std::all_of(items.begin(), items.end(), [](const auto& item) { return item.ok(); });
  };
  return !losses.empty() && all_ok(losses) && all_ok(step0_grads) && all_ok(final_state) &&
         std::all_of(checks.begin(), checks.end(), [](const ParityCheck& c) { return c.ok; });
}

namespace {
const TensorDiff* find_diff(const std::vector<TensorDiff>& diffs, const std::string& name) {
  auto it = std::find_if(diffs.begin(), diffs.end(), [&](const TensorDiff& d) { return d.name == name; });
  return it == diffs.end() ? nullptr : &*it;
}
}  // namespace

const TensorDiff* ParityReport::grad(const std::string& name) const { return find_diff(step0_grads, name); }
const TensorDiff* ParityReport::state(const std::string& name) const { return find_diff(final_state, name); }

const ParityMethod& parity_method_for(const GoldenRun& golden) {
  std::vector<std::string> known;
  for (const ParityMethod& entry : parity_methods()) {
    for (const std::string& name : entry.peft_methods) {
      if (name == golden.peft_method) return entry;
    }
    std::string names;
    for (const std::string& name : entry.peft_methods) names += (names.empty() ? "" : ", ") + name;
    known.push_back(names + " -> " + entry.method);
  }
  std::string list;
  for (const std::string& k : known) list += (list.empty() ? "" : "; ") + k;
  PTLAB_FAIL("method '{}' of {} has no ptlab implementation yet (known: {})", golden.peft_method, golden.dir, list);
}

ParityReport replay_peft_golden(const GoldenRun& golden, const ParityOptions& options) {
  if (golden.flavour == "cpt") return replay_cpt_golden(golden, options);
  const ParityMethod& entry = parity_method_for(golden);
  ParityReport report;
  report.golden = golden;
  report.method = entry.method;
  report.model_dir = options.model_dir;
  report.tolerances = options.tolerances;
  const ParityTolerances& tol = options.tolerances;
  const int64_t golden_steps = static_cast<int64_t>(golden.losses.size());
  const int64_t steps = options.steps.value_or(golden_steps);
  PTLAB_CHECK(steps >= 1 && steps <= golden_steps, "steps {} asked, but the golden run {} has {}; give 1..{}", steps,
              golden.dir, golden_steps, golden_steps);

  // The golden's files first: a broken directory fails before the model loads.
  const TensorFile batch_file = load_golden_file(golden, "batch.safetensors");
  const TensorFile init = load_golden_file(golden, "init_full_state.safetensors");
  const TensorFile grads0 = load_golden_file(golden, "grads_step0.safetensors");
  const TensorFile final_state = load_golden_file(golden, "final_full_state.safetensors");
  const std::string init_path = golden.dir + "/init_full_state.safetensors";
  const bool seqcls = golden.flavour == "seqcls";
  const int64_t num_labels = seqcls ? tensor_of(init, kClassifierWeight, init_path).size(0) : 0;

  PTLAB_CHECK(fs::is_regular_file(options.model_dir + "/config.json"),
              "{} is not a model directory (no config.json); give the Hugging Face model directory of the golden's "
              "base model (result.json base_model: '{}')",
              options.model_dir, golden.base_model);
  std::shared_ptr<models::Backbone> backbone = models::load_backbone(options.model_dir);
  check_base_model(golden, options.model_dir, backbone->info(), num_labels);
  const std::unique_ptr<text::Tokenizer> tokenizer = text::load_tokenizer(options.model_dir);
  const std::unique_ptr<tasks::Task> task = lm_task(*tokenizer, backbone->info());
  const methods::MethodContext context{*backbone, *tokenizer, *task, /*seed=*/0};
  std::unique_ptr<methods::Method> method =
      make_method(entry.config(golden), context, golden.dir + "/result.json (adapter_init.adapter_config)");

  // bert_seqcls: BertForSequenceClassification's classifier trains too (PEFT's modules_to_save); its pooler
  // is frozen and in no golden file (the MLM checkpoint has none): transformers initialised it, then the
  // classifier, with N(0, 0.02^2) draws right after torch.manual_seed(0). Redrawn here; the classifier
  // draw must be PEFT's classifier init, which proves the sequence.
  tasks::LinearHead classifier{nullptr};
  at::Tensor pooler_weight, pooler_bias;
  if (seqcls) {
    at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(0);
    const int64_t d = backbone->info().hidden_size;
    const auto options_f32 = at::TensorOptions().dtype(at::kFloat);
    pooler_weight = at::normal(0.0, 0.02, {d, d}, generator, options_f32);  // [d, d]
    pooler_bias = at::zeros({d});
    const at::Tensor drawn = at::normal(0.0, 0.02, {num_labels, d}, generator, options_f32);  // [C, d]
    report.checks.push_back({"the frozen pooler is transformers' draw (its next draw is PEFT's classifier init)",
                             at::equal(drawn, init.at(kClassifierWeight))});
    classifier = tasks::LinearHead(d, num_labels, /*dropout=*/0.0);
  }

  const int64_t submodules = golden.adapter_value<int64_t>("num_transformer_submodules");
  const std::map<std::string, Mapped> mapped =
      map_tensors(init, init_path, entry, *method, classifier, submodules, golden, options.model_dir);
  bool same_init = true;
  std::map<std::string, at::Tensor> peft_init;  // ptlab name -> PEFT's init
  for (const auto& [key, m] : mapped) {
    if (m.name.empty()) continue;  // the classifier: PEFT's draw is checked above
    const at::Tensor rows = init.at(key).narrow(0, 0, m.rows);
    same_init = same_init && at::equal(m.param, rows);
    peft_init.emplace(m.name, rows);
  }
  report.checks.push_back({"ptlab's seeded init (seed 0) is PEFT's, bit for bit", same_init});
  method->import_state(peft_init, init_path);  // the replay starts from PEFT's init in any case
  if (classifier) {
    at::NoGradGuard no_grad;
    classifier->weight().copy_(init.at(kClassifierWeight));
    classifier->bias().copy_(init.at(kClassifierBias));
  }

  train::NamedParameters params = method->trainable_parameters();
  if (classifier) {
    params.emplace_back("classifier.weight", classifier->weight());
    params.emplace_back("classifier.bias", classifier->bias());
  }
  auto optimizer = train::make_optimizer(golden.optimizer, params);

  bool layout_ok = false;
  const std::string batch_path = golden.dir + "/batch.safetensors";
  const tasks::Batch batch =
      peft_batch(batch_file, batch_path, golden.flavour, method->front_soft_tokens(task->prompt()),
                 tasks::Template::placeholder_id(*tokenizer), layout_ok);
  report.checks.push_back({"the batch is PEFT's layout ([prompt][tokens][pads], mask, labels)", layout_ok});

  for (int64_t step = 0; step < steps; ++step) {
    optimizer->zero_grad();
    models::BackboneInput input = method->prompt(batch);
    input.logits.mode = seqcls ? models::LogitsRequest::Mode::kNone : models::LogitsRequest::Mode::kAll;
    const models::BackboneOutput out = backbone->forward(input);
    at::Tensor loss;
    if (golden.flavour == "causal") {
      loss = tasks::causal_lm_loss(out.logits, batch.token_labels);
    } else if (golden.flavour == "mlm") {
      loss = tasks::token_loss(out.logits, batch.token_labels);
    } else if (golden.flavour == "seq2seq") {
      // A method with a decoder prompt (MPT's S = 2 layout) has that many leading decoder positions, whose
      // labels PEFT pads with -100.
      const int64_t extra = out.logits.size(1) - batch.decoder_labels.size(1);
      const at::Tensor labels =
          extra > 0 ? at::cat({at::full({batch.size(), extra}, tasks::kIgnoreIndex, at::kLong), batch.decoder_labels}, 1)
                    : batch.decoder_labels;  // [B, extra + T_dec]
      loss = tasks::token_loss(out.logits, labels);
    } else {  // seqcls: pooler (tanh(W h[:, 0] + b)) -> classifier -> cross-entropy
      const at::Tensor first = out.last_hidden_state.select(1, 0);                        // [B, d]
      const at::Tensor pooled = at::tanh(at::linear(first, pooler_weight, pooler_bias));  // [B, d]
      loss = at::cross_entropy_loss(classifier->forward(pooled), batch.labels);
    }
    const double value = loss.item<double>(), peft = golden.losses[step];
    report.losses.push_back(StepLoss{value, peft, std::abs(value - peft) / std::abs(peft), tol.loss_relative});
    loss.backward();
    if (step == 0) {
      for (const auto& [key, peft_grad] : grads0) {
        PTLAB_CHECK(mapped.count(key), "{}/grads_step0.safetensors: tensor '{}' is not in init_full_state", golden.dir,
                    key);
        const Mapped& m = mapped.at(key);
        const at::Tensor grad = m.param.grad().defined() ? m.param.grad() : at::zeros_like(m.param);
        const at::Tensor untrained = at::zeros_like(peft_grad).narrow(0, m.rows, peft_grad.size(0) - m.rows);
        compare(key, grad, peft_grad, untrained, tol.grad_absolute, tol.grad_relative, report.step0_grads);
      }
    }
    optimizer->step();
  }

  report.final_state_compared = steps == golden_steps;
  if (report.final_state_compared) {
    for (const auto& [key, expected] : final_state) {
      PTLAB_CHECK(mapped.count(key), "{}/final_full_state.safetensors: tensor '{}' is not in init_full_state",
                  golden.dir, key);
      const Mapped& m = mapped.at(key);
      const at::Tensor& start = init.at(key);
      compare(key, m.param, expected, start.narrow(0, m.rows, start.size(0) - m.rows), tol.state_absolute, 0.0,
              report.final_state);
    }
  }
  if (entry.extra_checks) entry.extra_checks(*method, golden, report);
  return report;
}

}  // namespace ptlab::launchers
