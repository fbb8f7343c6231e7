#include "runtime/ops/silu_mul.h"

#include "runtime/ops/dispatch.h"
#include "runtime/util/check.h"

namespace bcvk::ops {

void silu_mul(vk::Context& ctx, vk::Stream& s, const SiluMulArgs& a) {
  const uint32_t wg = ctx.tuning().elementwise_workgroup;
  const uint32_t width = a.width ? a.width : a.count;
  const uint32_t in_stride = a.in_stride ? a.in_stride : width;
  if (a.count == 0 || a.count % width || in_stride < width)
    util::internal_error("silu_mul: " + std::to_string(a.count) + " outputs in rows of " +
                         std::to_string(width) + " with a stride of " + std::to_string(in_stride));
  vk::Kernel& k = ctx.kernel("silu_mul", {{0, wg}}, sizeof(SiluMulPush));
  s.dispatch(k, {a.g, a.u, a.h}, SiluMulPush{a.count, width, in_stride, a.u_offset},
             {groups_for(a.count, wg, ctx), 1, 1}, "silu_mul");
}

}  // namespace bcvk::ops
