#include "runtime/ops/silu_mul.h"

#include "runtime/ops/dispatch.h"

namespace bcvk::ops {

void silu_mul(vk::Context& ctx, vk::Stream& s, const SiluMulArgs& a) {
  const uint32_t wg = ctx.tuning().elementwise_workgroup;
  vk::Kernel& k = ctx.kernel("silu_mul", {{0, wg}}, sizeof(SiluMulPush));
  s.dispatch(k, {a.g, a.u, a.h}, SiluMulPush{a.count}, {groups_for(a.count, wg, ctx), 1, 1},
             "silu_mul");
}

}  // namespace bcvk::ops
