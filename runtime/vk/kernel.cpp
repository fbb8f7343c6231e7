#include "runtime/vk/kernel.h"

#include <algorithm>
#include <map>
#include <vector>

#include "runtime/util/check.h"
#include "runtime/vk/error.h"
#include "shaders/registry.h"

namespace bcvk::vk {

namespace {
constexpr uint32_t kSetsPerPool = 64;
// Cached descriptor sets past which those of destroyed buffers are freed (then twice what is
// left, so the scan costs O(1) per set made).
constexpr size_t kPruneAt = 512;
constexpr uint32_t kSpirvMagic = 0x07230203;
constexpr uint32_t kOpDecorate = 71;
constexpr uint32_t kDecorationBinding = 33;
constexpr uint32_t kDecorationDescriptorSet = 34;
constexpr uint32_t kDecorationOffset = 35;
constexpr uint32_t kOpTypeInt = 21, kOpTypeFloat = 22, kOpTypeVector = 23, kOpTypeStruct = 30,
                   kOpTypePointer = 32, kOpVariable = 59, kOpMemberDecorate = 72;
constexpr uint32_t kStorageClassPushConstant = 9, kStorageClassUniform = 2;
constexpr uint32_t kDecorationBlock = 2, kDecorationBufferBlock = 3;

// Calls f(op, operands, operand count) for every instruction after the header.
template <class F>
void for_each_instruction(std::span<const uint32_t> spirv, F f) {
  if (spirv.size() < 5 || spirv[0] != kSpirvMagic) util::internal_error("not a SPIR-V module");
  for (size_t i = 5; i < spirv.size();) {
    const uint32_t op = spirv[i] & 0xffff, len = spirv[i] >> 16;
    if (len == 0 || i + len > spirv.size()) util::internal_error("malformed SPIR-V");
    f(op, spirv.data() + i + 1, len - 1);
    i += len;
  }
}
}  // namespace

uint32_t spirv_binding_count(std::span<const uint32_t> spirv) {
  uint32_t count = 0;
  for_each_instruction(spirv, [&](uint32_t op, const uint32_t* a, uint32_t n) {
    if (op == kOpDecorate && n >= 3) {
      if (a[1] == kDecorationBinding) count = std::max(count, a[2] + 1);
      if (a[1] == kDecorationDescriptorSet && a[2] != 0)
        util::internal_error("bcvk shaders use descriptor set 0 only");
    }
  });
  return count;
}

std::vector<VkDescriptorType> spirv_binding_types(std::span<const uint32_t> spirv) {
  std::map<uint32_t, uint32_t> binding;                        // variable id -> binding
  std::map<uint32_t, uint32_t> block_decoration;               // struct id -> Block / BufferBlock
  std::map<uint32_t, std::pair<uint32_t, uint32_t>> pointer;   // type id -> (class, pointee)
  std::map<uint32_t, std::pair<uint32_t, uint32_t>> variable;  // id -> (pointer type, class)
  for_each_instruction(spirv, [&](uint32_t op, const uint32_t* a, uint32_t n) {
    if (op == kOpDecorate && n >= 2 && (a[1] == kDecorationBlock || a[1] == kDecorationBufferBlock))
      block_decoration[a[0]] = a[1];
    else if (op == kOpDecorate && n >= 3 && a[1] == kDecorationBinding)
      binding[a[0]] = a[2];
    else if (op == kOpTypePointer && n >= 3)
      pointer[a[0]] = {a[1], a[2]};
    else if (op == kOpVariable && n >= 3)
      variable[a[1]] = {a[0], a[2]};
  });
  std::vector<VkDescriptorType> types(spirv_binding_count(spirv),
                                      VK_DESCRIPTOR_TYPE_STORAGE_BUFFER);
  for (const auto& [id, b] : binding) {
    const auto v = variable.find(id);
    if (v == variable.end()) util::internal_error("a binding decorates no variable");
    const auto p = pointer.find(v->second.first);
    if (p == pointer.end()) util::internal_error("a bound variable that is not a pointer");
    const auto deco = block_decoration.find(p->second.second);
    if (v->second.second == kStorageClassUniform && deco != block_decoration.end() &&
        deco->second == kDecorationBlock)
      types.at(b) = VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER;
  }
  return types;
}

uint32_t spirv_push_constant_bytes(std::span<const uint32_t> spirv) {
  std::map<uint32_t, uint32_t> scalar_or_vector_bytes;        // type id -> bytes
  std::map<uint32_t, std::vector<uint32_t>> struct_members;   // type id -> member type ids
  std::map<std::pair<uint32_t, uint32_t>, uint32_t> offsets;  // (struct, member) -> offset
  std::map<uint32_t, uint32_t> pointee;                       // push-constant pointer -> type
  uint32_t push_pointer = 0;
  for_each_instruction(spirv, [&](uint32_t op, const uint32_t* a, uint32_t n) {
    if ((op == kOpTypeInt || op == kOpTypeFloat) && n >= 2)
      scalar_or_vector_bytes[a[0]] = a[1] / 8;
    else if (op == kOpTypeVector && n >= 3)
      scalar_or_vector_bytes[a[0]] = scalar_or_vector_bytes[a[1]] * a[2];
    else if (op == kOpTypeStruct && n >= 1)
      struct_members[a[0]] = std::vector<uint32_t>(a + 1, a + n);
    else if (op == kOpTypePointer && n >= 3 && a[1] == kStorageClassPushConstant)
      pointee[a[0]] = a[2];
    else if (op == kOpMemberDecorate && n >= 4 && a[2] == kDecorationOffset)
      offsets[{a[0], a[1]}] = a[3];
    else if (op == kOpVariable && n >= 3 && a[2] == kStorageClassPushConstant)
      push_pointer = a[0];
  });
  if (!push_pointer) return 0;
  const uint32_t block = pointee.at(push_pointer);
  const auto members = struct_members.find(block);
  if (members == struct_members.end())
    util::internal_error("the push-constant block is not a struct");
  uint32_t end = 0;
  for (uint32_t m = 0; m < members->second.size(); ++m) {
    const auto size = scalar_or_vector_bytes.find(members->second[m]);
    const auto offset = offsets.find({block, m});
    if (size == scalar_or_vector_bytes.end() || offset == offsets.end())
      util::internal_error("a push-constant member that is not a scalar or vector");
    end = std::max(end, offset->second + size->second);
  }
  return end;
}

Kernel::Kernel(const Device& device, const PipelineCache& cache, const std::string& shader,
               std::vector<SpecConstant> spec, uint32_t push_constant_size)
    : device_(device), name_(shader), push_size_(push_constant_size), prune_at_(kPruneAt) {
  const shaders::ShaderBinary* bin = shaders::find(shader);
  if (!bin) util::internal_error("no embedded shader named " + shader);
  if (push_constant_size > device.info().max_push_constants_size)
    throw Error(shader + " needs " + std::to_string(push_constant_size) +
                " bytes of push constants; " + device.info().name + " allows " +
                std::to_string(device.info().max_push_constants_size));
  binding_types_ = spirv_binding_types(bin->words);
  binding_count_ = static_cast<uint32_t>(binding_types_.size());
  if (const uint32_t declared = spirv_push_constant_bytes(bin->words);
      declared != push_constant_size)
    util::internal_error("shader " + shader + " declares " + std::to_string(declared) +
                         " bytes of push constants; its op passes " +
                         std::to_string(push_constant_size));
  const VkDevice dev = device.handle();

  try {
    VkShaderModuleCreateInfo mi{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
    mi.codeSize = bin->words.size() * sizeof(uint32_t);
    mi.pCode = bin->words.data();
    BCVK_VK_CHECK(vkCreateShaderModule(dev, &mi, nullptr, &module_));

    std::vector<VkDescriptorSetLayoutBinding> bindings(binding_count_);
    for (uint32_t b = 0; b < binding_count_; ++b)
      bindings[b] = {b, binding_types_[b], 1, VK_SHADER_STAGE_COMPUTE_BIT, nullptr};
    VkDescriptorSetLayoutCreateInfo li{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
    li.bindingCount = binding_count_;
    li.pBindings = bindings.data();
    BCVK_VK_CHECK(vkCreateDescriptorSetLayout(dev, &li, nullptr, &set_layout_));

    VkPushConstantRange range{VK_SHADER_STAGE_COMPUTE_BIT, 0, push_constant_size};
    VkPipelineLayoutCreateInfo pli{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
    pli.setLayoutCount = 1;
    pli.pSetLayouts = &set_layout_;
    pli.pushConstantRangeCount = push_constant_size ? 1 : 0;
    pli.pPushConstantRanges = &range;
    BCVK_VK_CHECK(vkCreatePipelineLayout(dev, &pli, nullptr, &layout_));

    std::vector<VkSpecializationMapEntry> entries;
    std::vector<uint32_t> values;
    // Device-wide constants after the op's own (an id the shader does not declare is ignored).
    spec.push_back({kSpecSoftHalf, device.info().soft_half ? 1u : 0u});
    for (const SpecConstant& s : spec) {
      entries.push_back({s.id, static_cast<uint32_t>(values.size() * 4), 4});
      values.push_back(s.value);
    }
    VkSpecializationInfo si{static_cast<uint32_t>(entries.size()), entries.data(),
                            values.size() * 4, values.data()};
    VkComputePipelineCreateInfo ci{VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
    ci.stage = {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO};
    ci.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
    ci.stage.module = module_;
    ci.stage.pName = "main";
    ci.stage.pSpecializationInfo = entries.empty() ? nullptr : &si;
    ci.layout = layout_;
    // Creation feedback (core in 1.3) tells whether the pipeline cache spared the compile.
    VkPipelineCreationFeedback whole{}, stage{};
    VkPipelineCreationFeedbackCreateInfo fb{
        VK_STRUCTURE_TYPE_PIPELINE_CREATION_FEEDBACK_CREATE_INFO};
    fb.pPipelineCreationFeedback = &whole;
    fb.pipelineStageCreationFeedbackCount = 1;
    fb.pPipelineStageCreationFeedbacks = &stage;
    const bool v13 =
        std::min(device.info().api_version, device.instance().api_version()) >= VK_API_VERSION_1_3;
    if (v13) ci.pNext = &fb;
    BCVK_VK_CHECK(vkCreateComputePipelines(dev, cache.handle(), 1, &ci, nullptr, &pipeline_));
    if (v13 && (whole.flags & VK_PIPELINE_CREATION_FEEDBACK_VALID_BIT)) {
      creation_feedback_ = true;
      from_pipeline_cache_ =
          whole.flags & VK_PIPELINE_CREATION_FEEDBACK_APPLICATION_PIPELINE_CACHE_HIT_BIT;
    }
  } catch (...) {
    release();
    throw;
  }
}

Kernel::~Kernel() {
  release();
}

void Kernel::release() noexcept {
  const VkDevice dev = device_.handle();
  for (const Pool& p : pools_) vkDestroyDescriptorPool(dev, p.pool, nullptr);
  pools_.clear();
  if (pipeline_) vkDestroyPipeline(dev, pipeline_, nullptr);
  if (layout_) vkDestroyPipelineLayout(dev, layout_, nullptr);
  if (set_layout_) vkDestroyDescriptorSetLayout(dev, set_layout_, nullptr);
  if (module_) vkDestroyShaderModule(dev, module_, nullptr);
  pipeline_ = VK_NULL_HANDLE;
  layout_ = VK_NULL_HANDLE;
  set_layout_ = VK_NULL_HANDLE;
  module_ = VK_NULL_HANDLE;
}

Kernel::CachedSet Kernel::allocate_set() {
  const VkDevice dev = device_.handle();
  VkDescriptorSetAllocateInfo ai{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
  ai.descriptorSetCount = 1;
  ai.pSetLayouts = &set_layout_;
  // Newest pool first; a pool that has room on paper but cannot serve (fragmented) is marked full.
  for (size_t i = pools_.size(); i-- > 0;) {
    if (pools_[i].free == 0) continue;
    ai.descriptorPool = pools_[i].pool;
    VkDescriptorSet set = VK_NULL_HANDLE;
    const VkResult r = vkAllocateDescriptorSets(dev, &ai, &set);
    if (r == VK_SUCCESS) {
      --pools_[i].free;
      return {set, i};
    }
    if (r != VK_ERROR_OUT_OF_POOL_MEMORY && r != VK_ERROR_FRAGMENTED_POOL) BCVK_VK_CHECK(r);
    pools_[i].free = 0;
  }
  const auto uniform = static_cast<uint32_t>(
      std::count(binding_types_.begin(), binding_types_.end(), VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER));
  std::vector<VkDescriptorPoolSize> sizes = {
      {VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, kSetsPerPool * std::max(binding_count_ - uniform, 1u)}};
  if (uniform) sizes.push_back({VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER, kSetsPerPool * uniform});
  VkDescriptorPoolCreateInfo pi{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
  pi.flags = VK_DESCRIPTOR_POOL_CREATE_FREE_DESCRIPTOR_SET_BIT;  // prune() returns sets
  pi.maxSets = kSetsPerPool;
  pi.poolSizeCount = static_cast<uint32_t>(sizes.size());
  pi.pPoolSizes = sizes.data();
  VkDescriptorPool pool = VK_NULL_HANDLE;
  BCVK_VK_CHECK(vkCreateDescriptorPool(dev, &pi, nullptr, &pool));
  pools_.push_back({pool, kSetsPerPool});
  ai.descriptorPool = pool;
  VkDescriptorSet set = VK_NULL_HANDLE;
  BCVK_VK_CHECK(vkAllocateDescriptorSets(dev, &ai, &set));
  --pools_.back().free;
  return {set, pools_.size() - 1};
}

// Frees the cached sets that bind a buffer which no longer exists.  No command buffer can still
// need them: destroying a buffer that pending work uses would itself be the error.
void Kernel::prune(const Allocator& allocator) {
  for (auto it = sets_.begin(); it != sets_.end();) {
    bool dead = false;
    for (size_t i = 0; i < it->first.size() && !dead; i += 3)
      dead = !allocator.buffer_alive(it->first[i]);
    if (!dead) {
      ++it;
      continue;
    }
    Pool& p = pools_[it->second.pool];
    vkFreeDescriptorSets(device_.handle(), p.pool, 1, &it->second.set);
    ++p.free;
    it = sets_.erase(it);
  }
}

VkDescriptorSet Kernel::descriptor_set(std::span<const BufferView> views) {
  if (views.size() != binding_count_)
    util::internal_error("" + name_ + " takes " + std::to_string(binding_count_) +
                         " buffers, got " + std::to_string(views.size()));
  const auto& info = device_.info();
  std::vector<uint64_t> key;
  key.reserve(views.size() * 3);
  for (size_t b = 0; b < views.size(); ++b) {
    const BufferView& v = views[b];
    if (!v.buffer || !v.buffer->handle()) util::internal_error(name_ + " bound an empty buffer");
    const bool ubo = binding_types_[b] == VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER;
    const uint64_t align =
        ubo ? info.min_uniform_buffer_offset_alignment : info.min_storage_buffer_offset_alignment;
    const uint64_t range = ubo ? info.max_uniform_buffer_range : info.max_storage_buffer_range;
    if (v.offset % align != 0 || v.size == 0 || v.size > range ||
        v.offset + v.size > v.buffer->capacity())
      util::internal_error(name_ + " binds " + v.buffer->name() + " at offset " +
                           std::to_string(v.offset) + ", size " + std::to_string(v.size) +
                           ": misaligned, empty, or beyond the " + (ubo ? "uniform" : "storage") +
                           " buffer range (" + std::to_string(range) + ")");
    key.insert(key.end(), {v.buffer->id(), v.offset, v.size});
  }
  if (auto it = sets_.find(key); it != sets_.end()) return it->second.set;

  if (sets_.size() >= prune_at_) {
    prune(*views[0].buffer->allocator());
    prune_at_ = std::max(kPruneAt, 2 * sets_.size());
  }
  const CachedSet cached = allocate_set();
  const VkDescriptorSet set = cached.set;
  std::vector<VkDescriptorBufferInfo> infos(views.size());
  std::vector<VkWriteDescriptorSet> writes(views.size());
  for (uint32_t b = 0; b < views.size(); ++b) {
    infos[b] = {views[b].buffer->handle(), views[b].offset, views[b].size};
    writes[b] = {VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET};
    writes[b].dstSet = set;
    writes[b].dstBinding = b;
    writes[b].descriptorCount = 1;
    writes[b].descriptorType = binding_types_[b];
    writes[b].pBufferInfo = &infos[b];
  }
  vkUpdateDescriptorSets(device_.handle(), static_cast<uint32_t>(writes.size()), writes.data(), 0,
                         nullptr);
  sets_.emplace(std::move(key), cached);
  return set;
}

}  // namespace bcvk::vk
