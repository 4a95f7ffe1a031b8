#include "tasks/task.h"

#include "framework/core/error.h"
#include "framework/core/suggest.h"

#include <algorithm>

namespace ptlab::tasks {

namespace {

// A list of strings, or one string standing for a list of one.
std::vector<std::string> string_or_list(config::Reader& reader, const std::string& key, const std::string& what) {
  try {
    return reader.get<std::vector<std::string>>(key, {});
  } catch (const Error&) {
    try {
      return {reader.get<std::string>(key, "")};
    } catch (const Error&) {
      PTLAB_FAIL("{}: expected {} or a list of them", reader.key_path(key), what);
    }
  }
}

std::vector<std::string> keys_of(const std::map<std::string, std::string>& m) {
  std::vector<std::string> out;
  for (const auto& [k, v] : m) out.push_back(k);
  return out;
}

}  // namespace

// ---- TaskConfig ---------------------------------------------------------------------------------------

TaskConfig TaskConfig::decode(config::Reader reader, const config::Origins& origins, std::string name) {
  register_builtin_tasks();
  TaskConfig c;
  c.name = std::move(name);
  auto at = [&](const std::string& key) { return reader.key_path(key) + origins.from(reader.key_path(key)); };
  c.where = reader.path() + origins.from(reader.path());

  c.type = reader.get<std::string>("type", "classification");
  if (!task_registry().contains(c.type)) {
    const auto known = task_registry().names();
    PTLAB_FAIL("{}: unknown task type '{}'{}; known types: {}", at("type"), c.type, did_you_mean(c.type, known),
               join_names(known));
  }
  c.max_length = reader.get<int64_t>("max_length", 256);
  PTLAB_CHECK(c.max_length >= 0, "{}: max_length must be >= 0 (0: no limit), got {}", at("max_length"), c.max_length);

  const std::optional<std::string> main = reader.get<std::optional<std::string>>("template", std::nullopt);
  c.templates = reader.get<std::map<std::string, std::string>>("templates", {});
  c.template_name = reader.get<std::optional<std::string>>("template_name", std::nullopt).value_or("");
  if (!c.template_name.empty()) {
    auto it = c.templates.find(c.template_name);
    if (it == c.templates.end()) {
      const auto known = keys_of(c.templates);
      PTLAB_FAIL("{}: no template named '{}'{}; task.templates has: {}", at("template_name"), c.template_name,
                 did_you_mean(c.template_name, known), known.empty() ? "nothing" : join_names(known));
    }
    c.template_text = it->second;
    c.template_where = at("templates") + " '" + c.template_name + "'";
  } else if (main) {
    c.template_text = *main;
    c.template_where = at("template");
  }
  c.template_no_input = reader.get<std::optional<std::string>>("template_no_input", std::nullopt);

  if (reader.has("verbalizer")) c.verbalizer = VerbalizerConfig::decode(reader.child("verbalizer"), at("verbalizer"));
  config::Reader alternatives = reader.child("verbalizers");
  for (const std::string& key : alternatives.keys())
    c.verbalizers.emplace(key, VerbalizerConfig::decode(alternatives.child(key), at("verbalizers") + " '" + key + "'"));
  c.verbalizer_name = reader.get<std::optional<std::string>>("verbalizer_name", std::nullopt).value_or("");
  if (!c.verbalizer_name.empty()) {
    auto it = c.verbalizers.find(c.verbalizer_name);
    if (it == c.verbalizers.end()) {
      std::vector<std::string> known;
      for (const auto& [k, v] : c.verbalizers) known.push_back(k);
      PTLAB_FAIL("{}: no verbalizer named '{}'{}; task.verbalizers has: {}", at("verbalizer_name"), c.verbalizer_name,
                 did_you_mean(c.verbalizer_name, known), known.empty() ? "nothing" : join_names(known));
    }
    c.verbalizer = it->second;
  }

  if (reader.has("pvps")) {
    // PET's pattern-verbalizer pairs: names of templates and verbalizers defined above.
    using Item = std::map<std::string, std::optional<std::string>>;
    const auto items = reader.get<std::vector<Item>>("pvps", {});
    for (std::size_t i = 0; i < items.size(); ++i) {
      const std::string path = reader.key_path("pvps") + "[" + std::to_string(i) + "]";
      const std::string from = origins.from(reader.key_path("pvps"));
      const std::string where = path + from;
      auto at_key = [&](const char* key) { return path + "." + key + from; };
      PatternVerbalizerPair pvp;
      for (const auto& [key, value] : items[i]) {
        if (key == "template") pvp.template_name = value.value_or("");
        else if (key == "verbalizer") pvp.verbalizer_name = value.value_or("");
        else PTLAB_FAIL("{}: unknown key '{}'; a pattern-verbalizer pair has template and verbalizer", where, key);
      }
      PTLAB_CHECK(items[i].count("template"), "{}: no template; name one of task.templates (null: the `template` key)",
                  where);
      pvp.where = where;
      std::string text;
      if (pvp.template_name.empty()) {
        PTLAB_CHECK(main.has_value(), "{}: null names the `template` key, which this task does not set", at_key("template"));
        text = *main;
      } else {
        auto it = c.templates.find(pvp.template_name);
        if (it == c.templates.end()) {
          const auto known = keys_of(c.templates);
          PTLAB_FAIL("{}: no template named '{}'{}; task.templates has: {}", at_key("template"), pvp.template_name,
                     did_you_mean(pvp.template_name, known), known.empty() ? "nothing" : join_names(known));
        }
        text = it->second;
      }
      PTLAB_CHECK(text.find("{mask}") != std::string::npos,
                  "{}: pattern '{}' has no {{mask}} slot; a PET pattern is a cloze question with one {{mask}} "
                  "where the verbalizer's word goes", at_key("template"), text);
      if (!pvp.verbalizer_name.empty() && !c.verbalizers.count(pvp.verbalizer_name)) {
        std::vector<std::string> known;
        for (const auto& [k, v] : c.verbalizers) known.push_back(k);
        PTLAB_FAIL("{}: no verbalizer named '{}'{}; task.verbalizers has: {}", at_key("verbalizer"), pvp.verbalizer_name,
                   did_you_mean(pvp.verbalizer_name, known), known.empty() ? "nothing" : join_names(known));
      }
      PTLAB_CHECK(!pvp.verbalizer_name.empty() || c.verbalizer.has_value(),
                  "{}: null names the `verbalizer` key, which this task does not set", at_key("verbalizer"));
      c.pvps.push_back(std::move(pvp));
    }
  }
  if (reader.has("metric")) {
    c.metrics = string_or_list(reader, "metric", "a metric name");
    for (const std::string& metric : c.metrics) make_metric(metric, 1, {}, at("metric"));  // unknown -> Error
  }
  if (reader.has("task_names")) {
    c.task_names = string_or_list(reader, "task_names", "a task name");
    PTLAB_CHECK(!c.task_names.empty(), "{}: an empty list; name the tasks of a mixed-task dataset in id order, or "
                "drop the key", at("task_names"));
    for (std::size_t i = 0; i < c.task_names.size(); ++i)
      for (std::size_t j = 0; j < i; ++j)
        PTLAB_CHECK(c.task_names[i] != c.task_names[j], "{}: '{}' is listed twice (ids {} and {}); task names must "
                    "be distinct", at("task_names"), c.task_names[i], j, i);
  }
  if (reader.has("task_classes")) {
    config::Reader classes = reader.child("task_classes");
    PTLAB_CHECK(!c.task_names.empty(), "{}: per-task classes need task.task_names (the tasks in id order)",
                at("task_classes"));
    for (const std::string& name : classes.keys()) {
      PTLAB_CHECK(std::find(c.task_names.begin(), c.task_names.end(), name) != c.task_names.end(),
                  "{}: '{}'{} is not in task.task_names ({})", at("task_classes." + name), name,
                  did_you_mean(name, c.task_names), join_names(c.task_names));
      c.task_classes[name] = string_or_list(classes, name, "a class name");
      PTLAB_CHECK(!c.task_classes[name].empty(), "{}: a task needs at least one class", at("task_classes." + name));
    }
  }
  if (reader.has("data")) c.data = data::DatasetConfig::decode(reader.child("data"), origins);
  reader.finish();
  return c;
}

TaskConfig TaskConfig::from_config(const YAML::Node& root, const config::Origins& origins, const std::string& key_path,
                                   std::string name) {
  YAML::Node node = YAML::Clone(root);  // lookups below must not touch the caller's tree
  std::size_t start = 0;
  while (!key_path.empty() && start <= key_path.size()) {
    std::size_t dot = key_path.find('.', start);
    if (dot == std::string::npos) dot = key_path.size();
    const std::string key = key_path.substr(start, dot - start);
    const YAML::Node& current = node;
    PTLAB_CHECK(current.IsMap() && current[key].IsDefined(), "the config has no '{}' section (looked for {})", key,
                key_path);
    node.reset(current[key]);
    start = dot + 1;
  }
  return decode(config::Reader(node, key_path, origins), origins, std::move(name));
}

// ---- Task ---------------------------------------------------------------------------------------------

Task::Task(TaskConfig config, const text::Tokenizer& tokenizer, const models::BackboneInfo& backbone)
    : config_(std::move(config)), tokenizer_(&tokenizer), backbone_(backbone) {
  // The tokenizer's single-sequence template, read off an encoding of a probe word.
  const std::vector<int> plain = tokenizer.encode("a", false).ids;
  const std::vector<int> full = tokenizer.encode("a", true).ids;
  auto it = std::search(full.begin(), full.end(), plain.begin(), plain.end());
  PTLAB_ASSERT(!plain.empty() && it != full.end(), "the tokenizer's template does not contain the plain encoding");
  special_prefix_.assign(full.begin(), it);
  special_suffix_.assign(it + static_cast<std::ptrdiff_t>(plain.size()), full.end());
}

std::string Task::where() const { return config_.name.empty() ? std::string("task") : "task " + config_.name; }

std::vector<std::string> Task::class_names() const {
  return verbalizer_ ? verbalizer_->class_names() : std::vector<std::string>{};
}

void Task::learn_labels(const std::vector<data::Example>&) {}

std::vector<std::string> Task::metric_names() const {
  return config_.metrics.empty() ? default_metrics() : config_.metrics;
}

MetricSet Task::make_metrics() const {
  return MetricSet(metric_names(), num_classes(), class_names(), where() + " metric");
}

int64_t Task::task_id(const data::Example& example) const {
  const auto& names = config_.task_names;
  if (names.empty()) return -1;
  const std::string source = example.source.describe();
  const std::string which = source.empty() ? std::string("an example") : "example " + source;
  const auto it = example.meta.find("task");
  PTLAB_CHECK(it != example.meta.end(),
              "{}: {} has no task name but {} lists the tasks {}; map its task column with "
              "data.fields.meta.task",
              where(), which, "task.task_names", join_names(names));
  for (std::size_t i = 0; i < names.size(); ++i)
    if (names[i] == it->second) return static_cast<int64_t>(i);
  PTLAB_FAIL("{}: {} is of task '{}'{}, which {} does not list (it has {})", where(), which,
             it->second, did_you_mean(it->second, names), "task.task_names", join_names(names));
}

RenderedExample Task::render(const Template& tmpl, const data::Example& example, bool prefix_only,
                             int64_t reserve) const {
  const bool names_special = tmpl.uses(SpecialToken::kBos) || tmpl.uses(SpecialToken::kEos) ||
                             tmpl.uses(SpecialToken::kSep) || tmpl.uses(SpecialToken::kCls);
  const bool wrap = !names_special;
  const auto prefix = static_cast<int64_t>(wrap ? special_prefix_.size() : 0);
  const auto suffix = static_cast<int64_t>(wrap && !prefix_only ? special_suffix_.size() : 0);
  int64_t budget = 0;
  if (config_.max_length > 0) {
    budget = config_.max_length - prefix - suffix - reserve;
    PTLAB_CHECK(budget >= 1, "{}: max_length {} leaves no room for the template after {} special tokens", where(),
                config_.max_length, prefix + suffix + reserve);
  }
  RenderedExample r;
  try {
    r = tmpl.render(example, *tokenizer_, budget);
  } catch (const Error& e) {
    if (budget == config_.max_length) throw;
    throw Error(fmt::format("{} (task max_length {} less {} tokens for the tokenizer's special tokens{})", e.what(),
                            config_.max_length, prefix + suffix + reserve, reserve > 0 ? " and eos" : ""));
  }
  r.task_id = task_id(example);
  if (prefix == 0 && suffix == 0) return r;

  auto moved = [&](int64_t p) { return p < 0 ? p : p + prefix; };
  for (auto& group : r.soft_positions)
    for (int64_t& p : group) p += prefix;
  for (int64_t& p : r.word_starts) p = moved(p);
  r.mask_position = moved(r.mask_position);
  r.cls_position = moved(r.cls_position);
  r.target_begin = moved(r.target_begin);
  r.target_end = moved(r.target_end);
  const int64_t last_type = r.token_type_ids.empty() ? 0 : r.token_type_ids.back();
  r.input_ids.insert(r.input_ids.begin(), special_prefix_.begin(), special_prefix_.end());
  r.token_type_ids.insert(r.token_type_ids.begin(), special_prefix_.size(), 0);
  if (suffix > 0) {
    r.input_ids.insert(r.input_ids.end(), special_suffix_.begin(), special_suffix_.end());
    r.token_type_ids.insert(r.token_type_ids.end(), special_suffix_.size(), last_type);
  }
  r.length = static_cast<int64_t>(r.input_ids.size());
  return r;
}

void Task::set_template(const std::string& default_text) {
  if (!config_.template_text.empty()) {
    template_ = Template::parse(config_.template_text,
                                config_.template_where.empty() ? where() + " template" : config_.template_where);
    return;
  }
  PTLAB_CHECK(!default_text.empty(), "{}: a task of type {} needs a template: set task.template", where(),
              config_.type);
  template_ = Template::parse(default_text, where() + " default template");
}

// ---- registry -----------------------------------------------------------------------------------------

Registry<TaskType>& task_registry() {
  static Registry<TaskType> registry("task type");
  return registry;
}

std::unique_ptr<Task> make_task(const TaskConfig& config, const text::Tokenizer& tokenizer,
                                const models::BackboneInfo& backbone) {
  register_builtin_tasks();
  return task_registry().get(config.type).make(config, tokenizer, backbone);
}

}  // namespace ptlab::tasks
