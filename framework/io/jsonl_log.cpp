#include "framework/io/jsonl_log.h"

#include "framework/core/error.h"

#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>

namespace ptlab::io {

namespace {

// The last step per split of the events already in a JSONL file, and whether its last byte is a newline.
std::map<std::string, int64_t> last_steps(const std::string& path, bool* ends_with_newline) {
  std::map<std::string, int64_t> last;
  *ends_with_newline = true;
  std::ifstream in(path, std::ios::binary);
  std::string line;
  while (std::getline(in, line)) {
    *ends_with_newline = !in.eof();
    auto event = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!event.is_object()) continue;  // a torn or foreign line
    auto split = event.find("split");
    auto step = event.find("step");
    if (split == event.end() || !split->is_string() || step == event.end() || !step->is_number_integer()) continue;
    int64_t s = step->get<int64_t>();
    auto [it, inserted] = last.emplace(split->get<std::string>(), s);
    if (!inserted && s > it->second) it->second = s;
  }
  return last;
}

// Rewrites `path` without the events whose step is after `keep_through` (torn and foreign lines go too),
// atomically: a temporary file renamed over it.
void drop_after(const std::string& path, int64_t keep_through) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return;  // no file yet: nothing to drop
  std::string kept, line;
  while (std::getline(in, line)) {
    auto event = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!event.is_object()) continue;
    auto step = event.find("step");
    if (step != event.end() && step->is_number_integer() && step->get<int64_t>() > keep_through) continue;
    kept += line + "\n";
  }
  in.close();
  const std::string temp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    out << kept;
    out.flush();
    PTLAB_CHECK(out.good(), "cannot rewrite metrics log '{}' (writing '{}'): {}", path, temp, std::strerror(errno));
  }
  PTLAB_CHECK(std::rename(temp.c_str(), path.c_str()) == 0, "cannot replace metrics log '{}': {}", path,
              std::strerror(errno));
}

}  // namespace

JsonlLog::JsonlLog(const std::string& path, bool append, std::optional<int64_t> keep_through) : path_(path) {
  bool ends_with_newline = true;
  if (append && keep_through) drop_after(path_, *keep_through);
  if (append) resumed_step_ = last_steps(path_, &ends_with_newline);
  file_ = std::fopen(path_.c_str(), append ? "ab" : "wb");
  PTLAB_CHECK(file_ != nullptr, "cannot open metrics log '{}' for writing: {}", path_, std::strerror(errno));
  if (!ends_with_newline) std::fputc('\n', file_);  // end the line a killed writer left unfinished
}

JsonlLog::~JsonlLog() {
  if (file_) std::fclose(file_);
}

bool JsonlLog::write(int64_t step, double wall_time, const std::string& split,
                     const std::vector<std::pair<std::string, double>>& values) {
  auto resumed = resumed_step_.find(split);
  if (resumed != resumed_step_.end() && step <= resumed->second) return false;
  nlohmann::ordered_json event;  // keeps step, wall_time, split first, as readers expect
  event["step"] = step;
  event["wall_time"] = wall_time;
  event["split"] = split;
  for (const auto& [name, value] : values) {
    auto& slot = event[split + "/" + name];
    if (std::isfinite(value))
      slot = value;
    else
      slot = nullptr;
  }
  std::string line = event.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  bool ok = std::fwrite(line.data(), 1, line.size(), file_) == line.size() && std::fflush(file_) == 0;
  PTLAB_CHECK(ok, "cannot write metrics log '{}': {}", path_, std::strerror(errno));
  return true;
}

void write_summary_json(const std::string& path, const nlohmann::json& summary) {
  std::string temp = path + ".tmp." + std::to_string(::getpid());
  std::FILE* f = std::fopen(temp.c_str(), "wb");
  PTLAB_CHECK(f != nullptr, "cannot write summary '{}': {} (creating '{}')", path, std::strerror(errno), temp);
  std::string text = summary.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  bool ok =
      std::fwrite(text.data(), 1, text.size(), f) == text.size() && std::fflush(f) == 0 && ::fsync(::fileno(f)) == 0;
  int err = errno;
  ok = (std::fclose(f) == 0) && ok;
  if (ok && std::rename(temp.c_str(), path.c_str()) != 0) {
    ok = false;
    err = errno;
  }
  if (!ok) {
    std::remove(temp.c_str());
    PTLAB_FAIL("cannot write summary '{}': {}", path, std::strerror(err));
  }
}

nlohmann::json read_json_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return nullptr;
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
}

nlohmann::json to_json(const std::vector<std::pair<std::string, HParam>>& entries) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [name, value] : entries) std::visit([&, n = &name](const auto& v) { out[*n] = v; }, value);
  return out;
}

}  // namespace ptlab::io
