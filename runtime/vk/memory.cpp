#include "runtime/vk/memory.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "runtime/util/check.h"
#include "runtime/vk/error.h"

namespace bcvk::vk {

namespace {

VkDeviceSize align_up(VkDeviceSize v, VkDeviceSize a) {
  return (v + a - 1) / a * a;
}

std::atomic<uint64_t> next_buffer_id{1};

}  // namespace

std::string format_bytes(uint64_t bytes) {
  char buf[32];
  if (bytes >= (1ull << 30))
    std::snprintf(buf, sizeof buf, "%.2f GiB", bytes / double(1ull << 30));
  else if (bytes >= (1ull << 20))
    std::snprintf(buf, sizeof buf, "%.1f MiB", bytes / double(1ull << 20));
  else if (bytes >= (1ull << 10))
    std::snprintf(buf, sizeof buf, "%.1f KiB", bytes / 1024.0);
  else
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
  return buf;
}

AllocatorOptions AllocatorOptions::from_environment() {
  AllocatorOptions o;
  const char* v = std::getenv("BCVK_FORCE_STAGING");
  o.force_staging = v && *v && std::strcmp(v, "0") != 0;
  return o;
}

Allocator::Allocator(const Device& device, AllocatorOptions options)
    : device_(device),
      options_(options),
      heap_reserved_(device.memory_properties().memoryHeapCount, 0) {}

Allocator::~Allocator() {
  for (Block& b : blocks_)
    if (b.memory) release_memory(b.memory, b.size, b.type, b.mapped != nullptr);
}

bool Allocator::device_memory_mapped() const {
  if (options_.force_staging) return false;
  const auto& mp = device_.memory_properties();
  const uint32_t t = choose_type(~0u, MemoryUse::kDevice);
  return (mp.memoryTypes[t].propertyFlags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT) != 0;
}

uint32_t Allocator::choose_type(uint32_t type_bits, MemoryUse use) const {
  const auto& mp = device_.memory_properties();
  const bool uma = device_.info().unified_memory;
  VkMemoryPropertyFlags required = 0, preferred = 0, avoided = 0;
  switch (use) {
    case MemoryUse::kDevice:
      required = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT;
      if (uma)
        preferred = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
      else
        avoided = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT;  // keep the BAR window for staging
      break;
    case MemoryUse::kUpload:
      required = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
      if (!uma) avoided = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT;
      break;
    case MemoryUse::kReadback:
      required = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
      preferred = VK_MEMORY_PROPERTY_HOST_CACHED_BIT;
      break;
  }
  for (int relax = 0; relax < 2; ++relax) {
    int best = -1, best_score = -1000;
    for (uint32_t t = 0; t < mp.memoryTypeCount; ++t) {
      if (!(type_bits & (1u << t))) continue;
      const VkMemoryPropertyFlags f = mp.memoryTypes[t].propertyFlags;
      if ((f & required) != required) continue;
      const int score = __builtin_popcount(f & preferred) * 2 - __builtin_popcount(f & avoided);
      if (score > best_score) best = static_cast<int>(t), best_score = score;
    }
    if (best >= 0) return static_cast<uint32_t>(best);
    // A device whose tensors cannot live in device-local memory still runs, slower.
    if (use != MemoryUse::kDevice) break;
    required = 0;
  }
  throw Error("device " + device_.info().name +
                  " has no host-visible, host-coherent memory type "
                  "for staging",
              VK_ERROR_FEATURE_NOT_PRESENT);
}

VkDeviceMemory Allocator::allocate_memory(VkDeviceSize size, uint32_t type, std::string_view what,
                                          std::byte** mapped) {
  const auto& mp = device_.memory_properties();
  const uint32_t heap = mp.memoryTypes[type].heapIndex;
  const uint64_t heap_size = mp.memoryHeaps[heap].size;
  const auto& info = device_.info();
  if (size > info.max_memory_allocation_size)
    throw Error("cannot allocate " + format_bytes(size) + " for " + std::string(what) + " on " +
                    info.name + ": larger than the device's largest allocation (" +
                    format_bytes(info.max_memory_allocation_size) + ")",
                VK_ERROR_OUT_OF_DEVICE_MEMORY);
  // Checked here, before the driver: some drivers (lavapipe among them) overcommit and fail
  // much later, or take the host down with them.
  if (heap_reserved_[heap] + size > heap_size)
    throw Error("out of device memory: cannot allocate " + format_bytes(size) + " for " +
                    std::string(what) + " on " + info.name + ": memory heap " +
                    std::to_string(heap) + " holds " + format_bytes(heap_size) + " and " +
                    format_bytes(heap_reserved_[heap]) +
                    " are in use. Try f16 weights, a shorter context, or another device.",
                VK_ERROR_OUT_OF_DEVICE_MEMORY);

  VkMemoryAllocateInfo ai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
  ai.allocationSize = size;
  ai.memoryTypeIndex = type;
  VkDeviceMemory memory = VK_NULL_HANDLE;
  const VkResult r = vkAllocateMemory(device_.handle(), &ai, nullptr, &memory);
  if (r == VK_ERROR_OUT_OF_DEVICE_MEMORY || r == VK_ERROR_OUT_OF_HOST_MEMORY)
    throw Error("out of device memory: the driver refused " + format_bytes(size) + " for " +
                    std::string(what) + " on " + info.name + " (" + result_name(r) + ")",
                r);
  BCVK_VK_CHECK(r);
  *mapped = nullptr;
  if (mp.memoryTypes[type].propertyFlags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT) {
    void* p = nullptr;
    const VkResult mr = vkMapMemory(device_.handle(), memory, 0, VK_WHOLE_SIZE, 0, &p);
    if (mr != VK_SUCCESS) {
      vkFreeMemory(device_.handle(), memory, nullptr);
      BCVK_VK_CHECK(mr);
    }
    *mapped = static_cast<std::byte*>(p);
  }
  heap_reserved_[heap] += size;
  stats_.bytes_reserved += size;
  stats_.peak_bytes_reserved = std::max(stats_.peak_bytes_reserved, stats_.bytes_reserved);
  ++stats_.device_memory_objects;
  return memory;
}

void Allocator::release_memory(VkDeviceMemory memory, VkDeviceSize size, uint32_t type,
                               bool mapped) {
  if (mapped) vkUnmapMemory(device_.handle(), memory);
  vkFreeMemory(device_.handle(), memory, nullptr);
  heap_reserved_[device_.memory_properties().memoryTypes[type].heapIndex] -= size;
  stats_.bytes_reserved -= size;
  --stats_.device_memory_objects;
}

void Allocator::account(int64_t delta) {
  stats_.bytes_in_use += delta;
  stats_.peak_bytes_in_use = std::max(stats_.peak_bytes_in_use, stats_.bytes_in_use);
}

void Allocator::reset_peak() {
  stats_.peak_bytes_in_use = stats_.bytes_in_use;
  stats_.peak_bytes_reserved = stats_.bytes_reserved;
}

uint32_t Allocator::add_block(Block block) {
  for (uint32_t bi = 0; bi < blocks_.size(); ++bi) {
    if (!blocks_[bi].memory) {
      blocks_[bi] = std::move(block);
      return bi;
    }
  }
  blocks_.push_back(std::move(block));
  return static_cast<uint32_t>(blocks_.size() - 1);
}

Allocation Allocator::allocate(const VkMemoryRequirements& req, MemoryUse use,
                               std::string_view what) {
  const uint32_t type = choose_type(req.memoryTypeBits, use);
  const bool hide_mapping = use == MemoryUse::kDevice && options_.force_staging;
  Allocation a;
  a.heap = device_.memory_properties().memoryTypes[type].heapIndex;
  a.size = req.size;

  if (req.size >= options_.block_size / 2) {  // large tensors get their own memory object
    std::byte* mapped = nullptr;
    a.memory = allocate_memory(req.size, type, what, &mapped);
    a.mapped = hide_mapping ? nullptr : mapped;
    a.offset = 0;
    a.block = add_block(Block{a.memory, req.size, type, mapped, true, {}});
    account(static_cast<int64_t>(req.size));
    return a;
  }

  const VkDeviceSize align = std::max<VkDeviceSize>(req.alignment, 16);
  for (int attempt = 0; attempt < 2; ++attempt) {
    for (uint32_t bi = 0; bi < blocks_.size(); ++bi) {
      Block& b = blocks_[bi];
      if (!b.memory || b.type != type || b.free.empty()) continue;
      for (auto it = b.free.begin(); it != b.free.end(); ++it) {
        const VkDeviceSize start = align_up(it->first, align);
        const VkDeviceSize end = it->first + it->second;
        if (start + req.size > end) continue;
        const VkDeviceSize free_off = it->first;
        b.free.erase(it);
        if (start > free_off) b.free[free_off] = start - free_off;
        if (start + req.size < end) b.free[start + req.size] = end - (start + req.size);
        a.memory = b.memory;
        a.offset = start;
        a.block = bi;
        a.mapped = (b.mapped && !hide_mapping) ? b.mapped + start : nullptr;
        account(static_cast<int64_t>(req.size));
        return a;
      }
    }
    if (attempt == 0) {
      Block nb;
      nb.size = options_.block_size;
      nb.type = type;
      nb.memory = allocate_memory(nb.size, type, what, &nb.mapped);
      nb.free[0] = nb.size;
      add_block(std::move(nb));
    }
  }
  util::internal_error("a fresh memory block could not hold " + format_bytes(req.size));
}

void Allocator::free(const Allocation& a) {
  if (!a.memory || a.block >= blocks_.size()) return;
  Block& b = blocks_[a.block];
  account(-static_cast<int64_t>(a.size));
  if (b.dedicated) {
    release_memory(b.memory, b.size, b.type, b.mapped != nullptr);
    b = Block{};
    return;
  }
  VkDeviceSize off = a.offset, size = a.size;
  // Coalesce with the free neighbours on both sides.
  auto next = b.free.lower_bound(off);
  if (next != b.free.end() && off + size == next->first) {
    size += next->second;
    next = b.free.erase(next);
  }
  if (next != b.free.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second == off) {
      off = prev->first;
      size += prev->second;
      b.free.erase(prev);
    }
  }
  b.free[off] = size;
  if (off == 0 && size == b.size) {  // empty: give it back
    release_memory(b.memory, b.size, b.type, b.mapped != nullptr);
    b = Block{};
  }
}

Buffer::Buffer(Allocator& allocator, VkDeviceSize size, MemoryUse use, std::string_view name)
    : allocator_(&allocator),
      size_(size),
      capacity_(align_up(std::max<VkDeviceSize>(size, 1), 16)),
      id_(next_buffer_id++),
      name_(name) {
  const auto& info = allocator.device().info();
  if (capacity_ > info.max_buffer_size)
    throw Error("cannot create " + name_ + " of " + format_bytes(size) + " on " + info.name +
                    ": larger than the device's largest buffer (" +
                    format_bytes(info.max_buffer_size) + ")",
                VK_ERROR_OUT_OF_DEVICE_MEMORY);
  VkBufferCreateInfo ci{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
  ci.size = capacity_;
  ci.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
  switch (use) {
    case MemoryUse::kDevice:
      // Uniform too: kernels may read small, uniformly indexed data (a decode step's input
      // vector) through a uniform buffer, which CPU devices load far faster.
      ci.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_UNIFORM_BUFFER_BIT |
                 VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
      break;
    case MemoryUse::kUpload:
      ci.usage = VK_BUFFER_USAGE_TRANSFER_SRC_BIT;
      break;
    case MemoryUse::kReadback:
      ci.usage = VK_BUFFER_USAGE_TRANSFER_DST_BIT;
      break;
  }
  const VkDevice dev = allocator.device().handle();
  BCVK_VK_CHECK(vkCreateBuffer(dev, &ci, nullptr, &buffer_));
  try {
    VkMemoryRequirements req{};
    vkGetBufferMemoryRequirements(dev, buffer_, &req);
    allocation_ = allocator.allocate(req, use, name_);
    BCVK_VK_CHECK(vkBindBufferMemory(dev, buffer_, allocation_.memory, allocation_.offset));
    allocator.live_buffers_.insert(id_);
  } catch (...) {
    if (allocation_.memory) allocator.free(allocation_);
    vkDestroyBuffer(dev, buffer_, nullptr);
    throw;
  }
}

Buffer::~Buffer() {
  reset();
}

void Buffer::reset() {
  if (buffer_) {
    allocator_->live_buffers_.erase(id_);
    vkDestroyBuffer(allocator_->device().handle(), buffer_, nullptr);
  }
  if (allocation_.memory) allocator_->free(allocation_);
  buffer_ = VK_NULL_HANDLE;
  allocation_ = {};
}

Buffer::Buffer(Buffer&& o) noexcept {
  *this = std::move(o);
}

Buffer& Buffer::operator=(Buffer&& o) noexcept {
  if (this != &o) {
    reset();
    allocator_ = o.allocator_;
    buffer_ = std::exchange(o.buffer_, VK_NULL_HANDLE);
    allocation_ = std::exchange(o.allocation_, Allocation{});
    size_ = o.size_;
    capacity_ = o.capacity_;
    id_ = o.id_;
    name_ = std::move(o.name_);
  }
  return *this;
}

BufferView Buffer::view(VkDeviceSize offset, VkDeviceSize size) const {
  if (offset > capacity_ || size > capacity_ - offset)
    util::internal_error("view [" + std::to_string(offset) + ", +" + std::to_string(size) +
                         ") outside " + name_ + " of " + std::to_string(capacity_) + " bytes");
  return {this, offset, size};
}

}  // namespace bcvk::vk
