// A VkPipelineCache persisted on disk, so a second run skips the driver's shader compiles.
#pragma once

#include <filesystem>

#include "runtime/vk/device.h"

namespace bcvk::vk {

class PipelineCache {
 public:
  // Loads `file` when it exists and was written by this exact device and driver (header check);
  // otherwise starts empty.  An empty path keeps the cache in memory only.
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

 private:
  const Device& device_;
  std::filesystem::path file_;
  VkPipelineCache cache_ = VK_NULL_HANDLE;
  bool loaded_ = false;
};

}  // namespace bcvk::vk
