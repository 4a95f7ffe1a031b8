#include "framework/dist/device.h"

#include "framework/core/error.h"
#include "framework/core/log.h"

#if PTLAB_WITH_CUDA
#include <c10/cuda/CUDAFunctions.h>
#include <cuda_runtime_api.h>
#endif

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>

namespace ptlab::dist {
namespace {

#if PTLAB_WITH_CUDA
/// "0000:3b:00.0" of a device, and the same as one exact number (domain, bus, device, function) for an
/// all-gather of doubles.
std::pair<std::string, double> pci_bus_id(int index) {
  char id[32] = {0};
  if (cudaDeviceGetPCIBusId(id, sizeof(id), index) != cudaSuccess) return {"unknown", -1.0 - index};
  unsigned domain = 0, bus = 0, dev = 0, fn = 0;
  if (std::sscanf(id, "%x:%x:%x.%x", &domain, &bus, &dev, &fn) != 4) return {id, -1.0 - index};
  return {id, static_cast<double>(((static_cast<uint64_t>(domain) * 256 + bus) * 256 + dev) * 8 + fn)};
}
#endif

}  // namespace

std::string host_name() {
  char buffer[256] = {0};
  return gethostname(buffer, sizeof(buffer) - 1) == 0 ? std::string(buffer) : std::string("unknown");
}

bool built_with_cuda() { return PTLAB_WITH_CUDA != 0; }

int cuda_device_count() {
#if PTLAB_WITH_CUDA
  return static_cast<int>(c10::cuda::device_count());
#else
  return 0;
#endif
}

c10::Device bind_device(const std::string& spec, Communicator& comm, bool share) {
  const int count = cuda_device_count();
  std::string wanted = spec;
  if (wanted == "auto") wanted = count > 0 ? "cuda" : "cpu";
  if (wanted == "cpu") return c10::Device(c10::kCPU);
  PTLAB_CHECK(wanted == "cuda" || wanted.rfind("cuda:", 0) == 0,
              "runtime.device='{}' is not a device; expected auto, cpu, cuda or cuda:N", spec);
  PTLAB_CHECK(built_with_cuda(),
              "runtime.device={}: this ptlab was built without CUDA (LibTorch without CUDA); use "
              "runtime.device=cpu",
              spec);
  const char* visible = std::getenv("CUDA_VISIBLE_DEVICES");
  PTLAB_CHECK(count > 0,
              "runtime.device={}: no CUDA device is visible (CUDA_VISIBLE_DEVICES='{}'); use "
              "runtime.device=cpu or auto",
              spec, visible ? visible : "");
  int index = 0;
  if (wanted == "cuda") {
    index = comm.local_rank() % count;
  } else {
    char* end = nullptr;
    const long n = std::strtol(wanted.c_str() + 5, &end, 10);
    PTLAB_CHECK(end && *end == '\0' && n >= 0 && n < count,
                "runtime.device={}: this machine shows {} CUDA device(s), cuda:0 .. cuda:{}", spec, count, count - 1);
    index = static_cast<int>(n);
  }
#if PTLAB_WITH_CUDA
  c10::cuda::set_device(static_cast<c10::DeviceIndex>(index));
  const auto [bus, bus_key] = pci_bus_id(index);
  // Two ranks of this node on one GPU: compare bus ids over the whole job (ranks on other nodes may reuse
  // the same ids, so the comparison is among ranks with the same host).
  const auto keys = comm.all_gather(bus_key);
  const auto hosts = comm.all_gather(static_cast<double>(std::hash<std::string>{}(host_name()) % (1ull << 52)));
  const double my_host = hosts[static_cast<std::size_t>(comm.rank())];
  for (int r = 0; r < comm.size(); ++r) {
    if (r == comm.rank() || hosts[static_cast<std::size_t>(r)] != my_host) continue;
    PTLAB_CHECK(share || keys[static_cast<std::size_t>(r)] != bus_key,
                "runtime.device={}: ranks {} and {} on host {} would share GPU {} ({} ranks on this node, {} GPU(s) "
                "visible); run at most one rank per GPU, or set runtime.share_devices=true to allow it",
                spec, std::min(r, comm.rank()), std::max(r, comm.rank()), host_name(), bus, comm.local_size(), count);
  }
  log_info("device: host {} rank {}/{} local rank {}/{} -> cuda:{} (PCI {})", host_name(), comm.rank(), comm.size(),
           comm.local_rank(), comm.local_size(), index, bus);
#endif
  return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(index));
}

}  // namespace ptlab::dist
