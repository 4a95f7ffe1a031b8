// Training checkpoints: one self-describing safetensors file per checkpoint, written atomically.
//
// Layout: tensors by prefix — "param/<name>" (trainable parameters), "optim/<...>" (Optimizer::state_dict()),
// "rng/<...>" (generator states) — and the safetensors "__metadata__" (a string map) holding
//   "format": "ptlab.checkpoint", "schema_version": "<int>", "ptlab_version", and
//   "ptlab": the caller's JSON meta (step, epoch, data position, method, model, resolved config, git sha...)
// as one JSON string. The prefixes are the caller's convention; this file stores any names.
//
// Atomicity: the file is written to a temporary name in the same directory, fsync'ed, renamed over `path`
// and the directory fsync'ed, so a crash (or a Slurm kill) at any moment leaves either the old checkpoint
// or the new one, never a torn file.
#pragma once

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <map>
#include <string>

namespace ptlab::train {

/// The checkpoint schema this build writes; it reads this one and older ones.
inline constexpr int kCheckpointSchemaVersion = 1;

struct CheckpointFile {
  std::map<std::string, at::Tensor> tensors;  ///< "param/<name>", "optim/<...>", "rng/<...>"
  nlohmann::json meta;                        ///< step, epoch, data position, method, model, ...
};

/// Writes `file` to `path` atomically (see above). Tensors are saved as they are (dtype and shape kept,
/// moved to CPU). An unwritable location is an Error naming the path and the OS reason; on any error
/// the previous file at `path` is left untouched and no temporary file remains. Temporary files that a
/// killed earlier save of the same path left behind are removed (one writer per checkpoint path).
void save_checkpoint(const std::string& path, const CheckpointFile& file);

/// Reads a checkpoint written by save_checkpoint (tensors on CPU). Errors: a missing file, a file that is
/// not a safetensors file or not a ptlab checkpoint, meta that is not JSON, a schema newer than this build.
CheckpointFile load_checkpoint(const std::string& path);

/// The CPU default generator's state (torch's at::Generator::get_state) as a 1-D uint8 tensor, and back.
/// A state of the wrong dtype or size is an Error.
at::Tensor cpu_rng_state();
void set_cpu_rng_state(const at::Tensor& state);

}  // namespace ptlab::train
