// The CPT replay (parity.h, replay_cpt_golden): golden/cpt/<model>/<variant>, PEFT 0.14's CPT.
#include "framework/core/error.h"
#include "framework/io/peft_adapter.h"
#include "framework/io/safetensors.h"
#include "framework/models/loader.h"
#include "framework/text/tokenizer.h"
#include "launchers/parity.h"
#include "launchers/parity_support.h"
#include "methods/cpt/cpt.h"
#include "tasks/batch.h"
#include "tasks/task.h"
#include "tasks/template.h"

#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

#include <unistd.h>

namespace ptlab::launchers {
namespace {

namespace fs = std::filesystem;
using TensorFile = std::map<std::string, at::Tensor>;

constexpr const char* kEmbedding = "prompt_encoder.default.embedding.weight";
constexpr const char* kDelta = "prompt_encoder.default.delta_embedding.weight";

const at::Tensor& tensor_in(const TensorFile& file, const std::string& name, const std::string& path) {
  auto it = file.find(name);
  PTLAB_CHECK(it != file.end(), "{}: no tensor '{}'; a CPT golden holds it (golden/README.md \"cpt/\")", path, name);
  return it->second;
}

TensorFile golden_file(const GoldenRun& golden, const std::string& name) {
  const std::string path = golden.dir + "/" + name;
  PTLAB_CHECK(fs::is_regular_file(path), "{} has no {}; a CPT golden run directory holds it (golden/README.md \"cpt/\")",
              golden.dir, name);
  return io::load_safetensors(path);
}

using parity_support::max_abs_diff;

std::unique_ptr<methods::Cpt> make_cpt(const GoldenRun& golden, const methods::MethodContext& context) {
  std::unique_ptr<methods::Method> method = parity_support::make_method(parity_method_for(golden).config(golden), context,
                                                                        golden.dir + "/result.json (cpt_config)");
  auto* cpt = dynamic_cast<methods::Cpt*>(method.get());
  PTLAB_ASSERT(cpt != nullptr, "method cpt is not a methods::Cpt");
  method.release();
  return std::unique_ptr<methods::Cpt>(cpt);
}

// PEFT's query batch as the trainer would build it: n front soft tokens, right padding; token labels are
// PEFT's cpt_labels of the query part (labels where the shifted type id is a label group, else -100).
tasks::Batch cpt_batch(const TensorFile& file, const std::string& path, int64_t n, int64_t max_type,
                       int64_t placeholder, bool& layout_ok) {
  const at::Tensor ids = tensor_in(file, "input_ids", path).to(at::kLong);
  const at::Tensor mask = tensor_in(file, "attention_mask", path).to(at::kLong);
  const at::Tensor labels = tensor_in(file, "labels", path).to(at::kLong);
  const at::Tensor types = tensor_in(file, "input_type_mask", path).to(at::kLong);
  PTLAB_CHECK(ids.dim() == 2 && mask.sizes() == ids.sizes() && labels.sizes() == ids.sizes() &&
                  types.sizes() == ids.sizes(),
              "{}: input_ids, attention_mask, labels and input_type_mask must be [B, T] of one shape", path);
  const at::Tensor shifted = at::where(types.gt(0), types + max_type, types);
  const at::Tensor query_labels =
      at::where(shifted.gt(0) & shifted.remainder(4).eq(0), labels, at::full_like(labels, tasks::kIgnoreIndex));
  const int64_t rows = ids.size(0), width = ids.size(1);
  int64_t pad_id = 0;
  std::vector<tasks::RenderedExample> rendered;
  for (int64_t b = 0; b < rows; ++b) {
    const int64_t length = mask[b].sum().item<int64_t>();
    if (length < width) pad_id = ids[b][length].item<int64_t>();
    auto values = [&](const at::Tensor& row) {
      const at::Tensor t = row.narrow(0, 0, length).contiguous();
      return std::vector<int64_t>(t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + length);
    };
    tasks::RenderedExample r;
    r.input_ids = values(ids[b]);
    r.length = length;
    r.token_type_ids.assign(length, 0);
    r.token_labels = values(query_labels[b]);
    tasks::prepend_soft_tokens(r, n, placeholder);
    rendered.push_back(std::move(r));
  }
  tasks::CollateOptions options;
  options.pad_id = pad_id;
  tasks::Batch batch = tasks::collate(rendered, options);
  // Labels past a row's length are PEFT's too: they must be ignored there (type 0 at the pads).
  const at::Tensor padded_labels = query_labels.masked_fill(mask.eq(0), tasks::kIgnoreIndex);
  layout_ok = batch.input_ids.size(1) == n + width && at::equal(batch.input_ids.narrow(1, n, width), ids) &&
              at::equal(batch.attention_mask, at::cat({at::ones({rows, n}, at::kLong), mask}, 1)) &&
              at::equal(batch.soft_positions, at::arange(n).expand({rows, n})) &&
              at::equal(padded_labels, query_labels) &&
              at::equal(batch.token_labels.narrow(1, n, width), query_labels);
  return batch;
}

// CPT's loss of `batch` (the forward the trainer runs).
at::Tensor cpt_loss(methods::Cpt& method, models::Backbone& backbone, const tasks::Batch& batch) {
  models::BackboneInput input = method.prompt(batch);
  method.request_loss(batch, input);
  return method.loss(backbone.forward(input), batch);
}

std::string fmt_g(double v) { return fmt::format("{:.9g}", v); }

}  // namespace

ParityReport replay_cpt_golden(const GoldenRun& golden, const ParityOptions& options) {
  ParityReport report;
  report.golden = golden;
  report.method = "cpt";
  report.model_dir = options.model_dir;
  report.tolerances = options.tolerances;
  const ParityTolerances& tol = options.tolerances;
  const int64_t golden_steps = static_cast<int64_t>(golden.losses.size());
  const int64_t steps = options.steps.value_or(golden_steps);
  PTLAB_CHECK(steps >= 1 && steps <= golden_steps, "steps {} asked, but the golden run {} has {}; give 1..{}", steps,
              golden.dir, golden_steps, golden_steps);

  const TensorFile batch_file = golden_file(golden, "batch.safetensors");
  const TensorFile init = golden_file(golden, "init_full_state.safetensors");
  const TensorFile grads0 = golden_file(golden, "grads_step0.safetensors");
  const TensorFile final_state = golden_file(golden, "final_full_state.safetensors");
  const std::string init_path = golden.dir + "/init_full_state.safetensors";
  PTLAB_CHECK(fs::is_regular_file(options.model_dir + "/config.json"),
              "{} is not a model directory (no config.json); give the golden's base model (result.json model: '{}')",
              options.model_dir, golden.base_model);

  std::shared_ptr<models::Backbone> backbone = models::load_backbone(options.model_dir);
  const std::unique_ptr<text::Tokenizer> tokenizer = text::load_tokenizer(options.model_dir);
  const std::unique_ptr<tasks::Task> task = parity_support::lm_task(*tokenizer, backbone->info());
  const methods::MethodContext context{*backbone, *tokenizer, *task, /*seed=*/0};
  std::unique_ptr<methods::Cpt> method = make_cpt(golden, context);
  const int64_t n = method->length();

  // PEFT's init: the frozen embedding rows must be ptlab's E[ids] bit for bit; delta starts at 0.
  const at::Tensor& peft_base = tensor_in(init, kEmbedding, init_path);
  const at::Tensor& peft_delta = tensor_in(init, kDelta, init_path);
  PTLAB_CHECK(peft_base.sizes() == method->base().sizes() && peft_delta.sizes() == method->delta().sizes(),
              "{}: PEFT's CPT tensors are {} and {} but ptlab's cpt on {} makes {}: not the golden's base model '{}'",
              init_path, c10::str(peft_base.sizes()), c10::str(peft_delta.sizes()), options.model_dir,
              c10::str(method->base().sizes()), golden.base_model);
  report.checks.push_back({"ptlab's context embeddings E[cpt_token_ids] are PEFT's embedding.weight, bit for bit",
                           at::equal(method->base().to(at::kCPU), peft_base)});
  report.checks.push_back({"delta starts at PEFT's init (zeros)", at::equal(method->delta().to(at::kCPU), peft_delta)});
  method->import_state({{"delta", peft_delta}}, init_path);

  int64_t max_type = 0;
  for (int64_t t : method->context().type_mask) max_type = std::max(max_type, t);
  bool layout_ok = false;
  const std::string batch_path = golden.dir + "/batch.safetensors";
  const tasks::Batch batch =
      cpt_batch(batch_file, batch_path, n, max_type, tasks::Template::placeholder_id(*tokenizer), layout_ok);
  report.checks.push_back({"the batch is PEFT's layout ([context][tokens][pads], mask, the query's label tokens)",
                           layout_ok});

  train::NamedParameters params = method->trainable_parameters();
  auto optimizer = train::make_optimizer(golden.optimizer, params);
  const at::Tensor& delta = method->delta();
  for (int64_t step = 0; step < steps; ++step) {
    optimizer->zero_grad();
    const at::Tensor loss = cpt_loss(*method, *backbone, batch);
    const double value = loss.item<double>(), peft = golden.losses[step];
    report.losses.push_back(StepLoss{value, peft, std::abs(value - peft) / std::abs(peft), tol.loss_relative});
    loss.backward();
    if (step == 0) {
      const at::Tensor& expected = tensor_in(grads0, kDelta, golden.dir + "/grads_step0.safetensors");
      const at::Tensor grad = delta.grad().defined() ? delta.grad() : at::zeros_like(delta);
      const double scale = expected.abs().max().item<double>();
      report.step0_grads.push_back(
          TensorDiff{kDelta, max_abs_diff(grad, expected), scale, tol.grad_absolute + tol.grad_relative * scale});
    }
    optimizer->step();
  }

  report.final_state_compared = steps == golden_steps;
  if (!report.final_state_compared) return report;
  const std::string final_path = golden.dir + "/final_full_state.safetensors";
  const at::Tensor& final_delta = tensor_in(final_state, kDelta, final_path);
  report.final_state.push_back(TensorDiff{kDelta, max_abs_diff(delta, final_delta),
                                          final_delta.abs().max().item<double>(), tol.state_absolute});
  const at::Tensor& final_base = tensor_in(final_state, kEmbedding, final_path);
  report.final_state.push_back(TensorDiff{kEmbedding, max_abs_diff(method->base(), final_base),
                                          final_base.abs().max().item<double>(), 0.0});

  // The adapter: ptlab's export against PEFT's adapter_final, then both reloaded.
  const fs::path tmp = fs::temp_directory_path() /
                       fmt::format("ptlab_cpt_parity_{}_{}", static_cast<long>(::getpid()), std::random_device{}());
  fs::create_directories(tmp);
  struct Cleanup {
    fs::path dir;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } cleanup{tmp};
  method->save_exports(tmp.string());
  const std::string ours = (tmp / "adapter").string();
  const std::string theirs = golden.dir + "/adapter_final";
  const at::Tensor exported = io::load_safetensors(ours + "/adapter_model.safetensors").at("prompt_embeddings");
  const at::Tensor saved = tensor_in(io::load_safetensors(theirs + "/adapter_model.safetensors"), "prompt_embeddings",
                                     theirs + "/adapter_model.safetensors");
  report.final_state.push_back(TensorDiff{"adapter_final/adapter_model.safetensors:prompt_embeddings",
                                          max_abs_diff(exported, saved), saved.abs().max().item<double>(),
                                          tol.state_absolute});
  auto read_json = [](const std::string& file) {
    std::ifstream in(file);
    PTLAB_CHECK(in.good(), "cannot read {}", file);
    return nlohmann::json::parse(in);
  };
  nlohmann::json our_config = read_json(ours + "/adapter_config.json");
  const nlohmann::json peft_config = read_json(theirs + "/adapter_config.json");
  for (const char* key : {"base_model_name_or_path", "tokenizer_name_or_path"}) {
    if (peft_config.contains(key)) our_config[key] = peft_config[key];  // paths differ by machine
  }
  report.checks.push_back({"the exported adapter_config.json is PEFT's (but for the model paths)",
                           io::python_json_dumps(our_config) == io::python_json_dumps(peft_config)});

  const nlohmann::json& reload = golden.cpt_result.contains("reload_check") ? golden.cpt_result["reload_check"]
                                                                             : nlohmann::json();
  if (reload.is_object() && reload.contains("reloaded_eval_loss")) {
    const double expected = reload["reloaded_eval_loss"].get<double>();
    for (const auto& [label, dir] : {std::pair<std::string, std::string>{"ptlab's exported adapter", ours},
                                     std::pair<std::string, std::string>{"PEFT's adapter_final", theirs}}) {
      std::unique_ptr<methods::Cpt> reloaded = make_cpt(golden, context);
      reloaded->load_state(dir);
      at::NoGradGuard no_grad;
      const double value = cpt_loss(*reloaded, *backbone, batch).item<double>();
      const double rel = std::abs(value - expected) / std::abs(expected);
      report.checks.push_back({fmt::format("{} reloaded: loss {} vs PEFT's reloaded {} (rel {:.2e} <= {:.0e})", label,
                                           fmt_g(value), fmt_g(expected), rel, tol.loss_relative),
                               rel <= tol.loss_relative});
    }
  }
  return report;
}

}  // namespace ptlab::launchers
