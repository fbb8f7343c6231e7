// The Vulkan loader, the instance, and what it knows about each physical device.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/vk/vulkan.h"

namespace bcvk::vk {

// Opens the Vulkan loader (libvulkan.so.1, or the file that BCVK_VULKAN_LIBRARY names) and
// fills volk's function table.  Idempotent.  Throws vk::Error naming the library when it
// cannot be opened, so a machine without a loader gets a message instead of a linker failure.
void load_vulkan();

enum class Vendor {
  kAMD,
  kNVIDIA,
  kIntel,
  kARM,
  kQualcomm,
  kApple,
  kMesaCPU,
  kImagination,
  kBroadcom,
  kMicrosoft,
  kOther
};
const char* vendor_name(Vendor vendor);
Vendor vendor_from_id(uint32_t vendor_id);

struct MemoryHeap {
  uint64_t size = 0;
  bool device_local = false;
};

// Everything bcvk reports or decides on about one physical device.
struct PhysicalDeviceInfo {
  uint32_t index = 0;  // position in vkEnumeratePhysicalDevices order: what --device N means
  VkPhysicalDevice handle = VK_NULL_HANDLE;
  std::string name;
  VkPhysicalDeviceType type = VK_PHYSICAL_DEVICE_TYPE_OTHER;
  uint32_t vendor_id = 0;
  uint32_t device_id = 0;
  Vendor vendor = Vendor::kOther;
  std::string driver_name;  // "llvmpipe", "radv", "NVIDIA", ...
  std::string driver_info;  // "Mesa 22.3.6 (LLVM 15.0.6)", ...
  uint32_t driver_version_raw = 0;
  std::string driver_version;  // decoded with the vendor's own packing
  uint32_t api_version = 0;
  uint8_t pipeline_cache_uuid[VK_UUID_SIZE] = {};

  std::vector<MemoryHeap> heaps;
  bool unified_memory = false;  // every device-local type is also host-visible (UMA)

  uint32_t subgroup_size = 0;
  bool subgroup_arithmetic = false;  // subgroupAdd & co. in compute shaders
  bool shader_float16 = false;
  bool shader_int8 = false;
  bool storage_buffer_16bit = false;
  bool storage_buffer_8bit = false;
  // f16 <-> f32 conversions in integer arithmetic (shaders/half.glsl, constant kSoftHalf): on
  // llvmpipe on arm64, whose LLVM 15 aborts compiling the built-in conversions.
  // BCVK_SOFT_HALF=0|1 overrides.
  bool soft_half = false;

  uint32_t compute_queue_family = UINT32_MAX;  // UINT32_MAX: no compute queue
  bool has_compute_queue() const { return compute_queue_family != UINT32_MAX; }

  // Limits the runtime plans with.
  uint64_t max_storage_buffer_range = 0;
  uint64_t min_storage_buffer_offset_alignment = 0;
  uint64_t max_uniform_buffer_range = 0;
  uint64_t min_uniform_buffer_offset_alignment = 0;
  uint64_t max_memory_allocation_size = 0;
  uint64_t max_buffer_size = 0;
  uint32_t max_shared_memory = 0;
  uint32_t max_workgroup_invocations = 0;
  uint32_t max_workgroup_size[3] = {};
  uint32_t max_workgroup_count[3] = {};
  uint32_t max_push_constants_size = 0;
  float timestamp_period_ns = 0;      // nanoseconds per timestamp tick
  uint32_t timestamp_valid_bits = 0;  // of the compute queue family; 0 = no timestamps

  std::string type_name() const;           // "discrete GPU", "CPU", ...
  std::string api_version_string() const;  // "1.3.230"
};

// Collects validation-layer messages.  Its address is handed to the layer, so it lives behind
// a unique_ptr and never moves.
class ValidationLog {
 public:
  void add(std::string message);
  size_t count() const;
  std::vector<std::string> messages() const;

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> messages_;
};

struct InstanceOptions {
  // Enables VK_LAYER_KHRONOS_validation plus a debug messenger.  Default: BCVK_VALIDATION=1.
  bool validation = false;
  static InstanceOptions from_environment();
};

class Instance {
 public:
  explicit Instance(InstanceOptions options = InstanceOptions::from_environment());
  ~Instance();
  Instance(const Instance&) = delete;
  Instance& operator=(const Instance&) = delete;

  VkInstance handle() const { return instance_; }
  uint32_t api_version() const { return api_version_; }
  bool validation_enabled() const { return messenger_ != VK_NULL_HANDLE; }

  // Every physical device, in the loader's order.
  const std::vector<PhysicalDeviceInfo>& devices() const { return devices_; }

  // Validation warnings and errors reported so far (always 0 without validation).
  size_t validation_message_count() const { return log_->count(); }
  std::vector<std::string> validation_messages() const { return log_->messages(); }

 private:
  std::unique_ptr<ValidationLog> log_;
  uint32_t api_version_ = VK_API_VERSION_1_1;
  VkInstance instance_ = VK_NULL_HANDLE;
  VkDebugUtilsMessengerEXT messenger_ = VK_NULL_HANDLE;
  std::vector<PhysicalDeviceInfo> devices_;
};

// Which device to use: "" (BCVK_DEVICE, else the best by type), an index ("1") or a
// case-insensitive substring of the name ("llvmpipe").  Throws vk::Error listing the devices
// when nothing matches.
const PhysicalDeviceInfo& select_device(const std::vector<PhysicalDeviceInfo>& devices,
                                        const std::string& selector);

}  // namespace bcvk::vk
