#include "tasks/synthetic/manifest.h"

#include "tasks/synthetic/fnv1a.h"
#include "tasks/synthetic/labeled_tasks.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <vector>

namespace ptlab::tasks::synthetic {
namespace {

// Size and FNV-1a 64 of a file; false when it cannot be read.
bool hash_file(const std::string& path, uint64_t& bytes, std::string& hash) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  Fnv1a64 h;
  std::vector<char> buffer(1 << 20);
  bytes = 0;
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const auto n = static_cast<std::size_t>(in.gcount());
    h.update(buffer.data(), n);
    bytes += n;
  }
  if (in.bad()) return false;
  hash = h.hex();
  return true;
}

}  // namespace

std::string manifest_json(const Manifest& m) {
  using ordered = nlohmann::ordered_json;
  ordered tasks = ordered::object();
  for (const auto& spec : task_specs()) {
    ordered verbalizer = ordered::object();
    for (std::size_t c = 0; c < spec.labels.size(); ++c) verbalizer[spec.labels[c]] = spec.verbalizer[c];
    ordered columns = spec.pair ? ordered{"sentence1", "sentence2", "label"} : ordered{"sentence", "label"};
    ordered splits = ordered::object();
    for (const auto& s : m.splits) {
      if (s.task != spec.name) continue;
      ordered counts = ordered::object();
      for (std::size_t c = 0; c < spec.labels.size() && c < s.label_counts.size(); ++c)
        counts[spec.labels[c]] = s.label_counts[c];
      splits[s.split] =
          ordered{{"file", s.file}, {"examples", s.examples}, {"tokens", s.tokens}, {"label_counts", counts}};
    }
    tasks[spec.name] = ordered{{"columns", columns},
                               {"labels", spec.labels},
                               {"verbalizer", verbalizer},
                               {"prompt", spec.prompt},
                               {"splits", splits}};
  }
  ordered files = ordered::array();
  for (const auto& f : m.files)
    files.push_back(ordered{{"path", f.path}, {"bytes", f.bytes}, {"tokens", f.tokens}, {"fnv1a64", f.fnv1a64}});
  ordered doc = ordered::object();
  doc["format"] = "ptlab-synthetic";
  doc["schema_version"] = kManifestSchemaVersion;
  doc["generator_version"] = kGeneratorVersion;
  doc["config"] = ordered::parse(to_json(m.config).dump());
  doc["vocab_size"] = m.vocab_size;
  doc["corpus"] = ordered{{"file", "corpus.txt"}, {"sentences", m.corpus_sentences}, {"tokens", m.corpus_tokens}};
  doc["tasks"] = tasks;
  doc["files"] = files;
  return doc.dump(2) + "\n";
}

namespace {

std::string check_manifest(const std::string& out_dir, const SyntheticConfig& config) {
  const std::string path = out_dir + "/" + std::string(kManifestFile);
  std::ifstream in(path);
  if (!in) return "no " + std::string(kManifestFile) + " (never written, or the last write was interrupted)";
  nlohmann::json doc;
  try {
    in >> doc;
  } catch (const nlohmann::json::exception& e) {
    return std::string(kManifestFile) + " is not valid JSON (" + e.what() + ")";
  }
  if (!doc.is_object() || doc.value("format", "") != "ptlab-synthetic")
    return "manifest.json is not a ptlab-synthetic manifest";
  if (doc.value("generator_version", -1) != kGeneratorVersion) {
    return "written by generator version " + doc.value("generator_version", nlohmann::json(nullptr)).dump() +
           ", this is version " + std::to_string(kGeneratorVersion);
  }
  const nlohmann::json want = to_json(config);
  const nlohmann::json have = doc.value("config", nlohmann::json(nullptr));
  if (have != want) {
    const auto patch = nlohmann::json::diff(have, want);
    const std::string where = patch.empty() ? "" : patch[0].value("path", "");
    return "written with a different config (" + (where.empty() ? std::string("config") : where.substr(1)) + ")";
  }
  const auto files = doc.value("files", nlohmann::json::array());
  if (!files.is_array() || files.empty()) return "manifest.json lists no files";
  for (const auto& f : files) {
    if (!f.is_object()) return "manifest.json has a malformed file entry";
    const std::string name = f.value("path", "");
    uint64_t bytes = 0;
    std::string hash;
    if (name.empty() || !hash_file(out_dir + "/" + name, bytes, hash)) return name + " is missing";
    if (bytes != f.value("bytes", uint64_t{0}) || hash != f.value("fnv1a64", "")) return name + " was changed";
  }
  return "";
}

}  // namespace

std::string incomplete_reason(const std::string& out_dir, const SyntheticConfig& config) {
  try {
    return check_manifest(out_dir, config);
  } catch (const nlohmann::json::exception& e) {
    return std::string(kManifestFile) + " is malformed (" + e.what() + ")";
  }
}

bool is_complete(const std::string& out_dir, const SyntheticConfig& config) {
  return incomplete_reason(out_dir, config).empty();
}

}  // namespace ptlab::tasks::synthetic
