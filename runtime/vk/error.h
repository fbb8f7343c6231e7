// One error policy for the Vulkan core: every VkResult is checked, and a failure becomes a
// bcvk::vk::Error carrying the call, the result's name, file:line and what to do about it.
#pragma once

#include <stdexcept>
#include <string>

#include "runtime/vk/vulkan.h"

namespace bcvk::vk {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what, VkResult result = VK_ERROR_UNKNOWN)
      : std::runtime_error(what), result_(result) {}
  VkResult result() const { return result_; }

 private:
  VkResult result_;
};

// "VK_ERROR_OUT_OF_DEVICE_MEMORY", ...
const char* result_name(VkResult result);

// What a user can do about `result`, or "" when there is nothing specific to say.
const char* result_advice(VkResult result);

[[noreturn]] void throw_result(VkResult result, const char* call, const char* file, int line);

}  // namespace bcvk::vk

#define BCVK_VK_CHECK(call)                                              \
  do {                                                                   \
    const VkResult bcvk_result_ = (call);                                \
    if (bcvk_result_ != VK_SUCCESS)                                      \
      ::bcvk::vk::throw_result(bcvk_result_, #call, __FILE__, __LINE__); \
  } while (0)
