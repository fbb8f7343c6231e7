// A compute pipeline built from embedded SPIR-V, its layouts, and a cache of descriptor sets.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "runtime/vk/memory.h"
#include "runtime/vk/pipeline_cache.h"

namespace bcvk::vk {

// A specialization constant: constant_id and its 32-bit value (uint, int, float bits or bool).
struct SpecConstant {
  uint32_t id = 0;
  uint32_t value = 0;
  auto operator<=>(const SpecConstant&) const = default;
};

// Specialization constants every pipeline gets from its device (shaders/half.glsl).
constexpr uint32_t kSpecSoftHalf = 100;

// Storage-buffer binding indices of descriptor set 0 that `spirv` declares, highest + 1.
// Throws if the module uses a descriptor set other than 0.
uint32_t spirv_binding_count(std::span<const uint32_t> spirv);
// Each binding's descriptor type: a uniform buffer (a Block in the Uniform storage class) or a
// storage buffer (the StorageBuffer class, or an old-style BufferBlock).
std::vector<VkDescriptorType> spirv_binding_types(std::span<const uint32_t> spirv);
// Bytes of the push-constant block `spirv` declares (the end of its last member), 0 for none.
// Kernel checks it against the size the dispatching op passes, so a push struct on the host
// that drifts from the shader's fails at pipeline creation instead of reading garbage.
uint32_t spirv_push_constant_bytes(std::span<const uint32_t> spirv);

class Kernel {
 public:
  // `shader` names an embedded shader (shaders/registry.h).  Every binding is a storage buffer.
  Kernel(const Device& device, const PipelineCache& cache, const std::string& shader,
         std::vector<SpecConstant> spec, uint32_t push_constant_size);
  ~Kernel();
  Kernel(const Kernel&) = delete;
  Kernel& operator=(const Kernel&) = delete;

  const std::string& name() const { return name_; }
  VkPipeline pipeline() const { return pipeline_; }
  VkPipelineLayout layout() const { return layout_; }
  uint32_t binding_count() const { return binding_count_; }
  uint32_t push_constant_size() const { return push_size_; }
  // What VkPipelineCreationFeedback (Vulkan 1.3) said: the driver found the pipeline in the
  // pipeline cache, so nothing was compiled.  False when it did not say (older devices).
  bool from_pipeline_cache() const { return from_pipeline_cache_; }
  bool creation_feedback() const { return creation_feedback_; }

  // The descriptor set binding `views` in order.  Sets are cached by (buffer id, offset, size),
  // so a forward pass that binds the same tensors every step allocates nothing after the first.
  // Sets of destroyed buffers are freed when the cache has grown (doubling thresholds), so a long
  // sweep that makes and drops buffers per configuration holds only the live ones.
  VkDescriptorSet descriptor_set(std::span<const BufferView> views);
  size_t cached_descriptor_sets() const { return sets_.size(); }

 private:
  struct Pool {
    VkDescriptorPool pool = VK_NULL_HANDLE;
    uint32_t free = 0;  // sets it can still hand out (freed ones come back)
  };
  struct CachedSet {
    VkDescriptorSet set = VK_NULL_HANDLE;
    size_t pool = 0;  // index into pools_
  };
  CachedSet allocate_set();
  void prune(const Allocator& allocator);
  void release() noexcept;

  const Device& device_;
  std::string name_;
  uint32_t binding_count_ = 0;
  std::vector<VkDescriptorType> binding_types_;
  uint32_t push_size_ = 0;
  bool from_pipeline_cache_ = false, creation_feedback_ = false;
  VkShaderModule module_ = VK_NULL_HANDLE;
  VkDescriptorSetLayout set_layout_ = VK_NULL_HANDLE;
  VkPipelineLayout layout_ = VK_NULL_HANDLE;
  VkPipeline pipeline_ = VK_NULL_HANDLE;
  std::vector<Pool> pools_;
  std::map<std::vector<uint64_t>, CachedSet> sets_;
  size_t prune_at_;
};

}  // namespace bcvk::vk
