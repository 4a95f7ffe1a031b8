// `ptlab data show task=NAME [n=5] [split=train] [--tokenizer PATH] [--config-dir DIR] [overrides...]`:
// composes the config with the task, reads every split of its dataset, and prints n raw examples of one
// split and the statistics of all splits (rows, label distribution, length percentiles) — the check a
// researcher makes before training on a dataset, or after adding one in YAML.
#include "framework/config/compose.h"
#include "framework/config/config_file.h"
#include "framework/config/tree.h"
#include "framework/core/error.h"
#include "framework/core/suggest.h"
#include "framework/data/dataset.h"
#include "framework/data/stats.h"
#include "framework/models/loader.h"
#include "framework/text/tokenizer.h"
#include "launchers/command.h"
#include "tasks/task.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

namespace ptlab::launchers {

extern const char* const kDataShowHelp;
const char* const kDataShowHelp =
    "usage: ptlab data show task=NAME [n=5] [split=train] [--tokenizer PATH] [--no-render] [--config-dir DIR]\n"
    "                       [overrides...]\n"
    "\n"
    "Reads the dataset of a task (configs/task/NAME.yaml, section data:) and prints n raw examples of one split\n"
    "and, for every split, the rows, the label distribution and length percentiles (whitespace words, or tokens\n"
    "of the tokenizer given with --tokenizer: a model directory or tokenizer file).\n"
    "Each example is also shown as the task renders it for training with the configured model (model=..., whose\n"
    "tokenizer and config are loaded): the text with soft-prompt slots marked <soft:N> and the answer slot\n"
    "<mask>, then the token ids.\n"
    "\n"
    "task=NAME          the task (configs/task/NAME.yaml)\n"
    "n=N                examples to print (default 5; 0 prints none)\n"
    "split=NAME         the split to print examples of (default train)\n"
    "--tokenizer PATH   count lengths in this tokenizer's tokens\n"
    "--no-render        print the raw examples only (no model or tokenizer is loaded for rendering)\n"
    "--config-dir DIR   the config directory (default: $PTLAB_CONFIG_DIR, else ./configs over the built-in configs)\n"
    "overrides          Hydra overrides, e.g. task.data.limit=100 task.data.few_shot.k=16\n"
    "examples:\n"
    "  ptlab data show task=sst2\n"
    "  ptlab data show task=trec split=dev n=3 task.data.split_from.seed=1\n";

namespace {

/// "task=NAME" when the primary config's defaults list has a task entry (even `task: null`), else
/// "+task=NAME" (Hydra refuses the other spelling in each case).
std::string task_override(const std::string& config_dir, const std::string& task) {
  for (const auto& d : config::load_config_file(config_dir, "config").defaults)
    if (d.kind == config::DefaultsEntry::Kind::kGroup && (d.name == "task" || d.name == "/task")) return "task=" + task;
  return "+task=" + task;
}

/// The first comment line of the task file (its description), without "# " and a leading "NAME: ".
std::string task_description(const std::string& config_dir, const std::string& task) {
  std::ifstream in(config::config_file_path(config_dir, "task/" + task));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("#", 0) != 0) break;
    const std::size_t b = line.find_first_not_of("# ");
    if (b == std::string::npos) continue;
    std::string text = line.substr(b);
    if (text.rfind(task + ": ", 0) == 0) text = text.substr(task.size() + 2);
    return text;
  }
  return {};
}

std::string clip(const std::string& text, std::size_t max_bytes = 400) {
  if (text.size() <= max_bytes) return text;
  std::size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;  // keep UTF-8 whole
  return text.substr(0, cut) + fmt::format(" ... [{} bytes in all]", text.size());
}

/// The rendering side of `data show`: the task built for the configured model, or why there is none.
struct Renderer {
  std::unique_ptr<text::Tokenizer> tokenizer;
  std::unique_ptr<tasks::Task> task;
  std::string model_dir;
  std::string unavailable;  // why rendering is off (printed once)
};

Renderer make_renderer(const config::Composed& composed, const std::string& task_name) {
  Renderer r;
  const YAML::Node path = config::find_node(composed.root, {"model", "path"});
  if (!path.IsScalar()) {
    r.unavailable = "no model.path in the config; pick a model with model=NAME";
    return r;
  }
  r.model_dir = path.Scalar();
  try {
    const tasks::TaskConfig tc = tasks::TaskConfig::from_config(composed.root, composed.origins, "task", task_name);
    r.tokenizer = text::load_tokenizer(r.model_dir);
    const auto backbone = models::load_backbone(r.model_dir);
    r.task = tasks::make_task(tc, *r.tokenizer, backbone->info());
  } catch (const Error& e) {
    r.unavailable = e.what();
    r.task.reset();
  }
  return r;
}

/// The rendered ids as text: runs of ordinary tokens decoded, soft slots as <soft:N>, the answer as <mask>.
std::string rendered_text(const tasks::RenderedExample& re, const text::Tokenizer& tok) {
  std::vector<char> soft(re.input_ids.size(), 0);
  for (int64_t p : re.all_soft_positions())
    if (p >= 0 && p < int64_t(soft.size())) soft[std::size_t(p)] = 1;
  std::string out;
  std::vector<int> run;
  auto flush = [&] {
    if (!run.empty()) out += tok.decode(run, false, false);
    run.clear();
  };
  for (std::size_t i = 0; i < re.input_ids.size();) {
    if (soft[i]) {
      flush();
      std::size_t j = i;
      while (j < soft.size() && soft[j]) ++j;
      out += fmt::format("<soft:{}>", j - i);
      i = j;
    } else if (int64_t(i) == re.mask_position) {
      flush();
      out += "<mask>";
      ++i;
    } else {
      run.push_back(int(re.input_ids[i]));
      ++i;
    }
  }
  flush();
  return out;
}

void print_rendered(const Renderer& r, const data::Example& ex) {
  if (!r.task) return;
  try {
    const tasks::RenderedExample re = r.task->encode(ex, tasks::Purpose::kTrain);
    std::printf("  rendered (%lld tokens%s): %s\n", (long long)re.length, re.truncated ? ", truncated" : "",
                clip(rendered_text(re, *r.tokenizer), 600).c_str());
    std::printf("  ids: %s\n", clip(fmt::format("{}", fmt::join(re.input_ids, " ")), 600).c_str());
  } catch (const Error& e) {
    std::printf("  rendered: cannot render: %s\n", e.what());
  }
}

void print_example(std::size_t i, const data::Example& ex) {
  std::printf("[%zu] %s\n", i, ex.source.describe().c_str());
  if (ex.has_label()) {
    if (ex.label != ex.label_name)
      std::printf("  label:  %s -> %s (id %d)\n", ex.label.c_str(), ex.label_name.c_str(), ex.label_id);
    else
      std::printf("  label:  %s (id %d)\n", ex.label_name.c_str(), ex.label_id);
  }
  if (!ex.text_a.empty()) std::printf("  text_a: %s\n", clip(ex.text_a).c_str());
  if (!ex.text_b.empty()) std::printf("  text_b: %s\n", clip(ex.text_b).c_str());
  if (!ex.target.empty()) std::printf("  target: %s\n", clip(ex.target).c_str());
  if (!ex.tokens.empty()) {
    std::string pairs;
    for (std::size_t t = 0; t < ex.tokens.size(); ++t)
      pairs += (t ? " " : "") + ex.tokens[t] + (t < ex.tags.size() ? "/" + ex.tags[t] : "");
    std::printf("  tokens: %s\n", clip(pairs).c_str());
  }
  for (const auto& [k, v] : ex.meta) std::printf("  meta.%s: %s\n", k.c_str(), clip(v, 120).c_str());
}

int run_show(const std::vector<std::string>& args) {
  config::ComposeOptions options{config::default_config_dir()};
  std::string task, split = "train", tokenizer_path;
  long n = 5;
  bool render = true;
  std::vector<std::string> overrides;
  const std::vector<std::string> flags = {"--tokenizer", "--no-render", "--config-dir", "--help"};
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value_of = [&](const std::string& flag) {
      if (a.size() > flag.size() && a.compare(0, flag.size() + 1, flag + "=") == 0) return a.substr(flag.size() + 1);
      PTLAB_CHECK(i + 1 < args.size(), "ptlab data show: {} needs a value", flag);
      return args[++i];
    };
    if (a.rfind("task=", 0) == 0 || a.rfind("+task=", 0) == 0) {
      task = a.substr(a.find('=') + 1);
    } else if (a.rfind("split=", 0) == 0) {
      split = a.substr(6);
    } else if (a.rfind("n=", 0) == 0) {
      const std::string v = a.substr(2);
      char* end = nullptr;
      n = std::strtol(v.c_str(), &end, 10);
      PTLAB_CHECK(!v.empty() && *end == '\0' && n >= 0, "ptlab data show: n must be a count (0 or more), got '{}'", v);
    } else if (a == "--tokenizer" || a.rfind("--tokenizer=", 0) == 0) {
      tokenizer_path = value_of("--tokenizer");
    } else if (a == "--no-render") {
      render = false;
    } else if (a == "--config-dir" || a.rfind("--config-dir=", 0) == 0) {
      options.config_dir = value_of("--config-dir");
    } else if (!a.empty() && a[0] == '-') {
      const std::string name = a.substr(0, a.find('='));
      PTLAB_FAIL("ptlab data show: unknown option '{}'{}; options: {}", name, did_you_mean(name, flags),
                 join_names(flags));
    } else {
      overrides.push_back(a);
    }
  }
  const auto tasks = config::group_options(options.config_dir, "task");
  PTLAB_CHECK(!task.empty(), "ptlab data show: task=NAME is required; tasks in {}/task: {}", options.config_dir,
              tasks.empty() ? std::string("none") : join_names(tasks));
  PTLAB_CHECK(std::find(tasks.begin(), tasks.end(), task) != tasks.end(), "ptlab data show: no task '{}'{}; tasks in "
              "{}/task: {}", task, did_you_mean(task, tasks), options.config_dir, join_names(tasks));

  overrides.insert(overrides.begin(), task_override(options.config_dir, task));
  const config::Composed composed = config::compose(options, overrides, true);
  const data::DatasetConfig cfg = data::DatasetConfig::from_config(composed.root, composed.origins, "task.data");
  const auto names = cfg.split_names();
  PTLAB_CHECK(std::find(names.begin(), names.end(), split) != names.end(), "ptlab data show: task {} has no split "
              "'{}'{}; splits: {}", task, split, did_you_mean(split, names), join_names(names));

  std::unique_ptr<text::Tokenizer> tokenizer;
  if (!tokenizer_path.empty()) tokenizer = text::load_tokenizer(tokenizer_path);

  const auto start = std::chrono::steady_clock::now();
  const data::Dataset ds = data::Dataset::load(cfg);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  const YAML::Node type = config::find_node(composed.root, {"task", "type"});
  std::printf("task %s (%s): %s\n", task.c_str(), type.IsScalar() ? type.Scalar().c_str() : "type not set",
              task_description(options.config_dir, task).c_str());
  if (!ds.labels().empty()) std::printf("labels: %s\n", join_names(ds.labels()).c_str());
  std::printf("dev split: %s; test split: %s\n", cfg.dev_split.empty() ? "none" : cfg.dev_split.c_str(),
              cfg.test_split.empty() ? "none" : cfg.test_split.c_str());

  const auto& rows = ds.split(split);
  const std::size_t shown = std::min<std::size_t>(std::size_t(n), rows.size());
  Renderer renderer;
  if (render && shown > 0) {
    renderer = make_renderer(composed, task);
    if (renderer.task) {
      if (renderer.task->type() == "token_classification" && ds.has_split("train"))
        renderer.task->learn_labels(ds.split("train"));
      std::printf("rendered for training with model %s (--no-render to skip)\n", renderer.model_dir.c_str());
    } else {
      std::printf("not rendered: %s\n", renderer.unavailable.c_str());
    }
  }
  if (shown > 0) std::printf("\nfirst %zu of %zu examples of split %s:\n", shown, rows.size(), split.c_str());
  for (std::size_t i = 0; i < shown; ++i) {
    print_example(i, rows[i]);
    print_rendered(renderer, rows[i]);
  }

  int64_t rows_read = 0;
  std::printf("\nstatistics:\n");
  for (const std::string& name : ds.split_names()) {
    const data::SplitReport& r = ds.report(name);
    std::printf("%s", data::format_stats(data::compute_stats(name, ds.split(name), ds.labels(), tokenizer.get())).c_str());
    std::printf("  file: %s\n", r.file.c_str());
    if (!r.note.empty()) std::printf("  note: %s\n", r.note.c_str());
    if (r.skipped > 0) std::printf("  skipped %lld bad rows (first: %s)\n", (long long)r.skipped, r.skip_reasons.front().c_str());
    if (!cfg.split_from || name != cfg.split_from->name) rows_read += r.rows_read;
  }
  std::printf("\nread %lld rows in %.2f s (%.0f rows/s)\n", (long long)rows_read, seconds,
              seconds > 0 ? double(rows_read) / seconds : 0.0);
  return 0;
}

}  // namespace

int run_data_show(const std::vector<std::string>& args) { return run_show(args); }

}  // namespace ptlab::launchers
