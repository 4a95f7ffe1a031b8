// Interpolation (OmegaConf's `${...}`), resolved once, in place, after composition.
//
//   ${a.b}                 absolute key path ("a.list[0]" and "a.list.0" for list items)
//   ${.x} ${..x}           relative: the first dot is the mapping holding the node, each further dot
//                          one level up
//   "http://${host}:${port}/"   string interpolation (the result is a string)
//   ${plans.${selected}}   nested: inner interpolations first
//   ${oc.env:VAR} ${oc.env:VAR,default}   environment variable (a string; `null` default gives null);
//                          unset with no default is an Error
//   ${now:%Y-%m-%d}        the local time of this resolution, strftime format (one instant per call)
//   \${x}                  a literal "${x}"
// A value that is exactly one interpolation takes the target's type and may be a whole subtree; a
// string with text around interpolations becomes a string. Reference cycles are an Error showing the
// cycle (a -> b -> a); a reference to a missing key is an Error naming it; so is a reference to "???".
#pragma once

#include "framework/config/origins.h"

#include <yaml-cpp/yaml.h>

namespace ptlab::config {

/// Resolves every interpolation in `root` in place. Messages name the key path, its origin, the
/// interpolation and what is wrong.
void resolve_interpolations(YAML::Node& root, const Origins& origins);

/// Throws for the first "???" left in the tree: "missing mandatory value 'model.path' (from
/// configs/model/x.yaml); set it with model.path=...".
void check_no_missing(const YAML::Node& root, const Origins& origins);

/// True when a scalar's text holds an unescaped "${".
bool has_interpolation(const std::string& text);

}  // namespace ptlab::config
