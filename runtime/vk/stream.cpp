#include "runtime/vk/stream.h"

#include "runtime/util/check.h"
#include "runtime/vk/error.h"

namespace bcvk::vk {

Stream::Stream(const Device& device, bool profile, uint32_t max_timed) : device_(device) {
  const VkDevice dev = device.handle();
  try {
    VkCommandPoolCreateInfo pi{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
    pi.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
    pi.queueFamilyIndex = device.queue_family();
    BCVK_VK_CHECK(vkCreateCommandPool(dev, &pi, nullptr, &pool_));
    VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
    ai.commandPool = pool_;
    ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    ai.commandBufferCount = 1;
    BCVK_VK_CHECK(vkAllocateCommandBuffers(dev, &ai, &cmd_));
    VkFenceCreateInfo fi{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    BCVK_VK_CHECK(vkCreateFence(dev, &fi, nullptr, &fence_));
    if (profile) {
      if (device.info().timestamp_valid_bits == 0)
        throw Error("profiling: " + device.info().name +
                    " cannot time compute work (no timestamps)");
      VkQueryPoolCreateInfo qi{VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO};
      qi.queryType = VK_QUERY_TYPE_TIMESTAMP;
      qi.queryCount = 2 * max_timed;
      BCVK_VK_CHECK(vkCreateQueryPool(dev, &qi, nullptr, &query_pool_));
      max_timed_ = max_timed;
    }
  } catch (...) {
    release();
    throw;
  }
}

Stream::~Stream() {
  release();
}

void Stream::release() noexcept {
  const VkDevice dev = device_.handle();
  // An abandoned recording (an exception unwound past it) is freed with the pool, never ended:
  // buffers it refers to may already be gone.
  recording_ = false;
  if (query_pool_) vkDestroyQueryPool(dev, query_pool_, nullptr);
  if (fence_) vkDestroyFence(dev, fence_, nullptr);
  if (pool_) vkDestroyCommandPool(dev, pool_, nullptr);
  query_pool_ = VK_NULL_HANDLE;
  fence_ = VK_NULL_HANDLE;
  pool_ = VK_NULL_HANDLE;
}

void Stream::begin_if_needed() {
  if (recording_) return;
  BCVK_VK_CHECK(vkResetCommandBuffer(cmd_, 0));
  VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
  BCVK_VK_CHECK(vkBeginCommandBuffer(cmd_, &bi));
  if (query_pool_) vkCmdResetQueryPool(cmd_, query_pool_, 0, 2 * max_timed_);
  recording_ = true;
  commands_ = 0;
  untimed_ = 0;
  labels_.clear();
}

void Stream::dispatch(Kernel& kernel, std::span<const BufferView> views, const void* push,
                      uint32_t push_size, Groups groups, std::string_view label) {
  if (push_size != kernel.push_constant_size())
    util::internal_error("" + kernel.name() + " expects " +
                         std::to_string(kernel.push_constant_size()) +
                         " bytes of push constants, got " + std::to_string(push_size));
  const auto& lim = device_.info().max_workgroup_count;
  if (groups.x == 0 || groups.y == 0 || groups.z == 0 || groups.x > lim[0] || groups.y > lim[1] ||
      groups.z > lim[2])
    util::internal_error("" + kernel.name() + " dispatch of " + std::to_string(groups.x) + "x" +
                         std::to_string(groups.y) + "x" + std::to_string(groups.z) +
                         " groups is empty or exceeds the device's maxComputeWorkGroupCount");
  const VkDescriptorSet set = kernel.descriptor_set(views);
  begin_if_needed();
  vkCmdBindPipeline(cmd_, VK_PIPELINE_BIND_POINT_COMPUTE, kernel.pipeline());
  vkCmdBindDescriptorSets(cmd_, VK_PIPELINE_BIND_POINT_COMPUTE, kernel.layout(), 0, 1, &set, 0,
                          nullptr);
  if (push_size)
    vkCmdPushConstants(cmd_, kernel.layout(), VK_SHADER_STAGE_COMPUTE_BIT, 0, push_size, push);
  const bool timed = query_pool_ && labels_.size() < max_timed_;
  const uint32_t q = static_cast<uint32_t>(labels_.size()) * 2;
  // COMPUTE_SHADER stage: the first stamp lands after earlier compute work, so a dispatch's
  // interval does not include its predecessors.
  if (timed) vkCmdWriteTimestamp(cmd_, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, query_pool_, q);
  vkCmdDispatch(cmd_, groups.x, groups.y, groups.z);
  if (timed) {
    vkCmdWriteTimestamp(cmd_, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, query_pool_, q + 1);
    labels_.emplace_back(label.empty() ? kernel.name() : std::string(label));
  } else if (query_pool_) {
    ++untimed_;
  }
  ++commands_;
}

VkCommandBuffer Stream::begin_external(std::string_view label) {
  begin_if_needed();
  pending_external_label_ = std::string(label);
  external_timed_ = query_pool_ && labels_.size() < max_timed_;
  if (external_timed_) {
    vkCmdWriteTimestamp(cmd_, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, query_pool_,
                        static_cast<uint32_t>(labels_.size()) * 2);
  } else if (query_pool_) {
    ++untimed_;
  }
  return cmd_;
}

void Stream::end_external() {
  if (external_timed_) {
    vkCmdWriteTimestamp(cmd_, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, query_pool_,
                        static_cast<uint32_t>(labels_.size()) * 2 + 1);
    labels_.emplace_back(pending_external_label_);
  }
  external_timed_ = false;
  ++commands_;
}

void Stream::barrier() {
  begin_if_needed();
  VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
  mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT |
                     VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
  const VkPipelineStageFlags stages =
      VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;
  vkCmdPipelineBarrier(cmd_, stages, stages, 0, 1, &mb, 0, nullptr, 0, nullptr);
}

void Stream::copy(BufferView src, BufferView dst) {
  if (src.size != dst.size || !src.buffer || !dst.buffer)
    util::internal_error("copy between views of different sizes");
  if (src.size == 0) return;
  begin_if_needed();
  VkBufferCopy region{src.offset, dst.offset, src.size};
  vkCmdCopyBuffer(cmd_, src.buffer->handle(), dst.buffer->handle(), 1, &region);
  ++commands_;
}

void Stream::submit_and_wait() {
  timings_.clear();
  if (!recording_) return;
  recording_ = false;
  // Device writes become visible to host reads after the fence (mapped outputs, staging).
  VkMemoryBarrier to_host{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  to_host.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
  to_host.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
  vkCmdPipelineBarrier(cmd_, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                       VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &to_host, 0, nullptr, 0, nullptr);
  BCVK_VK_CHECK(vkEndCommandBuffer(cmd_));
  const VkDevice dev = device_.handle();
  VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
  si.commandBufferCount = 1;
  si.pCommandBuffers = &cmd_;
  BCVK_VK_CHECK(vkResetFences(dev, 1, &fence_));
  BCVK_VK_CHECK(vkQueueSubmit(device_.queue(), 1, &si, fence_));
  BCVK_VK_CHECK(vkWaitForFences(dev, 1, &fence_, VK_TRUE, UINT64_MAX));

  if (query_pool_ && !labels_.empty()) {
    std::vector<uint64_t> ticks(labels_.size() * 2);
    BCVK_VK_CHECK(vkGetQueryPoolResults(
        dev, query_pool_, 0, static_cast<uint32_t>(ticks.size()), ticks.size() * sizeof(uint64_t),
        ticks.data(), sizeof(uint64_t), VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT));
    const uint32_t bits = device_.info().timestamp_valid_bits;
    const uint64_t mask = bits >= 64 ? ~0ull : ((1ull << bits) - 1);
    const double period = device_.info().timestamp_period_ns;
    timings_.reserve(labels_.size());
    for (size_t i = 0; i < labels_.size(); ++i) {
      timings_.push_back({std::move(labels_[i]),
                          static_cast<uint64_t>((ticks[2 * i] & mask) * period),
                          static_cast<uint64_t>((ticks[2 * i + 1] & mask) * period)});
    }
    labels_.clear();
  }
}

}  // namespace bcvk::vk
