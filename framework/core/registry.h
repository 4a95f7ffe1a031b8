// Registry<Entry>: a named table of components (methods, tasks, backbones, ...).
//
// Each domain defines its own Entry payload — typically a config decoder plus a factory — and one
// explicit `register_builtin_<folder>()` function that fills the registry once (std::call_once). We never
// self-register from static initialisers: inside static libraries the linker silently drops them.
// Duplicate names and unknown names are errors; the unknown-name error lists the known names and the
// closest match.
#pragma once

#include "framework/core/error.h"
#include "framework/core/suggest.h"

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace ptlab {

template <class Entry>
class Registry {
 public:
  /// `kind` names what the registry holds, for messages ("method", "task", "model family").
  explicit Registry(std::string kind) : kind_(std::move(kind)) {}

  /// Adds an entry; a second entry with the same name is an InternalError (two built-ins collide) —
  /// registration happens in code, not from user input.
  void add(std::string name, std::string description, Entry entry) {
    PTLAB_ASSERT(!name.empty(), "empty {} name", kind_);
    auto [it, inserted] = entries_.emplace(name, Item{std::move(description), std::move(entry)});
    PTLAB_ASSERT(inserted, "{} '{}' registered twice", kind_, name);
  }

  bool contains(std::string_view name) const { return entries_.count(std::string(name)) > 0; }

  /// The entry called `name`; an unknown name is a user error listing the known names.
  const Entry& get(std::string_view name) const {
    auto it = entries_.find(std::string(name));
    if (it == entries_.end()) {
      auto known = names();
      PTLAB_FAIL("unknown {} '{}'{}; known: {}", kind_, name, did_you_mean(name, known), join_names(known));
    }
    return it->second.entry;
  }

  const std::string& description(std::string_view name) const {
    get(name);
    return entries_.find(std::string(name))->second.description;
  }

  /// Names in sorted order.
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    out.reserve(entries_.size());
    for (const auto& [name, item] : entries_) out.push_back(name);
    return out;
  }

  const std::string& kind() const { return kind_; }
  std::size_t size() const { return entries_.size(); }

 private:
  struct Item {
    std::string description;
    Entry entry;
  };
  std::string kind_;
  std::map<std::string, Item> entries_;
};

}  // namespace ptlab
