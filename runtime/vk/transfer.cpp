#include "runtime/vk/transfer.h"

#include <algorithm>
#include <cstring>

#include "runtime/util/check.h"
#include "runtime/vk/error.h"
#include "runtime/vk/stream.h"

namespace bcvk::vk {

namespace {

// Staging memory is bounded: a 300 MiB tensor moves in 32 MiB pieces.
constexpr VkDeviceSize kStagingChunk = 32ull << 20;

void check_range(const Buffer& b, VkDeviceSize offset, size_t size, const char* what) {
  if (offset > b.capacity() || size > b.capacity() - offset)
    util::internal_error(std::string(what) + " of " + std::to_string(size) + " bytes at offset " +
                         std::to_string(offset) + " overruns " + b.name());
}

}  // namespace

void upload(Allocator& allocator, const Buffer& dst, VkDeviceSize dst_offset,
            std::span<const std::byte> src) {
  check_range(dst, dst_offset, src.size(), "upload");
  if (src.empty()) return;
  if (dst.mapped()) {
    std::memcpy(dst.mapped() + dst_offset, src.data(), src.size());  // coherent memory: no flush
    return;
  }
  const VkDeviceSize chunk = std::min<VkDeviceSize>(kStagingChunk, src.size());
  Buffer staging(allocator, chunk, MemoryUse::kUpload, "upload staging");
  Stream stream(allocator.device());
  for (VkDeviceSize done = 0; done < src.size(); done += chunk) {
    const VkDeviceSize n = std::min<VkDeviceSize>(chunk, src.size() - done);
    std::memcpy(staging.mapped(), src.data() + done, n);
    stream.copy(staging.view(0, n), dst.view(dst_offset + done, n));
    stream.submit_and_wait();
  }
}

void download(Allocator& allocator, const Buffer& src, VkDeviceSize src_offset,
              std::span<std::byte> dst) {
  check_range(src, src_offset, dst.size(), "download");
  if (dst.empty()) return;
  if (src.mapped()) {
    std::memcpy(dst.data(), src.mapped() + src_offset, dst.size());
    return;
  }
  const VkDeviceSize chunk = std::min<VkDeviceSize>(kStagingChunk, dst.size());
  Buffer staging(allocator, chunk, MemoryUse::kReadback, "download staging");
  Stream stream(allocator.device());
  for (VkDeviceSize done = 0; done < dst.size(); done += chunk) {
    const VkDeviceSize n = std::min<VkDeviceSize>(chunk, dst.size() - done);
    stream.copy(src.view(src_offset + done, n), staging.view(0, n));
    stream.submit_and_wait();
    std::memcpy(dst.data() + done, staging.mapped(), n);
  }
}

}  // namespace bcvk::vk
