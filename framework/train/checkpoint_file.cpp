#include "framework/train/checkpoint_file.h"

#include "framework/core/error.h"
#include "framework/core/log.h"
#include "framework/io/safetensors.h"

#include <ATen/CPUGeneratorImpl.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>

namespace ptlab::train {
namespace {

namespace fs = std::filesystem;

constexpr const char* kFormat = "ptlab.checkpoint";

std::string os_error() { return std::strerror(errno); }

/// fsync of an existing path (a file or a directory); returns false with errno set on failure.
bool fsync_path(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::fsync(fd) == 0;
  const int saved = errno;
  ::close(fd);
  errno = saved;
  return ok;
}

/// Removes the temporary files an earlier, killed save of `filename` left in `dir`
/// (".<filename>.partial.<pid>" and save_safetensors' "<that>.tmp.<pid>"). One writer per checkpoint path.
void remove_stale_partials(const fs::path& dir, const std::string& filename) {
  const std::string prefix = "." + filename + ".partial.";
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.compare(0, prefix.size(), prefix) == 0) {
      std::error_code ignored;
      fs::remove(it->path(), ignored);
    }
  }
}

}  // namespace

void save_checkpoint(const std::string& path, const CheckpointFile& file) {
  PTLAB_CHECK(!path.empty(), "cannot write a checkpoint: the path is empty");
  const fs::path target(path);
  PTLAB_CHECK(target.has_filename(), "cannot write checkpoint {}: the path names a directory, not a file", path);
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  const std::string tmp =
      (dir / ("." + target.filename().string() + ".partial." + std::to_string(::getpid()))).string();

  remove_stale_partials(dir, target.filename().string());
  // Create the temporary file ourselves first: when the directory is missing or unwritable this gives the
  // OS reason ("Not a directory", "Permission denied", "No space left on device").
  std::string meta_text;
  try {
    meta_text = file.meta.dump();
  } catch (const nlohmann::json::exception& e) {
    PTLAB_FAIL("cannot write checkpoint {}: its meta cannot be written as JSON ({})", path, e.what());
  }

  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  PTLAB_CHECK(fd >= 0, "cannot write checkpoint {}: cannot create a file in {}: {}", path, dir.string(), os_error());
  ::close(fd);

  std::vector<std::pair<std::string, at::Tensor>> tensors(file.tensors.begin(), file.tensors.end());
  const std::map<std::string, std::string> metadata = {
      {"format", kFormat},
      {"schema_version", std::to_string(kCheckpointSchemaVersion)},
      {"ptlab_version", PTLAB_VERSION},
      {"ptlab", meta_text},
  };
  try {
    io::save_safetensors(tmp, tensors, metadata);  // itself writes a temp file and renames it onto `tmp`
    PTLAB_CHECK(fsync_path(tmp, O_RDONLY), "cannot write checkpoint {}: fsync of {} failed: {}", path, tmp,
                os_error());
    PTLAB_CHECK(std::rename(tmp.c_str(), path.c_str()) == 0, "cannot write checkpoint {}: renaming {} over it "
                "failed: {}", path, tmp, os_error());
  } catch (...) {
    std::remove(tmp.c_str());
    throw;
  }
  // Make the rename itself durable. Some file systems refuse fsync on a directory; the file is complete
  // either way, so this is only worth a warning.
  if (!fsync_path(dir.string(), O_RDONLY | O_DIRECTORY))
    log_warn("checkpoint {}: fsync of directory {} failed ({}); the checkpoint may not survive a power loss", path,
             dir.string(), os_error());
}

CheckpointFile load_checkpoint(const std::string& path) {
  std::error_code ec;
  PTLAB_CHECK(fs::exists(path, ec), "checkpoint {} does not exist{}", path, ec ? " (" + ec.message() + ")" : "");
  PTLAB_CHECK(fs::is_regular_file(path, ec), "checkpoint {} is not a regular file", path);
  io::SafetensorsFile f(path);  // validates the safetensors structure
  const auto& md = f.metadata();
  auto format = md.find("format");
  auto meta = md.find("ptlab");
  auto schema = md.find("schema_version");
  PTLAB_CHECK(format != md.end() && format->second == kFormat && meta != md.end() && schema != md.end(),
              "{} is a safetensors file but not a ptlab training checkpoint (its metadata lacks format '{}', "
              "'schema_version' and 'ptlab'); pass a checkpoint written by ptlab train", path, kFormat);
  int version = 0;
  const std::string& text = schema->second;
  const auto [end, err] = std::from_chars(text.data(), text.data() + text.size(), version);
  PTLAB_CHECK(err == std::errc() && end == text.data() + text.size(), "{}: checkpoint schema_version '{}' is not an "
              "integer (the file is damaged)", path, text);
  PTLAB_CHECK(version >= 1, "{}: checkpoint schema_version {} is invalid (the file is damaged)", path, version);
  PTLAB_CHECK(version <= kCheckpointSchemaVersion, "{} was written by a newer ptlab (checkpoint schema {}, this "
              "build reads up to {}); resume it with the ptlab version that wrote it or a newer one", path, version,
              kCheckpointSchemaVersion);
  CheckpointFile out;
  try {
    out.meta = nlohmann::json::parse(meta->second);
  } catch (const nlohmann::json::exception& e) {
    PTLAB_FAIL("{}: the checkpoint's 'ptlab' metadata is not valid JSON ({}); the file is damaged", path, e.what());
  }
  for (const auto& r : f.records()) out.tensors[r.name] = f.load(r.name);
  return out;
}

at::Tensor cpu_rng_state() {
  at::Generator gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  return gen.get_state();  // [N] uint8
}

void set_cpu_rng_state(const at::Tensor& state) {
  PTLAB_CHECK(state.defined() && state.scalar_type() == at::kByte && state.dim() == 1,
              "a CPU random-generator state must be a 1-D uint8 tensor, got {}",
              state.defined() ? fmt::format("{} of {} dims", c10::toString(state.scalar_type()), state.dim())
                              : std::string("an undefined tensor"));
  at::Generator gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  try {
    gen.set_state(state.cpu().contiguous());
  } catch (const c10::Error& e) {
    PTLAB_FAIL("cannot restore the CPU random-generator state ({} bytes): {}", state.numel(),
               e.what_without_backtrace());
  }
}

}  // namespace ptlab::train
