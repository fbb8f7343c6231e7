#include "runtime/ops/elementwise.h"

#include <algorithm>
#include <numeric>

#include "runtime/vk/error.h"

namespace bcvk::ops {

namespace {
uint32_t groups_for(uint64_t n, uint32_t wg, const vk::Context& ctx) {
  const uint64_t g = (n + wg - 1) / wg;
  if (g > ctx.tuning().max_groups_x)
    throw vk::Error("internal error: dispatch of " + std::to_string(g) + " groups");
  return static_cast<uint32_t>(std::max<uint64_t>(g, 1));
}
// Reductions over a row use a power-of-two workgroup (the tree reduction halves it).
constexpr uint32_t kRowWorkgroup = 64;
}  // namespace

void embed(vk::Context& ctx, vk::Stream& s, vk::BufferView table, WeightType type, uint32_t V,
           uint32_t D, vk::BufferView ids, uint32_t T, vk::BufferView y) {
  const uint32_t wg = ctx.tuning().elementwise_workgroup;
  const bool block = is_block_type(type);
  if (block && (D % 32 || !holds_row(type, D)))
    throw vk::Error("internal error: embed: " + std::string(weight_type_name(type)) +
                    " cannot hold rows of " + std::to_string(D));
  const uint64_t row_bytes = device_row_bytes(type, D);
  if (table.size < uint64_t(V) * row_bytes)
    throw vk::Error("internal error: embed table view too small");
  // Rows per dispatch: as many as one binding holds, starting at aligned offsets.
  const uint64_t align = ctx.tuning().binding_alignment;
  const uint64_t step = align / std::gcd<uint64_t>(row_bytes, align);
  const uint64_t chunk = ctx.tuning().max_binding_bytes / row_bytes / step * step;
  if (chunk == 0)
    throw vk::Error("embed: one row of " + std::to_string(row_bytes) + " bytes exceeds a binding");
  vk::Kernel& k = block ? ctx.kernel("embed_q_" + std::string(weight_type_name(type)), {{0, wg}},
                                     sizeof(EmbedQPush))
                        : ctx.kernel(type == WeightType::kF16 ? "embed_f16" : "embed_f32",
                                     {{0, wg}}, sizeof(EmbedPush));
  // Block types: one invocation per unit of 32 values of a row; f32/f16: one per value.
  const uint32_t groups = groups_for(uint64_t(block ? D / 32 : D) * T, wg, ctx);
  for (uint64_t r0 = 0; r0 < std::max<uint64_t>(V, 1); r0 += chunk) {
    const auto n = static_cast<uint32_t>(std::min<uint64_t>(chunk, V - r0));
    const uint64_t begin = table.offset + r0 * row_bytes;
    const uint64_t bytes = std::min((n * row_bytes + 15) / 16 * 16, table.buffer->size() - begin);
    const vk::BufferView tv = table.buffer->view(begin, std::max<uint64_t>(bytes, 4));
    const auto row0 = static_cast<uint32_t>(r0);
    if (block)
      s.dispatch(k, {tv, ids, y},
                 EmbedQPush{D, T, V, static_cast<uint32_t>(row_bytes / 4), row0, n}, {groups, 1, 1},
                 "embed");
    else
      s.dispatch(k, {tv, ids, y}, EmbedPush{D, T, V, row0, n}, {groups, 1, 1}, "embed");
  }
}

void rms_norm(vk::Context& ctx, vk::Stream& s, vk::BufferView x, vk::BufferView gain,
              vk::BufferView y, uint32_t D, uint32_t T, float eps, uint32_t x_offset) {
  vk::Kernel& k = ctx.kernel("rms_norm", {{0, kRowWorkgroup}}, sizeof(RmsNormPush));
  s.dispatch(k, {x, gain, y}, RmsNormPush{D, D, D, eps, x_offset}, {T, 1, 1}, "rms_norm");
}

void rope(vk::Context& ctx, vk::Stream& s, vk::BufferView x, vk::BufferView table,
          vk::BufferView token_info, const RopePush& p) {
  const uint32_t wg = ctx.tuning().elementwise_workgroup;
  vk::Kernel& k = ctx.kernel("rope", {{0, wg}}, sizeof(RopePush));
  s.dispatch(k, {x, table, token_info}, p,
             {groups_for(uint64_t(p.T) * p.n_heads * (p.rope_dims / 2), wg, ctx), 1, 1}, "rope");
}

void attention(vk::Context& ctx, vk::Stream& s, vk::BufferView q, vk::BufferView k_cache,
               vk::BufferView v_cache, vk::BufferView out, vk::BufferView token_info, uint32_t T,
               uint32_t head_dim, const AttentionPush& p, KvType kv) {
  if (head_dim > 256 || head_dim % 2)
    throw vk::Error("attention: head size " + std::to_string(head_dim) +
                    " is not an even size up to 256");
  // Shared memory holds WG * (head_dim + 2) floats; pick the widest group that fits.
  uint32_t wg = 32;
  while (wg > 1 && uint64_t(wg) * (head_dim + 2) * 4 > ctx.info().max_shared_memory) wg /= 2;
  vk::Kernel& k = ctx.kernel(kv == KvType::kF16 ? "attention_kv_f16" : "attention",
                             {{0, wg}, {1, head_dim}}, sizeof(AttentionPush));
  s.dispatch(k, {q, k_cache, v_cache, out, token_info}, p, {p.n_heads, T, 1}, "attention");
}

void silu_mul(vk::Context& ctx, vk::Stream& s, vk::BufferView g, vk::BufferView u, vk::BufferView h,
              uint32_t count) {
  const uint32_t wg = ctx.tuning().elementwise_workgroup;
  vk::Kernel& k = ctx.kernel("silu_mul", {{0, wg}}, sizeof(SiluMulPush));
  s.dispatch(k, {g, u, h}, SiluMulPush{count}, {groups_for(count, wg, ctx), 1, 1}, "silu_mul");
}

void argmax(vk::Context& ctx, vk::Stream& s, vk::BufferView logits, vk::BufferView result,
            uint32_t n, uint32_t rows, uint32_t stride) {
  vk::Kernel& k = ctx.kernel("argmax", {{0, kRowWorkgroup}}, sizeof(ArgmaxPush));
  s.dispatch(k, {logits, result}, ArgmaxPush{n, stride}, {rows, 1, 1}, "argmax");
}

}  // namespace bcvk::ops
