#include "runtime/vk/context.h"

#include <chrono>
#include <cstdlib>
#include <numeric>

namespace bcvk::vk {

namespace {

std::filesystem::path cache_file(const ContextOptions& o, const Instance& instance) {
  if (!o.persist_pipeline_cache) return {};
  return PipelineCache::default_file(select_device(instance.devices(), o.device));
}

DeviceTuning tune(const PhysicalDeviceInfo& info) {
  DeviceTuning t;
  t.elementwise_workgroup =
      std::min<uint32_t>(256, std::min(info.max_workgroup_invocations, info.max_workgroup_size[0]));
  t.max_groups_x = info.max_workgroup_count[0];
  t.binding_alignment =
      std::lcm<uint64_t>(std::max<uint64_t>(info.min_storage_buffer_offset_alignment, 1), 16);
  t.max_binding_bytes = info.max_storage_buffer_range / t.binding_alignment * t.binding_alignment;
  return t;
}

}  // namespace

Context::Context(ContextOptions options)
    : instance_(options.instance),
      device_(instance_, select_device(instance_.devices(), options.device)),
      cache_(device_, cache_file(options, instance_)),
      allocator_(device_, options.allocator),
      tuning_(tune(device_.info())) {}

Kernel& Context::kernel(const std::string& shader, const std::vector<SpecConstant>& spec,
                        uint32_t push_size) {
  auto key = std::make_tuple(shader, spec);
  auto it = kernels_.find(key);
  if (it == kernels_.end()) {
    const auto t0 = std::chrono::steady_clock::now();
    auto k = std::make_unique<Kernel>(device_, cache_, shader, spec, push_size);
    compile_.pipeline_ms +=
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    ++compile_.pipelines;
    compile_.pipelines_reported += k->creation_feedback();
    compile_.pipelines_cached += k->from_pipeline_cache();
    it = kernels_.emplace(std::move(key), std::move(k)).first;
  }
  return *it->second;
}

}  // namespace bcvk::vk
