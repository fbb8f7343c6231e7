// Host <-> device copies.  On UMA devices (integrated GPUs, lavapipe) device buffers are mapped
// and these are memcpy; elsewhere they go through a staging buffer in bounded chunks.
#pragma once

#include <cstddef>
#include <span>

#include "runtime/vk/memory.h"

namespace bcvk::vk {

void upload(Allocator& allocator, const Buffer& dst, VkDeviceSize dst_offset,
            std::span<const std::byte> src);
void download(Allocator& allocator, const Buffer& src, VkDeviceSize src_offset,
              std::span<std::byte> dst);

template <class T>
void upload(Allocator& allocator, const Buffer& dst, std::span<const T> src) {
  upload(allocator, dst, 0, std::as_bytes(src));
}
template <class T>
void download(Allocator& allocator, const Buffer& src, std::span<T> dst) {
  download(allocator, src, 0, std::as_writable_bytes(dst));
}

}  // namespace bcvk::vk
