#include "framework/data/field_map.h"

#include "framework/core/suggest.h"

#include <algorithm>

namespace ptlab::data {
namespace {

const std::vector<std::string>& target_names() {
  static const std::vector<std::string> names = {"text_a", "text_b", "label", "target", "tokens", "tags", "meta.<name>"};
  return names;
}

bool all_digits(const std::string& s) {
  return !s.empty() && s.size() < 10 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::vector<std::string> split_path(const std::string& s) {
  std::vector<std::string> parts;
  std::size_t b = 0;
  for (;;) {
    const std::size_t e = s.find('/', b);
    parts.push_back(s.substr(b, e == std::string::npos ? std::string::npos : e - b));
    if (e == std::string::npos) break;
    b = e + 1;
  }
  return parts;
}

std::vector<std::string> split_whitespace(const std::string& s) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    const std::size_t b = i;
    while (i < s.size() && s[i] != ' ' && s[i] != '\t') ++i;
    if (i > b) out.push_back(s.substr(b, i - b));
  }
  return out;
}

std::string keys_of(const nlohmann::json& object) {
  std::vector<std::string> keys;
  for (auto it = object.begin(); it != object.end(); ++it) keys.push_back(it.key());
  return keys.empty() ? std::string("none") : join_names(keys);
}

}  // namespace

std::string field_name(Field field, const std::string& meta_key) {
  switch (field) {
    case Field::kTextA: return "text_a";
    case Field::kTextB: return "text_b";
    case Field::kLabel: return "label";
    case Field::kTarget: return "target";
    case Field::kTokens: return "tokens";
    case Field::kTags: return "tags";
    case Field::kMeta: return "meta." + meta_key;
  }
  return "?";
}

bool FieldMap::has(Field field) const {
  return std::any_of(specs.begin(), specs.end(), [&](const FieldSpec& s) { return s.field == field; });
}

FieldMap FieldMap::decode(config::Reader reader, const config::Origins& origins) {
  FieldMap map;
  const std::string origin = origins.of(reader.path());
  map.config_where = origin.empty() ? reader.path() : reader.path() + " (" + origin + ")";
  auto add = [&](Field field, const std::string& meta_key, const std::string& source, const std::string& key) {
    PTLAB_CHECK(!source.empty(), "{}: empty column/key name{}", key, origins.from(key));
    for (const auto& s : map.specs)
      PTLAB_CHECK(!(s.field == field && s.meta_key == meta_key), "{}: field {} is mapped twice{}", key,
                  field_name(field, meta_key), origins.from(key));
    map.specs.push_back(FieldSpec{field, meta_key, source, key});
  };
  for (const std::string& key : reader.keys()) {
    const std::string key_path = reader.key_path(key);
    if (key == "meta") {
      config::Reader meta = reader.child("meta");
      for (const std::string& m : meta.keys()) add(Field::kMeta, m, meta.require<std::string>(m), meta.key_path(m));
      continue;
    }
    if (key.rfind("meta.", 0) == 0 && key.size() > 5) {
      add(Field::kMeta, key.substr(5), reader.require<std::string>(key), key_path);
      continue;
    }
    static const std::vector<std::pair<std::string, Field>> fields = {
        {"text_a", Field::kTextA}, {"text_b", Field::kTextB}, {"label", Field::kLabel},
        {"target", Field::kTarget}, {"tokens", Field::kTokens}, {"tags", Field::kTags}};
    auto it = std::find_if(fields.begin(), fields.end(), [&](const auto& f) { return f.first == key; });
    PTLAB_CHECK(it != fields.end(), "{}: unknown field '{}'{}{}; fields: {}", key_path, key,
                did_you_mean(key, {"text_a", "text_b", "label", "target", "tokens", "tags", "meta"}),
                origins.from(key_path), join_names(target_names()));
    add(it->second, "", reader.require<std::string>(key), key_path);
  }
  return map;
}

FieldExtractor::FieldExtractor(const FieldMap& map, const RowReader& reader) {
  const SourceConfig& src = reader.source();
  json_ = is_json_format(src.format);
  const auto& names = reader.column_names();
  for (const FieldSpec& spec : map.specs) {
    Bound b;
    b.spec = spec;
    if (json_) {
      b.path = split_path(spec.source);
      for (const auto& p : b.path)
        PTLAB_CHECK(!p.empty(), "{}: '{}' has an empty key between '/'", spec.config_key, spec.source);
    } else {
      auto it = std::find(names.begin(), names.end(), spec.source);
      if (it != names.end()) {
        b.column = int(it - names.begin());
      } else if (all_digits(spec.source)) {
        b.column = std::stoi(spec.source);
        PTLAB_CHECK(names.empty() || b.column < int(names.size()),
                    "{}: column index {} is out of range: '{}' has {} columns ({})", spec.config_key, b.column,
                    src.path, names.size(), join_names(names));
      } else if (names.empty()) {
        PTLAB_FAIL("{}: '{}' has no header (header: false), so column '{}' cannot be found by name; use a 0-based "
                   "column index or name the columns with columns: [...]",
                   spec.config_key, src.path, spec.source);
      } else {
        PTLAB_FAIL("{}: missing column '{}' for field {} in '{}' (line 1){}; its columns are: {}", spec.config_key,
                   spec.source, field_name(spec.field, spec.meta_key), src.path, did_you_mean(spec.source, names),
                   join_names(names));
      }
    }
    bound_.push_back(std::move(b));
  }
}

const std::string& FieldExtractor::column_value(const RawRow& row, const Bound& b) const {
  if (b.column >= int(row.columns.size()))
    throw RowError(fmt::format("{}: the row has {} field{}, field {} needs column {} (0-based)", row.source.describe(),
                               row.columns.size(), row.columns.size() == 1 ? "" : "s",
                               field_name(b.spec.field, b.spec.meta_key), b.column));
  return row.columns[std::size_t(b.column)];
}

const nlohmann::json& FieldExtractor::json_value(const RawRow& row, const Bound& b) const {
  const nlohmann::json* node = &row.json;
  std::string walked;
  for (const std::string& key : b.path) {
    const std::string here = walked.empty() ? "the row" : "'" + walked + "'";
    if (node->is_object()) {
      auto it = node->find(key);
      if (it == node->end())
        throw RowError(fmt::format("{}: missing key '{}' for field {} (keys of {}: {})", row.source.describe(),
                                   walked.empty() ? key : walked + "/" + key, field_name(b.spec.field, b.spec.meta_key),
                                   here, keys_of(*node)));
      node = &*it;
    } else if (node->is_array() && all_digits(key)) {
      const std::size_t i = std::stoul(key);
      if (i >= node->size())
        throw RowError(fmt::format("{}: field {}: index {} is past the end of {} ({} items)", row.source.describe(),
                                   field_name(b.spec.field, b.spec.meta_key), i, here, node->size()));
      node = &(*node)[i];
    } else {
      throw RowError(fmt::format("{}: field {}: {} is a JSON {}, it has no key '{}'", row.source.describe(),
                                 field_name(b.spec.field, b.spec.meta_key), here, node->type_name(), key));
    }
    walked = walked.empty() ? key : walked + "/" + key;
  }
  if (node->is_null())
    throw RowError(fmt::format("{}: field {}: '{}' is null", row.source.describe(),
                               field_name(b.spec.field, b.spec.meta_key), b.spec.source));
  return *node;
}

std::string FieldExtractor::value_text(const RawRow& row, const Bound& b) const {
  if (!json_) return column_value(row, b);
  const nlohmann::json& v = json_value(row, b);
  if (b.spec.field != Field::kMeta && (v.is_object() || v.is_array()))
    throw RowError(fmt::format("{}: field {}: expected a string, '{}' is a JSON {}", row.source.describe(),
                               field_name(b.spec.field, b.spec.meta_key), b.spec.source, v.type_name()));
  return json_scalar_text(v);
}

std::vector<std::string> FieldExtractor::value_list(const RawRow& row, const Bound& b) const {
  if (!json_) return split_whitespace(column_value(row, b));
  const nlohmann::json& v = json_value(row, b);
  if (v.is_string()) return split_whitespace(v.get_ref<const std::string&>());
  if (!v.is_array())
    throw RowError(fmt::format("{}: field {}: expected a list of strings, '{}' is a JSON {}", row.source.describe(),
                               field_name(b.spec.field), b.spec.source, v.type_name()));
  std::vector<std::string> out;
  out.reserve(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (!v[i].is_string())
      throw RowError(fmt::format("{}: field {}: item {} of '{}' is a JSON {}, expected a string", row.source.describe(),
                                 field_name(b.spec.field), i, b.spec.source, v[i].type_name()));
    out.push_back(v[i].get<std::string>());
  }
  return out;
}

void FieldExtractor::extract(const RawRow& row, Example& out) const {
  out.source = row.source;
  out.index = row.index;
  for (const Bound& b : bound_) {
    switch (b.spec.field) {
      case Field::kTextA: out.text_a = value_text(row, b); break;
      case Field::kTextB: out.text_b = value_text(row, b); break;
      case Field::kLabel: out.label = value_text(row, b); break;
      case Field::kTarget: out.target = value_text(row, b); break;
      case Field::kTokens: out.tokens = value_list(row, b); break;
      case Field::kTags: out.tags = value_list(row, b); break;
      case Field::kMeta: out.meta[b.spec.meta_key] = value_text(row, b); break;
    }
  }
  if (!out.tokens.empty() && !out.tags.empty() && out.tokens.size() != out.tags.size())
    throw RowError(fmt::format("{}: {} tokens but {} tags; token classification needs one tag per token",
                               row.source.describe(), out.tokens.size(), out.tags.size()));
}

}  // namespace ptlab::data
