// Everything one bcvk run needs on one device, owned in creation order so destruction runs in
// reverse: instance, device, pipeline cache, allocator, kernels.  No global state: pass it.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "runtime/vk/device.h"
#include "runtime/vk/instance.h"
#include "runtime/vk/kernel.h"
#include "runtime/vk/memory.h"
#include "runtime/vk/pipeline_cache.h"

namespace bcvk::vk {

struct ContextOptions {
  std::string device;  // --device: index or name substring; "" = BCVK_DEVICE or the best
  InstanceOptions instance = InstanceOptions::from_environment();
  AllocatorOptions allocator = AllocatorOptions::from_environment();
  bool persist_pipeline_cache = true;  // load/save under PipelineCache::cache_directory()
};

// Per-device launch parameters, chosen once from the device's properties.
struct DeviceTuning {
  uint32_t elementwise_workgroup = 256;  // invocations per group of element-wise kernels
  uint32_t max_groups_x = 65535;
  // Largest storage-buffer binding, rounded down to the offset alignment and to 16 bytes.
  uint64_t max_binding_bytes = 0;
  uint64_t binding_alignment = 16;  // lcm(minStorageBufferOffsetAlignment, 16)
};

// What this context compiled or found in a cache: how warm a start was, and what it cost.
struct CompileStats {
  uint32_t pipelines = 0;              // compute pipelines created
  uint32_t pipelines_cached = 0;       // of which the driver found in the pipeline cache
  uint32_t pipelines_reported = 0;     // of which the driver said either way (creation feedback)
  double pipeline_ms = 0;              // wall time spent creating them
  uint32_t fft_plans = 0;              // VkFFT plans created
  uint32_t fft_plans_from_source = 0;  // of which compiled from GLSL (not found on disk)
  double fft_plan_ms = 0;
};

class Context {
 public:
  explicit Context(ContextOptions options = {});
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  Instance& instance() { return instance_; }
  Device& device() { return device_; }
  Allocator& allocator() { return allocator_; }
  PipelineCache& pipeline_cache() { return cache_; }
  const PhysicalDeviceInfo& info() const { return device_.info(); }
  const DeviceTuning& tuning() const { return tuning_; }

  // The pipeline for (shader, specialization), built on first use and then shared.
  Kernel& kernel(const std::string& shader, const std::vector<SpecConstant>& spec,
                 uint32_t push_size);
  size_t kernel_count() const { return kernels_.size(); }
  const CompileStats& compile_stats() const { return compile_; }
  CompileStats& compile_stats() { return compile_; }

 private:
  Instance instance_;
  Device device_;
  PipelineCache cache_;
  Allocator allocator_;
  DeviceTuning tuning_;
  CompileStats compile_;
  std::map<std::tuple<std::string, std::vector<SpecConstant>>, std::unique_ptr<Kernel>> kernels_;
};

}  // namespace bcvk::vk
