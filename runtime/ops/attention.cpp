#include "runtime/ops/attention.h"

#include <algorithm>

#include "runtime/util/check.h"
#include "runtime/vk/error.h"

namespace bcvk::ops {

void attention(vk::Context& ctx, vk::Stream& s, const AttentionArgs& a) {
  if (a.head_dim > 256 || a.head_dim % 2)
    throw std::invalid_argument("attention: head size " + std::to_string(a.head_dim) +
                                " is not an even size up to 256");
  // Shared memory holds WG * (head_dim + 2) floats; pick the widest group that fits.  CPU devices
  // run a workgroup's invocations a SIMD vector at a time, so a wider group only adds vectors
  // that reload Q and more partial states to merge: one vector (llvmpipe: 8 lanes, measured 2x
  // faster decode attention than 32 at a 70-token context, docs/PERFORMANCE.md).
  const auto& info = ctx.info();
  uint32_t wg = a.workgroup                                ? a.workgroup
                : info.type == VK_PHYSICAL_DEVICE_TYPE_CPU ? std::clamp(info.subgroup_size, 4u, 32u)
                                                           : 32u;
  while (wg > 1 && uint64_t(wg) * (a.head_dim + 2) * 4 > info.max_shared_memory) wg /= 2;
  const uint32_t q_stride = a.q_stride ? a.q_stride : a.n_heads * a.head_dim;
  if (q_stride < a.n_heads * a.head_dim)
    util::internal_error("attention: a query stride shorter than the heads");
  vk::Kernel& k = ctx.kernel(a.kv == KvType::kF16 ? "attention_kv_f16" : "attention",
                             {{0, wg}, {1, a.head_dim}}, sizeof(AttentionPush));
  s.dispatch(k, {a.q, a.k_cache, a.v_cache, a.out, a.token_info},
             AttentionPush{a.n_heads, a.n_kv_heads, a.pos0, a.scale, q_stride}, {a.n_heads, a.T, 1},
             "attention");
}

}  // namespace bcvk::ops
