#include "framework/data/dataset_config.h"

#include "framework/config/tree.h"
#include "framework/core/error.h"
#include "framework/core/suggest.h"

#include <algorithm>

namespace ptlab::data {
namespace {

std::string where(const config::Reader& r, const config::Origins& origins) {
  const std::string origin = origins.of(r.path());
  return origin.empty() ? r.path() : r.path() + " (" + origin + ")";
}

char decode_delimiter(config::Reader& r, const config::Origins& origins, char fallback) {
  if (!r.has("delimiter")) return fallback;
  std::string d = r.require<std::string>("delimiter");
  if (d == "tab" || d == "\\t") d = "\t";
  const std::string key = r.key_path("delimiter");
  PTLAB_CHECK(d.size() == 1 && d != "\n" && d != "\r", "{}: the delimiter must be one character (\"\\t\", \",\", \";\" "
              "or tab), got '{}'{}", key, d, origins.from(key));
  return d[0];
}

char decode_quote(config::Reader& r, const config::Origins& origins, char fallback) {
  if (!r.has("quote")) return fallback;
  const auto q = r.get<std::optional<std::string>>("quote", std::nullopt);
  if (!q || q->empty() || *q == "none") return 0;
  const std::string key = r.key_path("quote");
  PTLAB_CHECK(q->size() == 1, "{}: the quote must be one character ('\"') or none, got '{}'{}", key, *q,
              origins.from(key));
  return (*q)[0];
}

int64_t positive(const std::optional<int64_t>& v, const config::Reader& r, const std::string& key,
                 const config::Origins& origins, bool allow_zero = false) {
  const std::string path = r.key_path(key);
  if (v) PTLAB_CHECK(*v > 0 || (allow_zero && *v == 0), "{}: must be {}, got {}{}", path,
                     allow_zero ? "0 or more" : "positive", *v, origins.from(path));
  return v.value_or(0);
}

uint64_t decode_seed(config::Reader& r, const std::string& key, uint64_t fallback, const config::Origins& origins) {
  const int64_t s = r.get<int64_t>(key, int64_t(fallback));
  const std::string path = r.key_path(key);
  PTLAB_CHECK(s >= 0, "{}: a seed must be 0 or more, got {}{}", path, s, origins.from(path));
  return uint64_t(s);
}

SplitConfig decode_split(config::Reader r, const std::string& name, const config::Origins& origins) {
  SplitConfig split;
  split.name = name;
  const std::string path = r.require<std::string>("path");
  const std::string w = where(r, origins);
  Format format = r.has("format") ? parse_format(r.require<std::string>("format"), r.key_path("format"))
                                  : format_from_extension(path, r.key_path("path") + origins.from(r.key_path("path")));
  SourceConfig& s = split.source;
  s = SourceConfig::with_defaults(path, format);
  s.config_where = w;
  if (r.has("encoding")) s.encoding = parse_encoding(r.require<std::string>("encoding"), r.key_path("encoding"));
  const bool delimited = format == Format::kTsv || format == Format::kCsv;
  for (const char* key : {"delimiter", "quote", "header", "columns"}) {
    const std::string kp = r.key_path(key);
    PTLAB_CHECK(delimited || !r.has(key), "{}: '{}' applies to tsv and csv files only, this split's format is {}{}", kp,
                key, format_name(format), origins.from(kp));
  }
  s.delimiter = decode_delimiter(r, origins, s.delimiter);
  s.quote = decode_quote(r, origins, s.quote);
  s.header = r.get<bool>("header", s.header);
  s.columns = r.get<std::vector<std::string>>("columns", {});
  if (r.has("fields")) split.fields = FieldMap::decode(r.child("fields"), origins);
  split.limit = r.get<std::optional<int64_t>>("limit", std::nullopt);
  positive(split.limit, r, "limit", origins);
  return split;
}

}  // namespace

DatasetConfig DatasetConfig::decode(config::Reader reader, const config::Origins& origins) {
  DatasetConfig cfg;
  cfg.config_where = where(reader, origins);

  config::Reader splits = reader.child("splits");
  for (const std::string& name : splits.keys()) cfg.splits.push_back(decode_split(splits.child(name), name, origins));
  PTLAB_CHECK(!cfg.splits.empty(), "{}: no splits; add splits: {{train: {{path: ...}}, ...}}", cfg.config_where);

  cfg.fields = FieldMap::decode(reader.child("fields"), origins);
  config::Reader label_map = reader.child("label_map");
  for (const std::string& key : label_map.keys()) cfg.label_map.emplace_back(key, label_map.require<std::string>(key));
  cfg.labels = reader.get<std::optional<std::vector<std::string>>>("labels", std::nullopt).value_or(std::vector<std::string>{});

  const std::string policy = reader.get<std::string>("on_bad_row", "error");
  PTLAB_CHECK(policy == "error" || policy == "skip", "{}: on_bad_row must be error or skip, got '{}'{}",
              reader.key_path("on_bad_row"), policy, origins.from(reader.key_path("on_bad_row")));
  cfg.on_bad_row = policy == "skip" ? BadRowPolicy::kSkip : BadRowPolicy::kError;
  cfg.limit = reader.get<std::optional<int64_t>>("limit", std::nullopt);
  positive(cfg.limit, reader, "limit", origins);

  config::Reader few = reader.child("few_shot");
  cfg.few_shot.k = positive(few.get<std::optional<int64_t>>("k", int64_t(0)), few, "k", origins, true);
  cfg.few_shot.seed = decode_seed(few, "seed", cfg.few_shot.seed, origins);
  cfg.few_shot.splits = few.get<std::vector<std::string>>("splits", cfg.few_shot.splits);

  config::Reader from = reader.child("split_from");
  if (!from.keys().empty()) {
    SplitFromConfig sf;
    sf.source = from.get<std::string>("source", sf.source);
    sf.name = from.get<std::string>("name", sf.name);
    sf.dev_fraction = from.get<double>("dev_fraction", sf.dev_fraction);
    sf.dev_size = from.get<std::optional<int64_t>>("dev_size", std::nullopt);
    positive(sf.dev_size, from, "dev_size", origins);
    sf.seed = decode_seed(from, "seed", sf.seed, origins);
    const std::string fk = from.key_path("dev_fraction");
    PTLAB_CHECK(sf.dev_fraction > 0 && sf.dev_fraction < 1, "{}: must be between 0 and 1 (exclusive), got {}{}", fk,
                sf.dev_fraction, origins.from(fk));
    std::vector<std::string> names;
    for (const auto& s : cfg.splits) names.push_back(s.name);
    const std::string sk = from.key_path("source");
    PTLAB_CHECK(cfg.find_split(sf.source), "{}: no split '{}' to split from{}{}; splits: {}", sk, sf.source,
                did_you_mean(sf.source, names), origins.from(sk), join_names(names));
    const std::string nk = from.key_path("name");
    PTLAB_CHECK(sf.name != sf.source, "{}: split_from must create a split other than its source '{}'{}", nk, sf.source,
                origins.from(nk));
    PTLAB_CHECK(!cfg.find_split(sf.name),
                "{}: split '{}' already comes from a file; split_from must create a new split (e.g. name: dev){}", nk,
                sf.name, origins.from(nk));
    cfg.split_from = sf;
  }

  const std::vector<std::string> all = cfg.split_names();
  for (std::size_t i = 0; i < cfg.few_shot.splits.size(); ++i) {
    const std::string& s = cfg.few_shot.splits[i];
    const std::string key = config::item_key_path(few.key_path("splits"), i);
    PTLAB_CHECK(std::find(all.begin(), all.end(), s) != all.end(), "{}: no split '{}'{}{}; splits: {}", key, s,
                did_you_mean(s, all), origins.from(key), join_names(all));
  }
  {
    const std::string key = reader.key_path("train_split");
    cfg.train_split = reader.get<std::string>("train_split", cfg.train_split);
    // A config without a train split (evaluation-only data) keeps the default name; the trial asks for it
    // only when a method trains.
    PTLAB_CHECK(cfg.train_split == "train" || std::find(all.begin(), all.end(), cfg.train_split) != all.end(),
                "{}: no split '{}'{}{}; splits: {}", key, cfg.train_split, did_you_mean(cfg.train_split, all),
                origins.from(key), join_names(all));
    const auto unlabeled = reader.get<std::optional<std::string>>("unlabeled_split", std::nullopt);
    const std::string ukey = reader.key_path("unlabeled_split");
    PTLAB_CHECK(!unlabeled || std::find(all.begin(), all.end(), *unlabeled) != all.end(),
                "{}: no split '{}'{}{}; splits: {}", ukey, unlabeled.value_or(""), did_you_mean(unlabeled.value_or(""), all),
                origins.from(ukey), join_names(all));
    cfg.unlabeled_split = unlabeled.value_or("");
  }
  for (const char* role : {"dev_split", "test_split"}) {
    const std::string fallback = std::string(role) == "dev_split" ? "dev" : "test";
    const bool known = std::find(all.begin(), all.end(), fallback) != all.end();
    const auto name = reader.get<std::optional<std::string>>(role, known ? std::optional<std::string>(fallback)
                                                                         : std::nullopt);
    const std::string key = reader.key_path(role);
    PTLAB_CHECK(!name || std::find(all.begin(), all.end(), *name) != all.end(), "{}: no split '{}'{}{}; splits: {}",
                key, *name, did_you_mean(*name, all), origins.from(key), join_names(all));
    (std::string(role) == "dev_split" ? cfg.dev_split : cfg.test_split) = name.value_or("");
  }
  for (const auto& s : cfg.splits)
    PTLAB_CHECK(!cfg.fields_for(s).empty(), "{}: split '{}' maps no fields; add fields: {{text_a: <column>, ...}}",
                cfg.config_where, s.name);

  reader.finish();
  return cfg;
}

DatasetConfig DatasetConfig::from_config(const YAML::Node& root, const config::Origins& origins,
                                         const std::string& key_path) {
  YAML::Node node = config::find_node(root, config::split_key_path(key_path));
  PTLAB_CHECK(node.IsDefined() && node.IsMap(), "the config has no '{}' mapping{}; pick a task with task=<name> "
              "(configs/task/)", key_path, node.IsDefined() ? " (it is not a mapping)" : "");
  return decode(config::Reader(node, key_path, origins), origins);
}

std::vector<std::string> DatasetConfig::split_names() const {
  std::vector<std::string> names;
  for (const auto& s : splits) names.push_back(s.name);
  if (split_from && std::find(names.begin(), names.end(), split_from->name) == names.end())
    names.push_back(split_from->name);
  return names;
}

const SplitConfig* DatasetConfig::find_split(const std::string& name) const {
  for (const auto& s : splits)
    if (s.name == name) return &s;
  return nullptr;
}

}  // namespace ptlab::data
