// A VkPipelineCache persisted on disk, so a second run skips the driver's shader compiles.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "runtime/vk/device.h"

namespace bcvk::vk {

// One entry of the device's on-disk caches (the pipeline cache, VkFFT plans, ...), sealed with a
// checksum and the device's identity (PipelineCache::identity; format: loaders/cache_file.h).
// `kind` names what it holds.  load: the payload of a whole, unaltered entry of this kind for
// this device; nullopt when the file is absent, or -- with one warning naming `what`, to be
// rebuilt -- when it is damaged, stale or foreign.  store: atomic; a failure is ignored (a cache
// that cannot be written costs start-up time, not correctness).
std::optional<std::string> load_cache_entry(const std::filesystem::path& file,
                                            const std::string& kind, const PhysicalDeviceInfo& info,
                                            const char* what);
void store_cache_entry(const std::filesystem::path& file, const std::string& kind,
                       const PhysicalDeviceInfo& info, std::string_view payload);

class PipelineCache {
 public:
  // Loads `file` when it is a whole, unaltered entry written by this bcvk for this exact device
  // and driver (loaders/cache_file.h: checksum and identity) whose driver header also matches;
  // otherwise starts empty (a damaged entry: one warning, rewritten on save).  An empty path
  // keeps the cache in memory only.
  PipelineCache(const Device& device, std::filesystem::path file);
  ~PipelineCache();  // saves (best effort, never throws)
  PipelineCache(const PipelineCache&) = delete;
  PipelineCache& operator=(const PipelineCache&) = delete;

  VkPipelineCache handle() const { return cache_; }
  const std::filesystem::path& file() const { return file_; }
  bool loaded_from_disk() const { return loaded_; }

  // Writes the cache atomically (temporary file, then rename).  Throws on I/O errors.
  void save() const;

  // $BCVK_CACHE_DIR, else $XDG_CACHE_HOME/bcvk, else $HOME/.cache/bcvk; empty when none is set.
  static std::filesystem::path cache_directory();
  // <cache dir>/pipelines-<vendor>-<device>-<pipelineCacheUUID>.bin, or empty.
  static std::filesystem::path default_file(const PhysicalDeviceInfo& info);
  // Who may use a cache entry: bcvk's version, the device, its driver and pipeline-cache UUID.
  static std::string identity(const PhysicalDeviceInfo& info);

 private:
  const Device& device_;
  std::filesystem::path file_;
  VkPipelineCache cache_ = VK_NULL_HANDLE;
  bool loaded_ = false;
};

}  // namespace bcvk::vk
