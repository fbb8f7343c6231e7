#include "runtime/ops/linear.h"

#include <algorithm>
#include <numeric>

#include "runtime/vk/error.h"

namespace bcvk::ops {

namespace {

struct LinearShape {
  uint32_t workgroup, rows, tokens;
};

// Per-device choice: one subgroup per workgroup when subgroups can reduce (lavapipe: 8 lanes),
// four rows per workgroup; up to 8 tokens share each weight load in prefill.
LinearShape shape_for(const vk::PhysicalDeviceInfo& info, uint32_t T) {
  LinearShape s;
  s.workgroup = info.subgroup_arithmetic ? std::clamp(info.subgroup_size, 8u, 64u) : 64u;
  s.rows = 4;
  s.tokens = T >= 8 ? 8 : (T >= 4 ? 4 : 1);
  return s;
}

}  // namespace

void linear(vk::Context& ctx, vk::Stream& stream, const LinearArgs& a, std::string_view label) {
  if (a.K % 4 || a.x_stride % 4 || a.N == 0 || a.T == 0)
    throw vk::Error("internal error: linear needs K and x_stride to be multiples of 4");
  const uint64_t elem = a.type == WeightType::kF16 ? 2 : 4;
  if (a.w.size < uint64_t(a.N) * a.K * elem) throw vk::Error("internal error: linear weight view too small");
  const auto& info = ctx.info();
  const LinearShape s = shape_for(info, a.T);
  const bool sub = info.subgroup_arithmetic;
  const std::string shader = std::string(a.type == WeightType::kF16 ? "linear_f16" : "linear_f32") + (sub ? "" : "_shared");
  vk::Kernel& k = ctx.kernel(shader, {{0, s.workgroup}, {1, s.rows}, {2, s.tokens}}, sizeof(LinearPush));

  // Rows per dispatch: as many as one binding holds, a multiple of the row block, and starting at
  // offsets that satisfy the device's storage-buffer alignment.
  const uint64_t row_bytes = uint64_t(a.K) * elem;
  const uint64_t align_rows = ctx.tuning().binding_alignment / std::gcd<uint64_t>(row_bytes, ctx.tuning().binding_alignment);
  const uint64_t step = std::lcm<uint64_t>(align_rows, s.rows);
  uint64_t chunk = ctx.tuning().max_binding_bytes / row_bytes / step * step;
  if (chunk == 0) throw vk::Error("linear: one weight row of " + std::to_string(row_bytes) + " bytes exceeds a binding");
  const vk::BufferView xv = a.x.buffer->view(a.x.offset, a.x.size);
  const vk::BufferView yv = a.y.buffer->view(a.y.offset, a.y.size);
  for (uint64_t r0 = 0; r0 < a.N; r0 += chunk) {
    const uint32_t n = static_cast<uint32_t>(std::min<uint64_t>(chunk, a.N - r0));
    const LinearPush push{a.K, n, a.T, a.x_stride, a.y_stride, static_cast<uint32_t>(a.y_offset + r0),
                          a.accumulate ? 1u : 0u};
    const vk::BufferView wv = a.w.buffer->view(a.w.offset + r0 * row_bytes, (n * row_bytes + 15) / 16 * 16);
    const uint32_t gx = (n + s.rows - 1) / s.rows, gy = (a.T + s.tokens - 1) / s.tokens;
    stream.dispatch(k, {wv, xv, yv}, push, {gx, gy, 1}, label);
  }
}

}  // namespace bcvk::ops
