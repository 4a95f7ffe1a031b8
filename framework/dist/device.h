// Which device a rank computes on: runtime.device, bound from the node-local rank (CONVENTIONS.md B.3).
//
//   cpu        the CPU
//   cuda       one GPU per rank: device local_rank % device_count. When the launcher already restricted
//              each rank to one GPU (srun --gpus-per-task=1, a per-rank CUDA_VISIBLE_DEVICES) every rank
//              sees device 0, which is then its own. Two ranks of a node landing on the same GPU (found by
//              comparing PCI bus ids across the node) is an error unless `share` is set.
//   cuda:N     GPU N, as given (single-process runs, debugging)
//   auto       cuda when LibTorch sees a GPU, else cpu
//
// Every rank logs one line: host, rank, local rank, device and its PCI bus id.
#pragma once

#include "framework/dist/communicator.h"

#include <c10/core/Device.h>

#include <string>

namespace ptlab::dist {

/// Resolves `spec` for this rank and makes a chosen GPU current. Errors name runtime.device and say what
/// would be right (no GPU visible, cuda:N out of range, more ranks than GPUs on a node).
c10::Device bind_device(const std::string& spec, Communicator& comm, bool share = false);

/// This machine's host name ("unknown" when gethostname fails): device log lines and run logs.
std::string host_name();

/// GPUs LibTorch sees (0 on a machine without one or a build without CUDA).
int cuda_device_count();

/// Whether this build was compiled with CUDA support (PTLAB_WITH_CUDA).
bool built_with_cuda();

}  // namespace ptlab::dist
