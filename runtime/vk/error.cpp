#include "runtime/vk/error.h"

#include <cstring>

namespace bcvk::vk {

const char* result_name(VkResult result) {
  switch (result) {
#define BCVK_CASE(r) \
  case r:            \
    return #r;
    BCVK_CASE(VK_SUCCESS)
    BCVK_CASE(VK_NOT_READY)
    BCVK_CASE(VK_TIMEOUT)
    BCVK_CASE(VK_EVENT_SET)
    BCVK_CASE(VK_EVENT_RESET)
    BCVK_CASE(VK_INCOMPLETE)
    BCVK_CASE(VK_ERROR_OUT_OF_HOST_MEMORY)
    BCVK_CASE(VK_ERROR_OUT_OF_DEVICE_MEMORY)
    BCVK_CASE(VK_ERROR_INITIALIZATION_FAILED)
    BCVK_CASE(VK_ERROR_DEVICE_LOST)
    BCVK_CASE(VK_ERROR_MEMORY_MAP_FAILED)
    BCVK_CASE(VK_ERROR_LAYER_NOT_PRESENT)
    BCVK_CASE(VK_ERROR_EXTENSION_NOT_PRESENT)
    BCVK_CASE(VK_ERROR_FEATURE_NOT_PRESENT)
    BCVK_CASE(VK_ERROR_INCOMPATIBLE_DRIVER)
    BCVK_CASE(VK_ERROR_TOO_MANY_OBJECTS)
    BCVK_CASE(VK_ERROR_FORMAT_NOT_SUPPORTED)
    BCVK_CASE(VK_ERROR_FRAGMENTED_POOL)
    BCVK_CASE(VK_ERROR_UNKNOWN)
    BCVK_CASE(VK_ERROR_OUT_OF_POOL_MEMORY)
    BCVK_CASE(VK_ERROR_INVALID_EXTERNAL_HANDLE)
    BCVK_CASE(VK_ERROR_FRAGMENTATION)
    BCVK_CASE(VK_ERROR_INVALID_OPAQUE_CAPTURE_ADDRESS)
    BCVK_CASE(VK_PIPELINE_COMPILE_REQUIRED)
#undef BCVK_CASE
    default:
      return "VK_RESULT_UNKNOWN";
  }
}

const char* result_advice(VkResult result) {
  switch (result) {
    case VK_ERROR_OUT_OF_DEVICE_MEMORY:
      return "the device ran out of memory: try f16 weights, a shorter context, a smaller "
             "model, or another device (bcvk devices)";
    case VK_ERROR_OUT_OF_HOST_MEMORY:
      return "the host ran out of memory";
    case VK_ERROR_DEVICE_LOST:
      return "the device was lost (a driver crash, reset or timeout); rerun, and if it "
             "repeats, try another device or driver version";
    case VK_ERROR_INCOMPATIBLE_DRIVER:
      return "no usable Vulkan driver: install one (apt-get install mesa-vulkan-drivers for "
             "lavapipe, or your GPU vendor's driver)";
    case VK_ERROR_LAYER_NOT_PRESENT:
      return "a requested layer is missing: apt-get install vulkan-validationlayers, or unset "
             "BCVK_VALIDATION";
    case VK_ERROR_INITIALIZATION_FAILED:
      return "the Vulkan driver failed to initialize: check that the driver is installed and "
             "matches the loader (vulkaninfo --summary)";
    default:
      return "";
  }
}

void throw_result(VkResult result, const char* call, const char* file, int line) {
  const char* base = std::strrchr(file, '/');
  std::string msg = std::string(call) + " failed with " + result_name(result) + " (" +
                    (base ? base + 1 : file) + ":" + std::to_string(line) + ")";
  const char* advice = result_advice(result);
  if (*advice) msg += ": " + std::string(advice);
  throw Error(msg, result);
}

}  // namespace bcvk::vk
