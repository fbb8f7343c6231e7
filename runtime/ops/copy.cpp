#include "runtime/ops/copy.h"

#include <algorithm>

#include "runtime/util/check.h"
#include "runtime/vk/error.h"

namespace bcvk::ops {

namespace {
// Enough groups to fill any device; more only adds per-group overhead (large on CPU devices).
constexpr uint64_t kMaxGroups = 512;
}  // namespace

void copy(vk::Context& ctx, vk::Stream& stream, const CopyArgs& a, std::string_view label) {
  const vk::BufferView &src = a.src, &dst = a.dst;
  const uint32_t xor_key = a.xor_key;
  const vk::DeviceTuning& t = ctx.tuning();
  if (src.size != dst.size) util::internal_error("copy between views of different sizes");
  if (src.offset % t.binding_alignment || dst.offset % t.binding_alignment)
    util::internal_error("copy views must start at a multiple of " +
                         std::to_string(t.binding_alignment) + " bytes");
  const uint32_t wg = t.elementwise_workgroup;
  vk::Kernel& kernel = ctx.kernel("copy", {{0, wg}}, sizeof(CopyPush));
  for (uint64_t done = 0; done < src.size; done += t.max_binding_bytes) {
    const uint64_t bytes = std::min<uint64_t>(t.max_binding_bytes, src.size - done);
    const uint32_t tail_bytes = bytes % 4;
    const CopyPush push{static_cast<uint32_t>((bytes + 3) / 4), xor_key,
                        tail_bytes ? (1u << (8 * tail_bytes)) - 1 : 0xffffffffu};
    // The shader reads 16-byte units; buffers are allocated in whole units (Buffer::capacity).
    const uint64_t bound = (bytes + 15) / 16 * 16;
    const uint64_t units = bound / 16;
    const uint32_t groups = static_cast<uint32_t>(std::clamp<uint64_t>(
        (units + wg - 1) / wg, 1, std::min<uint64_t>(kMaxGroups, t.max_groups_x)));
    stream.dispatch(
        kernel,
        {src.buffer->view(src.offset + done, bound), dst.buffer->view(dst.offset + done, bound)},
        push, {groups, 1, 1}, label);
  }
}

}  // namespace bcvk::ops
