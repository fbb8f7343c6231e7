#include "runtime/ops/linear.h"

#include <algorithm>
#include <numeric>

#include "runtime/util/check.h"
#include "runtime/vk/error.h"

namespace bcvk::ops {

namespace {
constexpr uint32_t kTiledK = 16;
constexpr uint32_t kTiledMinTokens = 8;
}  // namespace

// Per-device launch shape, from benchmarks/linear_benchmark on lavapipe (docs/PERFORMANCE.md):
// one subgroup per workgroup (lavapipe: 8 lanes), 16 rows, and up to 16 tokens sharing each
// weight load in prefill.  GPUs get fewer accumulators per invocation (register pressure);
// their numbers are unmeasured here.
LinearShape default_linear_shape(const vk::PhysicalDeviceInfo& info, uint32_t T) {
  LinearShape s;
  const bool cpu = info.type == VK_PHYSICAL_DEVICE_TYPE_CPU;
  s.workgroup = info.subgroup_arithmetic ? std::clamp(info.subgroup_size, 8u, 64u) : 64u;
  s.rows = cpu ? 16 : 4;
  const uint32_t max_tokens = cpu ? 16 : 8;
  s.tokens = 1;
  while (s.tokens * 2 <= std::min(T, max_tokens)) s.tokens *= 2;
  // Tiled form once enough tokens share each weight tile to pay for staging it -- on GPUs.  On
  // lavapipe the shared-memory staging and barriers cost more than they save: the tiled kernel
  // measured 0.26-0.86 GFLOP/s against 2.2 for the register-blocked matrix-vector form
  // (benchmarks/linear_benchmark, docs/PERFORMANCE.md).
  s.form = !cpu && T >= kTiledMinTokens ? LinearForm::kTiled : LinearForm::kMatVec;
  s.tile_n = 64;
  s.tile_t = 32;
  s.micro_n = 8;
  s.micro_t = 4;
  return s;
}

// Block types.  Decode (T = 1) on CPU devices: the row-per-lane form, whose factored dot
// product needs no decoded copy of the weights.  Several tokens: the register-blocked
// matrix-vector form, each decoded unit feeding `tokens` dot products and each loaded slice of X
// feeding `rows` rows; on lavapipe 16 rows x 8 tokens ran 2.3x faster than row-per-lane for a
// 64-token prefill (benchmarks/linear_benchmark, docs/PERFORMANCE.md).  GPUs: fewer
// accumulators per invocation (register pressure); unmeasured here.
LinearShape default_block_linear_shape(const vk::PhysicalDeviceInfo& info, uint32_t T) {
  LinearShape s = default_linear_shape(info, T);
  const bool cpu = info.type == VK_PHYSICAL_DEVICE_TYPE_CPU;
  s.form = cpu && T == 1 ? LinearForm::kRowPerLane : LinearForm::kMatVec;
  s.rows = cpu ? (T == 1 ? 8 : 16) : 4;
  const uint32_t max_tokens = cpu ? 8 : 4;
  s.tokens = 1;
  while (s.tokens * 2 <= std::min(T, max_tokens)) s.tokens *= 2;
  return s;
}

bool linear_glu_available(const vk::PhysicalDeviceInfo& info, WeightType type, uint32_t T) {
  return is_block_type(type) && default_block_linear_shape(info, T).form == LinearForm::kRowPerLane;
}

void linear(vk::Context& ctx, vk::Stream& stream, const LinearArgs& a, std::string_view label) {
  if (a.K % 4 || a.x_stride % 4 || a.N == 0 || a.T == 0)
    util::internal_error("linear needs K and x_stride to be multiples of 4");
  if (!holds_row(a.type, a.K))
    util::internal_error("linear: " + std::string(weight_type_name(a.type)) +
                         " cannot hold rows of " + std::to_string(a.K));
  const uint64_t row_bytes = device_row_bytes(a.type, a.K);
  const uint64_t w_rows = uint64_t(a.N) * (a.glu ? 2 : 1);
  if (a.w.size < w_rows * row_bytes) util::internal_error("linear weight view too small");
  const auto& info = ctx.info();
  LinearShape s = default_linear_shape(info, a.T);
  const bool block = is_block_type(a.type);
  if (block) s = default_block_linear_shape(info, a.T);
  const LinearShape& o = a.shape;
  if (o.workgroup) s.workgroup = o.workgroup;
  if (o.rows) s.rows = o.rows;
  if (o.tokens) s.tokens = o.tokens;
  if (o.form != LinearForm::kAuto) s.form = o.form;
  if (o.tile_n) s.tile_n = o.tile_n;
  if (o.tile_t) s.tile_t = o.tile_t;
  if (o.micro_n) s.micro_n = o.micro_n;
  if (o.micro_t) s.micro_t = o.micro_t;
  // Block types have the matrix-vector and row-per-lane forms (register-blocked over tokens).
  const bool tiled = s.form == LinearForm::kTiled && !block;
  const bool row_lane = block && s.form == LinearForm::kRowPerLane;
  const bool half = a.type == WeightType::kF16;
  const bool sub = info.subgroup_arithmetic;
  // One token's X through a uniform buffer (shaders/linear_q.comp, X_UNIFORM).
  const uint64_t x_bytes = uint64_t(a.K) * 4;
  const bool uniform_x =
      row_lane && a.T == 1 && o.x_binding != XBinding::kStorage &&
      x_bytes <= std::min<uint64_t>(info.max_uniform_buffer_range, 65536) &&
      a.x.offset % std::max<uint64_t>(info.min_uniform_buffer_offset_alignment, 1) == 0;
  if (o.x_binding == XBinding::kUniform && !uniform_x)
    util::internal_error("linear: X cannot be read through a uniform buffer here");
  if (a.glu && (!row_lane || w_rows * row_bytes > ctx.tuning().max_binding_bytes))
    util::internal_error("linear: glu needs the row-per-lane form and 2N rows in one binding");

  vk::Kernel* k = nullptr;
  uint32_t block_rows = s.rows, block_tokens = s.tokens;
  if (tiled) {
    if (s.tile_n % s.micro_n || s.tile_t % s.micro_t)
      util::internal_error("linear tile sizes must be multiples of the micro tile");
    const uint32_t wg = (s.tile_n / s.micro_n) * (s.tile_t / s.micro_t);
    k = &ctx.kernel(
        half ? "linear_tiled_f16" : "linear_tiled_f32",
        {{0, wg}, {1, s.tile_n}, {2, s.tile_t}, {3, kTiledK}, {4, s.micro_n}, {5, s.micro_t}},
        sizeof(LinearPush));
    block_rows = s.tile_n;
    block_tokens = s.tile_t;
  } else if (row_lane) {
    const std::string name =
        "linear_q_" + std::string(weight_type_name(a.type)) + (uniform_x ? "_rows_ux" : "_rows");
    std::vector<vk::SpecConstant> spec = {{0, s.workgroup}, {2, s.tokens}};
    if (uniform_x) {
      spec.push_back({3, static_cast<uint32_t>(a.K / 4)});
      spec.push_back({4, a.K <= kUnrolledXMaxK ? 1u : 0u});
    }
    if (a.glu) spec.push_back({5, a.N});
    k = &ctx.kernel(name, spec, sizeof(LinearQPush));
    block_rows = s.workgroup;
  } else if (block) {
    const std::string shader =
        "linear_q_" + std::string(weight_type_name(a.type)) + (sub ? "" : "_shared");
    k = &ctx.kernel(shader, {{0, s.workgroup}, {1, s.rows}, {2, s.tokens}}, sizeof(LinearQPush));
  } else {
    const std::string shader =
        std::string(half ? "linear_f16" : "linear_f32") + (sub ? "" : "_shared");
    k = &ctx.kernel(shader, {{0, s.workgroup}, {1, s.rows}, {2, s.tokens}}, sizeof(LinearPush));
  }

  // Rows per dispatch: as many as one binding holds, a multiple of the row block, and starting at
  // offsets that satisfy the device's storage-buffer alignment.
  const uint64_t align_rows = ctx.tuning().binding_alignment /
                              std::gcd<uint64_t>(row_bytes, ctx.tuning().binding_alignment);
  const uint64_t step = std::lcm<uint64_t>(align_rows, block_rows);
  uint64_t chunk = ctx.tuning().max_binding_bytes / row_bytes / step * step;
  if (a.glu) chunk = a.N;  // its 2N rows fit one binding (checked above)
  if (chunk == 0)
    throw vk::Error("linear: one weight row of " + std::to_string(row_bytes) +
                    " bytes exceeds a binding");
  const vk::BufferView xv = a.x.buffer->view(a.x.offset, uniform_x ? x_bytes : a.x.size);
  const vk::BufferView yv = a.y.buffer->view(a.y.offset, a.y.size);
  for (uint64_t r0 = 0; r0 < a.N; r0 += chunk) {
    const uint32_t n = static_cast<uint32_t>(std::min<uint64_t>(chunk, a.N - r0));
    const LinearPush push{a.K,
                          n,
                          a.T,
                          a.x_stride,
                          a.y_stride,
                          static_cast<uint32_t>(a.y_offset + r0),
                          a.accumulate ? 1u : 0u};
    const uint64_t begin = a.w.offset + r0 * row_bytes;
    const uint64_t rows = a.glu ? 2ull * n : n;  // glu: one chunk (checked above)
    const uint64_t bytes = std::min((rows * row_bytes + 15) / 16 * 16, a.w.buffer->size() - begin);
    const vk::BufferView wv = a.w.buffer->view(begin, bytes);
    const uint32_t gx = (n + block_rows - 1) / block_rows,
                   gy = (a.T + block_tokens - 1) / block_tokens;
    if (block)
      stream.dispatch(*k, {wv, xv, yv}, LinearQPush{push, static_cast<uint32_t>(row_bytes / 4)},
                      {gx, gy, 1}, label);
    else
      stream.dispatch(*k, {wv, xv, yv}, push, {gx, gy, 1}, label);
  }
}

}  // namespace bcvk::ops
