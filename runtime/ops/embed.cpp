#include "runtime/ops/embed.h"

#include <algorithm>
#include <numeric>

#include "runtime/ops/dispatch.h"
#include "runtime/util/check.h"
#include "runtime/vk/error.h"

namespace bcvk::ops {

void embed(vk::Context& ctx, vk::Stream& s, const EmbedArgs& a) {
  const uint32_t wg = ctx.tuning().elementwise_workgroup;
  const bool block = is_block_type(a.type);
  if (block && (a.D % 32 || !holds_row(a.type, a.D)))
    util::internal_error("embed: " + std::string(weight_type_name(a.type)) +
                         " cannot hold rows of " + std::to_string(a.D));
  const uint64_t row_bytes = device_row_bytes(a.type, a.D);
  if (a.table.size < uint64_t(a.V) * row_bytes) util::internal_error("embed table view too small");
  // Rows per dispatch: as many as one binding holds, starting at aligned offsets.
  const uint64_t align = ctx.tuning().binding_alignment;
  const uint64_t step = align / std::gcd<uint64_t>(row_bytes, align);
  const uint64_t chunk = ctx.tuning().max_binding_bytes / row_bytes / step * step;
  if (chunk == 0)
    throw vk::Error("embed: one row of " + std::to_string(row_bytes) + " bytes exceeds a binding");
  vk::Kernel& k = block ? ctx.kernel("embed_q_" + std::string(weight_type_name(a.type)), {{0, wg}},
                                     sizeof(EmbedQPush))
                        : ctx.kernel(a.type == WeightType::kF16 ? "embed_f16" : "embed_f32",
                                     {{0, wg}}, sizeof(EmbedPush));
  // Block types: one invocation per unit of 32 values of a row; f32/f16: one per value.
  const uint32_t groups = groups_for(uint64_t(block ? a.D / 32 : a.D) * a.T, wg, ctx);
  const vk::BufferView& table = a.table;
  for (uint64_t r0 = 0; r0 < std::max<uint64_t>(a.V, 1); r0 += chunk) {
    const auto n = static_cast<uint32_t>(std::min<uint64_t>(chunk, a.V - r0));
    const uint64_t begin = table.offset + r0 * row_bytes;
    const uint64_t bytes = std::min((n * row_bytes + 15) / 16 * 16, table.buffer->size() - begin);
    const vk::BufferView tv = table.buffer->view(begin, std::max<uint64_t>(bytes, 4));
    const auto row0 = static_cast<uint32_t>(r0);
    if (block)
      s.dispatch(k, {tv, a.ids, a.y},
                 EmbedQPush{a.D, a.T, a.V, static_cast<uint32_t>(row_bytes / 4), row0, n},
                 {groups, 1, 1}, "embed");
    else
      s.dispatch(k, {tv, a.ids, a.y}, EmbedPush{a.D, a.T, a.V, row0, n}, {groups, 1, 1}, "embed");
  }
}

}  // namespace bcvk::ops
