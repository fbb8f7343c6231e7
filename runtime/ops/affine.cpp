#include "runtime/ops/affine.h"

#include "runtime/util/check.h"
#include "runtime/vk/error.h"

namespace bcvk::ops {

void affine(vk::Context& ctx, vk::Stream& stream, const AffineArgs& a) {
  const vk::BufferView &x = a.x, &y = a.y;
  const uint32_t count = a.count;
  const AffineConfig& config = a.config;
  if (count == 0) return;
  if (x.size < count * 4ull || y.size < count * 4ull)
    util::internal_error("affine views hold fewer than count floats");
  const uint32_t wg =
      config.workgroup_size ? config.workgroup_size : ctx.tuning().elementwise_workgroup;
  const uint32_t items = std::max(config.items_per_invocation, 1u);
  vk::Kernel& kernel = ctx.kernel("affine", {{0, wg}, {1, items}}, sizeof(AffinePush));
  const uint64_t per_group = uint64_t(wg) * items;
  const uint64_t groups = (count + per_group - 1) / per_group;
  if (groups > ctx.tuning().max_groups_x)
    util::internal_error("affine over " + std::to_string(count) + " elements needs " +
                         std::to_string(groups) + " groups; raise items_per_invocation");
  stream.dispatch(
      kernel, {x.buffer->view(x.offset, count * 4ull), y.buffer->view(y.offset, count * 4ull)},
      AffinePush{count, a.scale, a.shift}, {static_cast<uint32_t>(groups), 1, 1}, "affine");
}

}  // namespace bcvk::ops
