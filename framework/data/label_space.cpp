#include "framework/data/label_space.h"

#include "framework/core/suggest.h"
#include "framework/data/row_reader.h"

#include <algorithm>

namespace ptlab::data {

LabelSpace::LabelSpace(std::vector<std::pair<std::string, std::string>> label_map, std::vector<std::string> labels,
                       std::string config_where)
    : map_(std::move(label_map)), names_(std::move(labels)), config_where_(std::move(config_where)) {
  for (std::size_t i = 0; i < names_.size(); ++i) {
    PTLAB_CHECK(!names_[i].empty(), "{}: labels[{}] is empty; class names must be non-empty", config_where_, i);
    PTLAB_CHECK(name_index_.emplace(names_[i], int(i)).second, "{}: label '{}' is listed twice in labels",
                config_where_, names_[i]);
  }
  const bool names_given = !names_.empty();
  for (const auto& [from, to] : map_) {
    PTLAB_CHECK(!to.empty(), "{}: label_map maps '{}' to an empty name", config_where_, from);
    PTLAB_CHECK(map_index_.emplace(from, to).second, "{}: label_map lists '{}' twice", config_where_, from);
    if (names_given) {
      PTLAB_CHECK(name_index_.count(to), "{}: label_map maps '{}' to '{}', which is not one of labels: {}{}",
                  config_where_, from, to, join_names(names_), did_you_mean(to, names_));
    } else if (!name_index_.count(to)) {
      name_index_.emplace(to, int(names_.size()));
      names_.push_back(to);
    }
  }
}

int LabelSpace::id_of(const std::string& name) const {
  auto it = name_index_.find(name);
  return it == name_index_.end() ? -1 : it->second;
}

void LabelSpace::apply(Example& ex) const {
  if (ex.label.empty()) {
    ex.label_name.clear();
    ex.label_id = -1;
    return;
  }
  if (!map_.empty()) {
    auto it = map_index_.find(ex.label);
    if (it == map_index_.end()) {
      std::vector<std::string> known;
      for (const auto& kv : map_) known.push_back(kv.first);
      throw RowError(fmt::format("{}: label '{}' is not in label_map ({}); known labels: {}{}", ex.source.describe(),
                                 ex.label, config_where_, join_names(known), did_you_mean(ex.label, known)));
    }
    ex.label_name = it->second;
    ex.label_id = id_of(ex.label_name);
    return;
  }
  ex.label_name = ex.label;
  if (names_.empty()) {
    ex.label_id = -1;
    return;
  }
  ex.label_id = id_of(ex.label);
  if (ex.label_id < 0)
    throw RowError(fmt::format("{}: label '{}' is not one of labels ({}): {}{}; map file values to classes with "
                               "label_map",
                               ex.source.describe(), ex.label, config_where_, join_names(names_),
                               did_you_mean(ex.label, names_)));
}

}  // namespace ptlab::data
