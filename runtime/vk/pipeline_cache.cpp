#include "runtime/vk/pipeline_cache.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <vector>

#include "runtime/vk/error.h"

namespace bcvk::vk {

namespace {

// The header every driver writes first (VkPipelineCacheHeaderVersionOne): size, version,
// vendor, device, UUID.  A file from another device or driver is ignored, not handed over.
bool header_matches(const std::vector<char>& data, const PhysicalDeviceInfo& info) {
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

PipelineCache::PipelineCache(const Device& device, std::filesystem::path file)
    : device_(device), file_(std::move(file)) {
  std::vector<char> data;
  if (!file_.empty()) {
    std::ifstream in(file_, std::ios::binary);
    if (in) data.assign(std::istreambuf_iterator<char>(in), {});
    if (!header_matches(data, device.info())) data.clear();
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
  std::filesystem::create_directories(file_.parent_path());
  // Unique per process so two bcvk runs never write into each other's temporary file.
  const auto tmp = file_.string() + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
    out.close();
    if (!out) {
      std::filesystem::remove(tmp);
      throw Error("cannot write " + tmp);
    }
  }
  std::filesystem::rename(tmp, file_);
}

}  // namespace bcvk::vk
