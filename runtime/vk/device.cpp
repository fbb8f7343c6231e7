#include "runtime/vk/device.h"

#include <vector>

#include "runtime/vk/error.h"

namespace bcvk::vk {

Device::Device(const Instance& instance, const PhysicalDeviceInfo& info)
    : instance_(instance), info_(info) {
  if (!info.has_compute_queue())
    throw Error("device " + std::to_string(info.index) + " (" + info.name +
                ") has no compute queue");
  vkGetPhysicalDeviceMemoryProperties(info.handle, &memory_);

  const float priority = 1.0f;
  VkDeviceQueueCreateInfo queue_info{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
  queue_info.queueFamilyIndex = info.compute_queue_family;
  queue_info.queueCount = 1;
  queue_info.pQueuePriorities = &priority;

  // The per-feature structs are valid on 1.1 (through their extensions) and on 1.2+ (core).
  const bool v12 = info.api_version >= VK_API_VERSION_1_2;
  std::vector<const char*> extensions;
  VkPhysicalDevice16BitStorageFeatures storage16{
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES};
  VkPhysicalDevice8BitStorageFeatures storage8{
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_8BIT_STORAGE_FEATURES};
  VkPhysicalDeviceShaderFloat16Int8Features f16i8{
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES};
  VkPhysicalDeviceFeatures2 features{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
  void** tail = &features.pNext;
  storage16.storageBuffer16BitAccess = info.storage_buffer_16bit;
  *tail = &storage16;
  tail = &storage16.pNext;
  if (info.storage_buffer_8bit) {
    storage8.storageBuffer8BitAccess = VK_TRUE;
    *tail = &storage8;
    tail = &storage8.pNext;
    if (!v12) extensions.push_back(VK_KHR_8BIT_STORAGE_EXTENSION_NAME);
  }
  if (info.shader_float16 || info.shader_int8) {
    f16i8.shaderFloat16 = info.shader_float16;
    f16i8.shaderInt8 = info.shader_int8;
    *tail = &f16i8;
    tail = &f16i8.pNext;
    if (!v12) extensions.push_back(VK_KHR_SHADER_FLOAT16_INT8_EXTENSION_NAME);
  }

  VkDeviceCreateInfo ci{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
  ci.pNext = &features;
  ci.queueCreateInfoCount = 1;
  ci.pQueueCreateInfos = &queue_info;
  ci.enabledExtensionCount = static_cast<uint32_t>(extensions.size());
  ci.ppEnabledExtensionNames = extensions.data();
  BCVK_VK_CHECK(vkCreateDevice(info.handle, &ci, nullptr, &device_));
  vkGetDeviceQueue(device_, info.compute_queue_family, 0, &queue_);
}

Device::~Device() {
  if (device_) {
    vkDeviceWaitIdle(device_);  // nothing may still run on memory we are about to free
    vkDestroyDevice(device_, nullptr);
  }
}

void Device::wait_idle() const {
  BCVK_VK_CHECK(vkDeviceWaitIdle(device_));
}

}  // namespace bcvk::vk
