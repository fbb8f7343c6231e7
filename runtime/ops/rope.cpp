#include "runtime/ops/rope.h"

#include "runtime/ops/dispatch.h"

namespace bcvk::ops {

void rope(vk::Context& ctx, vk::Stream& s, const RopeArgs& a) {
  const uint32_t wg = ctx.tuning().elementwise_workgroup;
  vk::Kernel& k = ctx.kernel("rope", {{0, wg}}, sizeof(RopePush));
  const RopePush p{a.T,      a.n_heads, a.head_dim,          a.rope_dims,
                   a.stride, a.offset,  a.adjacent ? 1u : 0u};
  s.dispatch(k, {a.x, a.table, a.token_info}, p,
             {groups_for(uint64_t(a.T) * a.n_heads * (a.rope_dims / 2), wg, ctx), 1, 1}, "rope");
}

}  // namespace bcvk::ops
