// runtime.device resolution (framework/dist/device.h): CPU everywhere; CUDA binding, when a GPU is visible
// (ctest label gpu: these skip with a message on a machine without one).
#include "framework/dist/device.h"

#include "framework/core/error.h"

#include <gtest/gtest.h>

#include <string>

namespace ptlab::dist {
namespace {

std::string error_of(const std::string& spec) {
  auto comm = make_communicator("local");
  try {
    bind_device(spec, *comm);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Device, CpuAndAutoWithoutAGpu) {
  auto comm = make_communicator("local");
  EXPECT_TRUE(bind_device("cpu", *comm).is_cpu());
  if (cuda_device_count() == 0) {
    EXPECT_TRUE(bind_device("auto", *comm).is_cpu());
  }
}

TEST(Device, BadSpecsAreErrorsThatSayWhatIsRight) {
  EXPECT_NE(error_of("tpu").find("runtime.device='tpu' is not a device; expected auto, cpu, cuda or cuda:N"),
            std::string::npos);
  if (cuda_device_count() == 0) {
    const std::string e = error_of("cuda");
    EXPECT_TRUE(e.find("no CUDA device is visible") != std::string::npos ||
                e.find("built without CUDA") != std::string::npos)
        << e;
  } else {
    EXPECT_NE(error_of("cuda:" + std::to_string(cuda_device_count())).find("CUDA device(s)"), std::string::npos);
  }
}

}  // namespace
}  // namespace ptlab::dist
