// A logical device with one compute queue, created from a PhysicalDeviceInfo.
#pragma once

#include "runtime/vk/instance.h"

namespace bcvk::vk {

class Device {
 public:
  // Enables the optional features bcvk's shaders use (16-bit storage, fp16 and int8 arithmetic,
  // 8-bit storage) wherever `info` reports them.
  Device(const Instance& instance, const PhysicalDeviceInfo& info);
  ~Device();
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;

  VkDevice handle() const { return device_; }
  VkPhysicalDevice physical() const { return info_.handle; }
  VkQueue queue() const { return queue_; }
  uint32_t queue_family() const { return info_.compute_queue_family; }
  const PhysicalDeviceInfo& info() const { return info_; }
  const Instance& instance() const { return instance_; }
  const VkPhysicalDeviceMemoryProperties& memory_properties() const { return memory_; }

  void wait_idle() const;

 private:
  const Instance& instance_;
  PhysicalDeviceInfo info_;
  VkPhysicalDeviceMemoryProperties memory_{};
  VkDevice device_ = VK_NULL_HANDLE;
  VkQueue queue_ = VK_NULL_HANDLE;
};

}  // namespace bcvk::vk
