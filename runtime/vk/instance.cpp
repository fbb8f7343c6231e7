#include "runtime/vk/instance.h"

#include <dlfcn.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "runtime/vk/error.h"

namespace bcvk::vk {

namespace {

constexpr const char* kValidationLayer = "VK_LAYER_KHRONOS_validation";

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

bool has_extension(const std::vector<VkExtensionProperties>& exts, const char* name) {
  return std::any_of(exts.begin(), exts.end(), [&](const VkExtensionProperties& e) {
    return std::strcmp(e.extensionName, name) == 0;
  });
}

std::vector<VkExtensionProperties> instance_extensions(const char* layer) {
  uint32_t n = 0;
  if (const VkResult r = vkEnumerateInstanceExtensionProperties(layer, &n, nullptr);
      r != VK_SUCCESS && !layer) {
    // The loader reads every driver manifest here; an unreadable or malformed one comes back as
    // VK_ERROR_OUT_OF_HOST_MEMORY or INITIALIZATION_FAILED, which would mislead.
    std::string where;
    for (const char* var : {"VK_ICD_FILENAMES", "VK_DRIVER_FILES", "VK_ADD_DRIVER_FILES"})
      if (const char* v = std::getenv(var); v && *v) where += std::string(" ") + var + "=" + v;
    throw Error(std::string("the Vulkan loader could not read the installed drivers (") +
                    result_name(r) +
                    " while listing instance extensions): a driver manifest (ICD JSON) is "
                    "probably unreadable or malformed; check " +
                    (where.empty() ? std::string("/usr/share/vulkan/icd.d and /etc/vulkan/icd.d")
                                   : "the files named by" + where),
                r);
  }
  BCVK_VK_CHECK(vkEnumerateInstanceExtensionProperties(layer, &n, nullptr));
  std::vector<VkExtensionProperties> exts(n);
  BCVK_VK_CHECK(vkEnumerateInstanceExtensionProperties(layer, &n, exts.data()));
  exts.resize(n);
  return exts;
}

bool layer_available(const char* name) {
  uint32_t n = 0;
  BCVK_VK_CHECK(vkEnumerateInstanceLayerProperties(&n, nullptr));
  std::vector<VkLayerProperties> layers(n);
  BCVK_VK_CHECK(vkEnumerateInstanceLayerProperties(&n, layers.data()));
  layers.resize(n);
  return std::any_of(layers.begin(), layers.end(), [&](const VkLayerProperties& l) {
    return std::strcmp(l.layerName, name) == 0;
  });
}

VKAPI_ATTR VkBool32 VKAPI_CALL on_validation_message(
    VkDebugUtilsMessageSeverityFlagBitsEXT severity, VkDebugUtilsMessageTypeFlagsEXT,
    const VkDebugUtilsMessengerCallbackDataEXT* data, void* user) {
  const char* level =
      (severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT) ? "error" : "warning";
  std::string text = std::string("validation ") + level + ": " +
                     (data && data->pMessage ? data->pMessage : "(no message)");
  std::fprintf(stderr, "bcvk: %s\n", text.c_str());
  static_cast<ValidationLog*>(user)->add(std::move(text));
  return VK_FALSE;  // never abort the call: the test that triggered it fails on the count
}

std::string decode_driver_version(uint32_t v, uint32_t vendor_id, VkDriverId driver_id) {
  char buf[64];
  if (vendor_id == 0x10DE) {  // NVIDIA packs 10.8.8.6 bits
    std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", (v >> 22) & 0x3ff, (v >> 14) & 0xff,
                  (v >> 6) & 0xff, v & 0x3f);
  } else if (driver_id == VK_DRIVER_ID_INTEL_PROPRIETARY_WINDOWS) {  // Intel on Windows: 18.14
    std::snprintf(buf, sizeof buf, "%u.%u", v >> 14, v & 0x3fff);
  } else {
    std::snprintf(buf, sizeof buf, "%u.%u.%u", VK_API_VERSION_MAJOR(v), VK_API_VERSION_MINOR(v),
                  VK_API_VERSION_PATCH(v));
  }
  return buf;
}

PhysicalDeviceInfo query_device(VkPhysicalDevice pd, uint32_t index) {
  PhysicalDeviceInfo info;
  info.index = index;
  info.handle = pd;

  uint32_t n_ext = 0;
  BCVK_VK_CHECK(vkEnumerateDeviceExtensionProperties(pd, nullptr, &n_ext, nullptr));
  std::vector<VkExtensionProperties> exts(n_ext);
  BCVK_VK_CHECK(vkEnumerateDeviceExtensionProperties(pd, nullptr, &n_ext, exts.data()));
  exts.resize(n_ext);

  VkPhysicalDeviceProperties base{};
  vkGetPhysicalDeviceProperties(pd, &base);
  const uint32_t api = base.apiVersion;
  const bool v12 = api >= VK_API_VERSION_1_2;
  const bool v13 = api >= VK_API_VERSION_1_3;

  // Properties: chain only what this device's API version or extensions define.
  VkPhysicalDeviceSubgroupProperties subgroup{
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
  VkPhysicalDeviceMaintenance3Properties maint3{
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES};
  VkPhysicalDeviceDriverProperties driver{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
  VkPhysicalDeviceMaintenance4Properties maint4{
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_4_PROPERTIES};
  VkPhysicalDeviceProperties2 props{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2};
  void** tail = &props.pNext;
  auto chain = [&tail](auto& s) {
    *tail = &s;
    tail = &s.pNext;
  };
  chain(subgroup);
  chain(maint3);
  const bool has_driver_props = v12 || has_extension(exts, VK_KHR_DRIVER_PROPERTIES_EXTENSION_NAME);
  if (has_driver_props) chain(driver);
  const bool has_maint4 = v13 || has_extension(exts, VK_KHR_MAINTENANCE_4_EXTENSION_NAME);
  if (has_maint4) chain(maint4);
  vkGetPhysicalDeviceProperties2(pd, &props);

  VkPhysicalDevice16BitStorageFeatures storage16{
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES};
  VkPhysicalDevice8BitStorageFeatures storage8{
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_8BIT_STORAGE_FEATURES};
  VkPhysicalDeviceShaderFloat16Int8Features f16i8{
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES};
  VkPhysicalDeviceFeatures2 feats{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
  tail = &feats.pNext;
  chain(storage16);
  const bool has_8bit = v12 || has_extension(exts, VK_KHR_8BIT_STORAGE_EXTENSION_NAME);
  const bool has_f16i8 = v12 || has_extension(exts, VK_KHR_SHADER_FLOAT16_INT8_EXTENSION_NAME);
  if (has_8bit) chain(storage8);
  if (has_f16i8) chain(f16i8);
  vkGetPhysicalDeviceFeatures2(pd, &feats);

  const VkPhysicalDeviceLimits& lim = base.limits;
  info.name = base.deviceName;
  info.type = base.deviceType;
  info.vendor_id = base.vendorID;
  info.device_id = base.deviceID;
  info.vendor = vendor_from_id(base.vendorID);
  info.api_version = api;
  info.driver_version_raw = base.driverVersion;
  std::memcpy(info.pipeline_cache_uuid, base.pipelineCacheUUID, VK_UUID_SIZE);
  if (has_driver_props) {
    info.driver_name = driver.driverName;
    info.driver_info = driver.driverInfo;
  }
  info.driver_version = decode_driver_version(base.driverVersion, base.vendorID,
                                              has_driver_props ? driver.driverID : VkDriverId{});
#if defined(__aarch64__)
  info.soft_half = info.driver_name == "llvmpipe";
#endif
  // Like the other BCVK_* switches: set and not "0" means on.
  if (const char* v = std::getenv("BCVK_SOFT_HALF"); v && *v)
    info.soft_half = std::strcmp(v, "0") != 0;

  info.subgroup_size = subgroup.subgroupSize;
  info.subgroup_arithmetic = (subgroup.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) &&
                             (subgroup.supportedOperations & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT);
  info.storage_buffer_16bit = storage16.storageBuffer16BitAccess;
  info.storage_buffer_8bit = has_8bit && storage8.storageBuffer8BitAccess;
  info.shader_float16 = has_f16i8 && f16i8.shaderFloat16;
  info.shader_int8 = has_f16i8 && f16i8.shaderInt8;

  info.max_storage_buffer_range = lim.maxStorageBufferRange;
  info.min_storage_buffer_offset_alignment = lim.minStorageBufferOffsetAlignment;
  info.max_uniform_buffer_range = lim.maxUniformBufferRange;
  info.min_uniform_buffer_offset_alignment = lim.minUniformBufferOffsetAlignment;
  info.max_memory_allocation_size = maint3.maxMemoryAllocationSize;
  // Without maintenance4 the spec sets no buffer-size limit; the allocation limit applies.
  info.max_buffer_size = has_maint4 ? maint4.maxBufferSize : maint3.maxMemoryAllocationSize;
  info.max_shared_memory = lim.maxComputeSharedMemorySize;
  info.max_workgroup_invocations = lim.maxComputeWorkGroupInvocations;
  for (int i = 0; i < 3; ++i) {
    info.max_workgroup_size[i] = lim.maxComputeWorkGroupSize[i];
    info.max_workgroup_count[i] = lim.maxComputeWorkGroupCount[i];
  }
  info.max_push_constants_size = lim.maxPushConstantsSize;
  info.timestamp_period_ns = lim.timestampPeriod;

  VkPhysicalDeviceMemoryProperties mem{};
  vkGetPhysicalDeviceMemoryProperties(pd, &mem);
  for (uint32_t h = 0; h < mem.memoryHeapCount; ++h)
    info.heaps.push_back({mem.memoryHeaps[h].size,
                          (mem.memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) != 0});
  bool any_device_local = false, all_host_visible = true;
  for (uint32_t t = 0; t < mem.memoryTypeCount; ++t) {
    const VkMemoryPropertyFlags f = mem.memoryTypes[t].propertyFlags;
    if (f & VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT) {
      any_device_local = true;
      all_host_visible &= (f & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT) != 0;
    }
  }
  info.unified_memory = any_device_local && all_host_visible;

  uint32_t n_families = 0;
  vkGetPhysicalDeviceQueueFamilyProperties(pd, &n_families, nullptr);
  std::vector<VkQueueFamilyProperties> families(n_families);
  vkGetPhysicalDeviceQueueFamilyProperties(pd, &n_families, families.data());
  // First compute family that can time; otherwise any compute family (then no --profile).
  for (int pass = 0; pass < 2 && !info.has_compute_queue(); ++pass) {
    for (uint32_t q = 0; q < n_families; ++q) {
      if (!(families[q].queueFlags & VK_QUEUE_COMPUTE_BIT) || families[q].queueCount == 0) continue;
      if (pass == 0 && families[q].timestampValidBits == 0) continue;
      info.compute_queue_family = q;
      info.timestamp_valid_bits = families[q].timestampValidBits;
      break;
    }
  }
  return info;
}

int type_rank(VkPhysicalDeviceType type) {
  switch (type) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU:
      return 0;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU:
      return 1;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU:
      return 2;
    case VK_PHYSICAL_DEVICE_TYPE_CPU:
      return 3;
    default:
      return 4;
  }
}

std::string device_list(const std::vector<PhysicalDeviceInfo>& devices) {
  std::string s;
  for (const auto& d : devices)
    s += "\n  " + std::to_string(d.index) + ": " + d.name + " (" + d.type_name() + ")";
  return s;
}

}  // namespace

void load_vulkan() {
  static std::mutex mutex;
  static bool loaded = false;
  std::lock_guard<std::mutex> lock(mutex);
  if (loaded) return;
  const char* env = std::getenv("BCVK_VULKAN_LIBRARY");
  const char* path = (env && *env) ? env : "libvulkan.so.1";
  // The handle stays open for the life of the process: volk's table points into it.
  void* lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char* why = dlerror();
    throw Error(std::string("no Vulkan loader: cannot open ") + path + " (" + (why ? why : "?") +
                    "). Install it with: apt-get install libvulkan1 mesa-vulkan-drivers",
                VK_ERROR_INITIALIZATION_FAILED);
  }
  auto gipa = reinterpret_cast<PFN_vkGetInstanceProcAddr>(dlsym(lib, "vkGetInstanceProcAddr"));
  if (!gipa) {
    dlclose(lib);
    throw Error(std::string(path) + " is not a Vulkan loader: it has no vkGetInstanceProcAddr",
                VK_ERROR_INITIALIZATION_FAILED);
  }
  volkInitializeCustom(gipa);
  loaded = true;
}

const char* vendor_name(Vendor vendor) {
  switch (vendor) {
    case Vendor::kAMD:
      return "AMD";
    case Vendor::kNVIDIA:
      return "NVIDIA";
    case Vendor::kIntel:
      return "Intel";
    case Vendor::kARM:
      return "ARM";
    case Vendor::kQualcomm:
      return "Qualcomm";
    case Vendor::kApple:
      return "Apple";
    case Vendor::kMesaCPU:
      return "Mesa/CPU";
    case Vendor::kImagination:
      return "Imagination";
    case Vendor::kBroadcom:
      return "Broadcom";
    case Vendor::kMicrosoft:
      return "Microsoft";
    default:
      return "other";
  }
}

Vendor vendor_from_id(uint32_t id) {
  switch (id) {
    case 0x1002:
      return Vendor::kAMD;
    case 0x1022:
      return Vendor::kAMD;
    case 0x10DE:
      return Vendor::kNVIDIA;
    case 0x8086:
      return Vendor::kIntel;
    case 0x13B5:
      return Vendor::kARM;
    case 0x5143:
      return Vendor::kQualcomm;
    case 0x106B:
      return Vendor::kApple;
    case 0x10005:
      return Vendor::kMesaCPU;  // VK_VENDOR_ID_MESA: lavapipe
    case 0x1010:
      return Vendor::kImagination;
    case 0x14E4:
      return Vendor::kBroadcom;
    case 0x1414:
      return Vendor::kMicrosoft;
    default:
      return Vendor::kOther;
  }
}

std::string PhysicalDeviceInfo::type_name() const {
  switch (type) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU:
      return "discrete GPU";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU:
      return "integrated GPU";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU:
      return "virtual GPU";
    case VK_PHYSICAL_DEVICE_TYPE_CPU:
      return "CPU";
    default:
      return "other";
  }
}

std::string PhysicalDeviceInfo::api_version_string() const {
  return std::to_string(VK_API_VERSION_MAJOR(api_version)) + "." +
         std::to_string(VK_API_VERSION_MINOR(api_version)) + "." +
         std::to_string(VK_API_VERSION_PATCH(api_version));
}

void ValidationLog::add(std::string message) {
  std::lock_guard<std::mutex> lock(mutex_);
  messages_.push_back(std::move(message));
}

size_t ValidationLog::count() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return messages_.size();
}

std::vector<std::string> ValidationLog::messages() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return messages_;
}

InstanceOptions InstanceOptions::from_environment() {
  InstanceOptions o;
  const char* v = std::getenv("BCVK_VALIDATION");
  o.validation = v && std::strcmp(v, "0") != 0 && *v;
  return o;
}

Instance::Instance(InstanceOptions options) : log_(std::make_unique<ValidationLog>()) {
  load_vulkan();

  if (vkEnumerateInstanceVersion)
    BCVK_VK_CHECK(vkEnumerateInstanceVersion(&api_version_));
  else
    api_version_ = VK_API_VERSION_1_0;
  if (api_version_ < VK_API_VERSION_1_1)
    throw Error(
        "the Vulkan loader supports only Vulkan 1.0; bcvk needs 1.1 or newer: update "
        "libvulkan1",
        VK_ERROR_INCOMPATIBLE_DRIVER);
  api_version_ = std::min<uint32_t>(api_version_, VK_API_VERSION_1_3);

  std::vector<const char*> layers;
  std::vector<const char*> extensions;
  const auto available = instance_extensions(nullptr);
  VkInstanceCreateFlags flags = 0;
  // Lists MoltenVK-style portability devices too; harmless where there are none.
  if (has_extension(available, VK_KHR_PORTABILITY_ENUMERATION_EXTENSION_NAME)) {
    extensions.push_back(VK_KHR_PORTABILITY_ENUMERATION_EXTENSION_NAME);
    flags |= VK_INSTANCE_CREATE_ENUMERATE_PORTABILITY_BIT_KHR;
  }

  VkValidationFeaturesEXT features{VK_STRUCTURE_TYPE_VALIDATION_FEATURES_EXT};
  // Synchronization validation catches a missing barrier between two dispatches, the bug
  // class a compute runtime is most likely to have.
  const VkValidationFeatureEnableEXT enables[] = {
      VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT};
  VkDebugUtilsMessengerCreateInfoEXT messenger_info{
      VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT};
  messenger_info.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
                                   VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
  messenger_info.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                               VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                               VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT;
  messenger_info.pfnUserCallback = on_validation_message;
  messenger_info.pUserData = log_.get();
  const void* next = nullptr;

  if (options.validation) {
    if (!layer_available(kValidationLayer))
      throw Error(
          "BCVK_VALIDATION is set but the Khronos validation layer is not installed: "
          "apt-get install vulkan-validationlayers (or unset BCVK_VALIDATION)",
          VK_ERROR_LAYER_NOT_PRESENT);
    layers.push_back(kValidationLayer);
    extensions.push_back(VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
    const auto layer_exts = instance_extensions(kValidationLayer);
    // The messenger in pNext also reports problems inside vkCreateInstance itself.
    next = &messenger_info;
    if (has_extension(layer_exts, VK_EXT_VALIDATION_FEATURES_EXTENSION_NAME)) {
      extensions.push_back(VK_EXT_VALIDATION_FEATURES_EXTENSION_NAME);
      features.enabledValidationFeatureCount = 1;
      features.pEnabledValidationFeatures = enables;
      features.pNext = &messenger_info;
      next = &features;
    }
  }

  VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
  app.pApplicationName = "bcvk";
  app.pEngineName = "bcvk";
  app.apiVersion = api_version_;
  VkInstanceCreateInfo ci{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
  ci.pNext = next;
  ci.flags = flags;
  ci.pApplicationInfo = &app;
  ci.enabledLayerCount = static_cast<uint32_t>(layers.size());
  ci.ppEnabledLayerNames = layers.data();
  ci.enabledExtensionCount = static_cast<uint32_t>(extensions.size());
  ci.ppEnabledExtensionNames = extensions.data();
  const VkResult r = vkCreateInstance(&ci, nullptr, &instance_);
  if (r == VK_ERROR_INCOMPATIBLE_DRIVER)
    throw Error(
        "no Vulkan driver found (vkCreateInstance: VK_ERROR_INCOMPATIBLE_DRIVER): install "
        "one, e.g. apt-get install mesa-vulkan-drivers for the lavapipe CPU device, or "
        "your GPU vendor's driver",
        r);
  BCVK_VK_CHECK(r);

  // volkLoadInstance (not volkLoadDevice) keeps device-level calls on the loader's
  // trampolines, so several VkDevices can live in one process.
  volkLoadInstance(instance_);

  if (options.validation) {
    try {
      BCVK_VK_CHECK(
          vkCreateDebugUtilsMessengerEXT(instance_, &messenger_info, nullptr, &messenger_));
    } catch (...) {
      vkDestroyInstance(instance_, nullptr);
      throw;
    }
  }

  try {
    uint32_t n = 0;
    BCVK_VK_CHECK(vkEnumeratePhysicalDevices(instance_, &n, nullptr));
    std::vector<VkPhysicalDevice> pds(n);
    BCVK_VK_CHECK(vkEnumeratePhysicalDevices(instance_, &n, pds.data()));
    for (uint32_t i = 0; i < n; ++i) devices_.push_back(query_device(pds[i], i));
  } catch (...) {
    if (messenger_) vkDestroyDebugUtilsMessengerEXT(instance_, messenger_, nullptr);
    vkDestroyInstance(instance_, nullptr);
    throw;
  }
}

Instance::~Instance() {
  if (messenger_) vkDestroyDebugUtilsMessengerEXT(instance_, messenger_, nullptr);
  if (instance_) vkDestroyInstance(instance_, nullptr);
}

const PhysicalDeviceInfo& select_device(const std::vector<PhysicalDeviceInfo>& devices,
                                        const std::string& selector_in) {
  std::string selector = selector_in;
  std::string source = "device selector";
  if (selector.empty()) {
    const char* env = std::getenv("BCVK_DEVICE");
    if (env && *env) {
      selector = env;
      source = "BCVK_DEVICE";
    }
  }
  if (devices.empty())
    throw Error(
        "no Vulkan device found: install a driver, e.g. apt-get install "
        "mesa-vulkan-drivers for the lavapipe CPU device",
        VK_ERROR_INCOMPATIBLE_DRIVER);

  const PhysicalDeviceInfo* chosen = nullptr;
  if (selector.empty()) {
    for (const auto& d : devices) {
      if (!d.has_compute_queue()) continue;
      if (!chosen || type_rank(d.type) < type_rank(chosen->type)) chosen = &d;
    }
    if (!chosen)
      throw Error("none of the Vulkan devices has a compute queue:" + device_list(devices));
    return *chosen;
  }

  const bool numeric = std::all_of(selector.begin(), selector.end(),
                                   [](unsigned char c) { return std::isdigit(c); });
  if (numeric) {
    unsigned long long idx = 0;
    try {
      idx = std::stoull(selector);
    } catch (...) {
      idx = ~0ull;
    }
    if (idx >= devices.size())
      throw Error(source + " " + selector + " is out of range: " + std::to_string(devices.size()) +
                  " Vulkan device(s) found:" + device_list(devices));
    chosen = &devices[idx];
  } else {
    const std::string needle = lower(selector);
    for (const auto& d : devices) {
      if (lower(d.name).find(needle) != std::string::npos) {
        chosen = &d;
        break;
      }
    }
    if (!chosen)
      throw Error(source + " \"" + selector +
                  "\" matches no device name; devices:" + device_list(devices));
  }
  if (!chosen->has_compute_queue())
    throw Error("device " + std::to_string(chosen->index) + " (" + chosen->name +
                ") has no compute queue; pick another:" + device_list(devices));
  return *chosen;
}

}  // namespace bcvk::vk
