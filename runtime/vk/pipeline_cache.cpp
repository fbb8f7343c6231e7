#include "runtime/vk/pipeline_cache.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <vector>

#include "loaders/cache_file.h"
#include "runtime/vk/error.h"

namespace bcvk::vk {

namespace {

// The header every driver writes first (VkPipelineCacheHeaderVersionOne): size, version,
// vendor, device, UUID.  A file from another device or driver is ignored, not handed over.
bool header_matches(const std::string& data, const PhysicalDeviceInfo& info) {
  if (data.size() < 32) return false;
  uint32_t words[4];
  std::memcpy(words, data.data(), sizeof words);
  return words[0] >= 32 && words[1] == VK_PIPELINE_CACHE_HEADER_VERSION_ONE &&
         words[2] == info.vendor_id && words[3] == info.device_id &&
         std::memcmp(data.data() + 16, info.pipeline_cache_uuid, VK_UUID_SIZE) == 0;
}

}  // namespace

std::filesystem::path PipelineCache::cache_directory() {
  if (const char* d = std::getenv("BCVK_CACHE_DIR"); d && *d) return d;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x)
    return std::filesystem::path(x) / "bcvk";
  if (const char* h = std::getenv("HOME"); h && *h)
    return std::filesystem::path(h) / ".cache" / "bcvk";
  return {};
}

std::filesystem::path PipelineCache::default_file(const PhysicalDeviceInfo& info) {
  const auto dir = cache_directory();
  if (dir.empty()) return {};
  char name[128];
  int n = std::snprintf(name, sizeof name, "pipelines-%04x-%04x-", info.vendor_id, info.device_id);
  for (unsigned i = 0; i < VK_UUID_SIZE && n < 120; ++i)
    n += std::snprintf(name + n, sizeof name - n, "%02x", info.pipeline_cache_uuid[i]);
  return dir / (std::string(name) + ".bin");
}

std::string PipelineCache::identity(const PhysicalDeviceInfo& info) {
  char ids[64];
  std::snprintf(ids, sizeof ids, "%04x:%04x driver %08x uuid ", info.vendor_id, info.device_id,
                info.driver_version_raw);
  std::string id = std::string("bcvk ") + BCVK_VERSION + ", device " + ids;
  for (unsigned i = 0; i < VK_UUID_SIZE; ++i) {
    char h[3];
    std::snprintf(h, sizeof h, "%02x", info.pipeline_cache_uuid[i]);
    id += h;
  }
  return id + ", " + info.driver_name + " " + info.driver_info;
}

std::optional<std::string> load_cache_entry(const std::filesystem::path& file,
                                            const std::string& kind, const PhysicalDeviceInfo& info,
                                            const char* what) {
  if (file.empty()) return std::nullopt;
  std::string why;
  auto payload = loaders::read_cache_file(file, {kind, PipelineCache::identity(info)}, &why);
  if (!why.empty())
    std::fprintf(stderr, "bcvk: warning: %s %s discarded (%s); rebuilding it\n", what, file.c_str(),
                 why.c_str());
  return payload;
}

void store_cache_entry(const std::filesystem::path& file, const std::string& kind,
                       const PhysicalDeviceInfo& info, std::string_view payload) {
  if (file.empty()) return;
  try {
    loaders::write_cache_file(file, {kind, PipelineCache::identity(info)}, payload);
  } catch (const std::exception&) {
  }
}

PipelineCache::PipelineCache(const Device& device, std::filesystem::path file)
    : device_(device), file_(std::move(file)) {
  std::string data;
  if (!file_.empty()) {
    std::string why;
    const auto payload =
        loaders::read_cache_file(file_, {"vulkan pipeline cache", identity(device.info())}, &why);
    if (payload && header_matches(*payload, device.info())) {
      data = *payload;
    } else if (payload || !why.empty()) {
      if (why.empty()) why = "its driver header is not this device's";
      std::fprintf(stderr, "bcvk: warning: pipeline cache %s discarded (%s); rebuilding it\n",
                   file_.c_str(), why.c_str());
    }
  }
  VkPipelineCacheCreateInfo ci{VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO};
  ci.initialDataSize = data.size();
  ci.pInitialData = data.empty() ? nullptr : data.data();
  BCVK_VK_CHECK(vkCreatePipelineCache(device.handle(), &ci, nullptr, &cache_));
  loaded_ = !data.empty();
}

PipelineCache::~PipelineCache() {
  try {
    save();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bcvk: warning: pipeline cache not saved: %s\n", e.what());
  }
  vkDestroyPipelineCache(device_.handle(), cache_, nullptr);
}

void PipelineCache::save() const {
  if (file_.empty()) return;
  size_t size = 0;
  BCVK_VK_CHECK(vkGetPipelineCacheData(device_.handle(), cache_, &size, nullptr));
  std::vector<char> data(size);
  BCVK_VK_CHECK(vkGetPipelineCacheData(device_.handle(), cache_, &size, data.data()));
  data.resize(size);
  loaders::write_cache_file(file_, {"vulkan pipeline cache", identity(device_.info())},
                            std::string_view(data.data(), data.size()));
}

}  // namespace bcvk::vk
