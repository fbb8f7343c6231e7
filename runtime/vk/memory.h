// Device memory: a sub-allocator over large VkDeviceMemory blocks, and the buffers on top.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "runtime/vk/device.h"

namespace bcvk::vk {

enum class MemoryUse {
  kDevice,    // tensors: device-local; also mapped when the device is UMA
  kUpload,    // staging for host -> device copies
  kReadback,  // staging for device -> host copies (host-cached where possible)
};

struct Allocation {
  VkDeviceMemory memory = VK_NULL_HANDLE;
  VkDeviceSize offset = 0;
  VkDeviceSize size = 0;
  std::byte* mapped = nullptr;  // host address of `offset`, or nullptr when not host-visible
  uint32_t block = UINT32_MAX;  // index into the allocator's blocks
  uint32_t heap = 0;
};

struct MemoryStats {
  uint64_t bytes_in_use = 0;  // sum of live allocations
  uint64_t peak_bytes_in_use = 0;
  uint64_t bytes_reserved = 0;  // sum of live VkDeviceMemory objects
  uint64_t peak_bytes_reserved = 0;
  uint64_t device_memory_objects = 0;
};

struct AllocatorOptions {
  // 16 MiB: what a block leaves unused counts as device memory too; measured with the default
  // model, 64 MiB blocks reserved 256 MiB for 201 MiB in use (docs/PERFORMANCE.md).
  VkDeviceSize block_size = 16ull << 20;
  // Keep device buffers unmapped even on UMA devices, so the staging path used on discrete
  // GPUs can be exercised anywhere.  Also set by BCVK_FORCE_STAGING=1.
  bool force_staging = false;
  static AllocatorOptions from_environment();
};

class Allocator {
 public:
  explicit Allocator(const Device& device,
                     AllocatorOptions options = AllocatorOptions::from_environment());
  ~Allocator();
  Allocator(const Allocator&) = delete;
  Allocator& operator=(const Allocator&) = delete;

  // `what` names the allocation in errors ("blk.3.ffn_up.weight", "KV cache").
  Allocation allocate(const VkMemoryRequirements& req, MemoryUse use, std::string_view what);
  void free(const Allocation& allocation);

  const Device& device() const { return device_; }
  MemoryStats stats() const { return stats_; }
  void reset_peak();
  // True when kDevice allocations are host-mapped, so uploads need no staging copy.
  bool device_memory_mapped() const;
  // True while the Buffer with this id (made on this allocator) exists: Kernel drops cached
  // descriptor sets of buffers that are gone.
  bool buffer_alive(uint64_t id) const { return live_buffers_.count(id) > 0; }

 private:
  friend class Buffer;
  struct Block {
    VkDeviceMemory memory = VK_NULL_HANDLE;
    VkDeviceSize size = 0;
    uint32_t type = 0;
    std::byte* mapped = nullptr;
    bool dedicated = false;                     // holds exactly one large allocation
    std::map<VkDeviceSize, VkDeviceSize> free;  // offset -> size, coalesced
  };

  uint32_t add_block(Block block);  // reuses an empty slot so live indices stay valid

  uint32_t choose_type(uint32_t type_bits, MemoryUse use) const;
  VkDeviceMemory allocate_memory(VkDeviceSize size, uint32_t type, std::string_view what,
                                 std::byte** mapped);
  void release_memory(VkDeviceMemory memory, VkDeviceSize size, uint32_t type, bool mapped);
  void account(int64_t in_use_delta);

  const Device& device_;
  AllocatorOptions options_;
  std::vector<Block> blocks_;
  std::vector<uint64_t> heap_reserved_;
  MemoryStats stats_;
  std::unordered_set<uint64_t> live_buffers_;
};

class Buffer;

// A non-owning window onto a buffer: what a kernel binding or a copy refers to.
struct BufferView {
  const Buffer* buffer = nullptr;
  VkDeviceSize offset = 0;
  VkDeviceSize size = 0;
};

// A VkBuffer with its own sub-allocation.  Move-only; destroys both on destruction.
class Buffer {
 public:
  Buffer() = default;
  Buffer(Allocator& allocator, VkDeviceSize size, MemoryUse use = MemoryUse::kDevice,
         std::string_view name = "buffer");
  ~Buffer();
  Buffer(Buffer&& other) noexcept;
  Buffer& operator=(Buffer&& other) noexcept;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  VkBuffer handle() const { return buffer_; }
  // The size asked for.  The buffer itself is rounded up to 16 bytes so word-wise kernels may
  // touch the last partial word.
  VkDeviceSize size() const { return size_; }
  VkDeviceSize capacity() const { return capacity_; }
  std::byte* mapped() const { return allocation_.mapped; }
  // Unique for the life of the process (never reused, unlike VkBuffer handle values).
  uint64_t id() const { return id_; }
  const std::string& name() const { return name_; }
  Allocator* allocator() const { return allocator_; }

  BufferView view() const { return {this, 0, size_}; }
  BufferView view(VkDeviceSize offset, VkDeviceSize size) const;

 private:
  void reset();

  Allocator* allocator_ = nullptr;
  VkBuffer buffer_ = VK_NULL_HANDLE;
  Allocation allocation_;
  VkDeviceSize size_ = 0;
  VkDeviceSize capacity_ = 0;
  uint64_t id_ = 0;
  std::string name_;
};

std::string format_bytes(uint64_t bytes);  // "1.5 GiB", "300.0 MiB", "12 B"

}  // namespace bcvk::vk
