// LabelSpace: the classes of a dataset and how file values map to them.
//
//   label_map: {0: negative, 1: positive}   # file value -> class name (document order kept)
//   labels: [negative, positive]            # the ordered class names; label_id is the index here
// Either may be given alone: with only label_map, the classes are its values in order of first
// appearance; with only labels, file values must be class names. With both, every map value must be one
// of the labels. With neither, label_name is the file value and label_id stays -1.
// A value outside the map (or the labels) is a RowError naming the row and the known values.
#pragma once

#include "framework/data/example.h"

#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace ptlab::data {

class LabelSpace {
 public:
  LabelSpace() = default;
  /// `config_where` names the config for messages ("task.data (configs/task/sst2.yaml)"). Duplicate
  /// labels, or a map value that is not a label, are Errors.
  LabelSpace(std::vector<std::pair<std::string, std::string>> label_map, std::vector<std::string> labels,
             std::string config_where);

  /// Sets label_name and label_id of `ex` from ex.label (unlabeled rows are left unlabeled).
  void apply(Example& ex) const;

  /// The ordered class names (empty when the dataset has none).
  const std::vector<std::string>& names() const { return names_; }
  /// Index of a class name, or -1.
  int id_of(const std::string& name) const;
  const std::vector<std::pair<std::string, std::string>>& label_map() const { return map_; }

 private:
  std::vector<std::pair<std::string, std::string>> map_;
  std::unordered_map<std::string, std::string> map_index_;
  std::vector<std::string> names_;
  std::unordered_map<std::string, int> name_index_;
  std::string config_where_;
};

}  // namespace ptlab::data
