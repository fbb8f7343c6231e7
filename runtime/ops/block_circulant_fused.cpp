#include "runtime/ops/block_circulant_fused.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <string>

#include "loaders/half.h"
#include "runtime/util/check.h"
#include "runtime/vk/transfer.h"

namespace bcvk::ops {

const char* circulant_weights_name(CirculantWeights w) {
  switch (w) {
    case CirculantWeights::kF32:
      return "f32";
    case CirculantWeights::kF16:
      return "f16";
    case CirculantWeights::kQ8:
      return "q8";
  }
  return "?";
}

bool fused_shared_default(uint32_t T) {
  return T > 1;
}

bool fused_block_supported(uint32_t B) {
  return B >= 2 && B <= kFusedMaxBlock && std::has_single_bit(B);
}

namespace {

constexpr uint32_t kQ8Group = 32;  // values per scale

// Rows (and each row's scales) padded to 16 bytes: the kernel reads them in 16-byte words.
uint32_t q8_row_words(uint32_t row_values) {
  return (row_values + 15) / 16 * 4;
}
uint32_t q8_scale_words(uint32_t row_values) {
  return (row_values + 8 * kQ8Group - 1) / (8 * kQ8Group) * 4;
}

}  // namespace

std::vector<uint32_t> quantize_fused_q8(std::span<const float> values, uint32_t rows,
                                        uint32_t row_values) {
  if (values.size() != size_t(rows) * row_values)
    util::internal_error("quantize_fused_q8: values do not fill the rows");
  const uint32_t rw = q8_row_words(row_values), sw = q8_scale_words(row_values);
  std::vector<uint32_t> out(size_t(rows) * (rw + sw), 0);
  for (uint32_t r = 0; r < rows; ++r) {
    const float* v = values.data() + size_t(r) * row_values;
    uint32_t* bytes = out.data() + size_t(r) * rw;
    uint32_t* scales = out.data() + size_t(rows) * rw + size_t(r) * sw;
    for (uint32_t g0 = 0; g0 < row_values; g0 += kQ8Group) {
      const uint32_t g1 = std::min(row_values, g0 + kQ8Group);
      float amax = 0;
      for (uint32_t k = g0; k < g1; ++k) amax = std::max(amax, std::abs(v[k]));
      const uint16_t h = loaders::float_to_half(amax / 127.0f);
      const float d = loaders::half_to_float(h);
      const uint32_t g = g0 / kQ8Group;
      scales[g / 2] |= uint32_t(h) << (16 * (g % 2));
      for (uint32_t k = g0; k < g1; ++k) {
        const int q = d > 0 ? std::clamp(int(std::lround(v[k] / d)), -127, 127) : 0;
        bytes[k / 4] |= (uint32_t(q) & 0xffu) << (8 * (k % 4));
      }
    }
  }
  return out;
}

std::vector<float> dequantize_fused_q8(std::span<const uint32_t> words, uint32_t rows,
                                       uint32_t row_values) {
  const uint32_t rw = q8_row_words(row_values), sw = q8_scale_words(row_values);
  if (words.size() != size_t(rows) * (rw + sw))
    util::internal_error("dequantize_fused_q8: wrong word count");
  std::vector<float> out(size_t(rows) * row_values);
  for (uint32_t r = 0; r < rows; ++r)
    for (uint32_t k = 0; k < row_values; ++k) {
      const uint32_t g = k / kQ8Group;
      const uint32_t sword = words[size_t(rows) * rw + size_t(r) * sw + g / 2];
      const float d = loaders::half_to_float(uint16_t(sword >> (16 * (g % 2))));
      const int8_t q = int8_t(uint8_t(words[size_t(r) * rw + k / 4] >> (8 * (k % 4))));
      out[size_t(r) * row_values + k] = float(q) * d;
    }
  return out;
}

vk::Buffer upload_fused_weights(vk::Context& ctx, const compress::BlockCirculant& params,
                                CirculantWeights type) {
  if (!fused_block_supported(params.block))
    util::internal_error("the fused circulant kernel does not take B = " +
                         std::to_string(params.block));
  const std::vector<float> spectra = compress::packed_spectra(params);
  const uint32_t rows = params.row_blocks(), row_values = params.col_blocks() * params.block;
  std::vector<uint32_t> words;
  if (type == CirculantWeights::kQ8) {
    words = quantize_fused_q8(spectra, rows, row_values);
  } else {
    // Each row padded to 16 bytes (zeros), as the kernel reads it.
    const bool half = type == CirculantWeights::kF16;
    const uint32_t row_words = (half ? row_values / 2 : row_values);
    const uint32_t padded = (row_words + 3) / 4 * 4;
    words.assign(size_t(rows) * padded, 0);
    for (uint32_t r = 0; r < rows; ++r)
      for (uint32_t k = 0; k < row_values; ++k) {
        const float v = spectra[size_t(r) * row_values + k];
        uint32_t& w = words[size_t(r) * padded + (half ? k / 2 : k)];
        if (half)
          w |= uint32_t(loaders::float_to_half(v)) << (16 * (k % 2));
        else
          std::memcpy(&w, &v, 4);
      }
  }
  vk::Buffer b(ctx.allocator(), words.size() * 4, vk::MemoryUse::kDevice,
               "circulant packed spectra");
  vk::upload(ctx.allocator(), b, std::span<const uint32_t>(words));
  return b;
}

void block_circulant_fused(vk::Context& ctx, vk::Stream& s, const FusedCirculantArgs& a,
                           std::string_view label) {
  if (a.T == 0) return;
  if (!fused_block_supported(a.B) || a.m == 0 || a.n == 0)
    util::internal_error("block_circulant_fused: unsupported shape");
  const uint32_t p = (a.m + a.B - 1) / a.B, q = (a.n + a.B - 1) / a.B;
  if (a.x.size < (uint64_t(a.T - 1) * a.x_stride + a.n) * 4 ||
      a.y.size < (uint64_t(a.T - 1) * a.y_stride + a.y_offset + a.m) * 4)
    util::internal_error("block_circulant_fused: views too small");
  if (a.glu && (!a.w2.buffer || a.accumulate))
    util::internal_error("block_circulant_fused: glu needs the up weights and no accumulation");
  const auto& info = ctx.info();
  const bool cpu = info.type == VK_PHYSICAL_DEVICE_TYPE_CPU;
  const uint32_t simd = std::clamp(info.subgroup_size, 4u, 16u);
  uint32_t tokens = a.tokens;
  if (!tokens) {
    // Registers: kTokens * B accumulators (twice with glu) per lane.
    const uint32_t max_t = std::max(1u, 32u / a.B);
    tokens = 1;
    while (tokens * 2 <= std::min(a.T, max_t)) tokens *= 2;
  }
  using Transform = FusedCirculantArgs::Transform;
  // Shared transforms: kTokens * q * B floats of shared memory (tokens halved until they fit).
  bool shared = a.transform == Transform::kShared ||
                (a.transform == Transform::kAuto && fused_shared_default(a.T));
  while (shared && uint64_t(tokens) * q * a.B * 4 > info.max_shared_memory) {
    if (tokens == 1) {
      if (a.transform == Transform::kShared)
        util::internal_error("block_circulant_fused: the input's transforms exceed shared memory");
      shared = false;
    } else {
      tokens /= 2;
    }
  }
  // One SIMD vector of rows per workgroup on CPU devices (each lane a block row, as the
  // row-per-lane linear_q); with shared transforms, every row of the matrix in one workgroup
  // where they fit in 64 lanes (each workgroup repeats the transforms).  GPUs want wider groups.
  uint32_t wg = cpu ? simd : 64u;
  if (shared && cpu) wg = std::clamp((p + simd - 1) / simd * simd, simd, 64u);
  const uint64_t x_bytes = uint64_t(a.n) * 4;
  const bool uniform_x =
      !shared && a.T == 1 && a.n % 4 == 0 &&
      x_bytes <= std::min<uint64_t>(info.max_uniform_buffer_range, 65536) &&
      a.x.offset % std::max<uint64_t>(info.min_uniform_buffer_offset_alignment, 1) == 0;
  std::string name = "block_circulant_fused";
  if (a.glu) name += "_glu";
  if (a.type != CirculantWeights::kF32) name += std::string("_") + circulant_weights_name(a.type);
  if (uniform_x) name += "_ux";
  if (shared) name += "_sx";
  std::vector<vk::SpecConstant> spec = {
      {0, wg}, {1, a.B}, {2, uint32_t(std::countr_zero(a.B))}, {3, uniform_x ? 1u : tokens}};
  if (uniform_x) {
    // Unrolled over the input blocks (every X offset a constant) where the code stays small.
    const bool unroll = a.B <= 16 && q <= 512;
    spec.push_back({4, uint32_t(a.n / 4)});
    spec.push_back({5, unroll ? 1u : 0u});
    spec.push_back({6, unroll ? q : 1u});
    tokens = 1;
  }
  if (shared) spec.push_back({7, tokens * q * a.B});
  vk::Kernel& k = ctx.kernel(name, spec, sizeof(FusedCirculantPush));
  const FusedCirculantPush push{a.T,        a.m, a.n,        p,          q,
                                a.x_stride, 0,   a.y_stride, a.y_offset, a.accumulate ? 1u : 0u};
  const vk::BufferView xv = uniform_x ? a.x.buffer->view(a.x.offset, x_bytes) : a.x;
  const uint32_t gx = (p + wg - 1) / wg, gy = (a.T + tokens - 1) / tokens;
  if (a.glu)
    s.dispatch(k, {a.w, xv, a.y, a.w2}, push, {gx, gy, 1}, label);
  else
    s.dispatch(k, {a.w, xv, a.y}, push, {gx, gy, 1}, label);
}

}  // namespace bcvk::ops
