// The small ops of the transformer, each a thin dispatch of its shader:
//   embed     shaders/embed.comp      tests/ops/embed_test.cpp
//   rms_norm  shaders/rms_norm.comp   tests/ops/rms_norm_test.cpp
//   rope      shaders/rope.comp       tests/ops/rope_test.cpp
//   attention shaders/attention.comp  tests/ops/attention_test.cpp
//   silu_mul  shaders/silu_mul.comp   tests/ops/silu_mul_test.cpp
//   argmax    shaders/argmax.comp     tests/ops/silu_mul_test.cpp (ArgmaxPicksTheFirstLargest)
#pragma once

#include <cstdint>

#include "runtime/ops/kv_store.h"
#include "runtime/ops/linear.h"
#include "runtime/vk/context.h"
#include "runtime/vk/stream.h"

namespace bcvk::ops {

struct EmbedPush {
  uint32_t D, T, V, row0, rows;
};
static_assert(sizeof(EmbedPush) == 20);
// Mirrors `Push` in shaders/embed_q.comp (block types).
struct EmbedQPush {
  uint32_t D, T, V, row_words, row0, rows;
};
static_assert(sizeof(EmbedQPush) == 24);
// y[t, :] = table[ids[t], :]; ids are uint32, table is [V, D] in the device layout of `type`.
// Ids >= V give zero rows.  A table larger than one storage-buffer binding is gathered in row
// chunks, one dispatch each.
void embed(vk::Context& ctx, vk::Stream& s, vk::BufferView table, WeightType type, uint32_t V,
           uint32_t D, vk::BufferView ids, uint32_t T, vk::BufferView y);

struct RmsNormPush {
  uint32_t D, x_stride, y_stride;
  float eps;
  uint32_t x_offset;
};
static_assert(sizeof(RmsNormPush) == 20);
// y[t] = x[x_offset / D + t] normalized, for T tokens.
void rms_norm(vk::Context& ctx, vk::Stream& s, vk::BufferView x, vk::BufferView gain,
              vk::BufferView y, uint32_t D, uint32_t T, float eps, uint32_t x_offset = 0);

struct RopePush {
  uint32_t T, n_heads, head_dim, rope_dims, stride, offset, adjacent;
};
static_assert(sizeof(RopePush) == 28);
// Rotates T tokens of n_heads heads in place; `table` holds (cos, sin) per [position][rope_dims/2];
// `token_info` holds (position, first key row) per token as uint pairs.
void rope(vk::Context& ctx, vk::Stream& s, vk::BufferView x, vk::BufferView table,
          vk::BufferView token_info, const RopePush& p);

struct AttentionPush {
  uint32_t n_heads, n_kv_heads, pos0;
  float scale;
};
static_assert(sizeof(AttentionPush) == 16);
// out[t] = softmax(q[t] K[f..pos0+t]^T * scale) V[f..pos0+t] per head, f = token_info[t].first.
// The cache holds f32 values or (kv = kF16) f16 pairs as ops::kv_store writes them.
void attention(vk::Context& ctx, vk::Stream& s, vk::BufferView q, vk::BufferView k_cache,
               vk::BufferView v_cache, vk::BufferView out, vk::BufferView token_info, uint32_t T,
               uint32_t head_dim, const AttentionPush& p, KvType kv = KvType::kF32);

struct SiluMulPush {
  uint32_t count;
};
static_assert(sizeof(SiluMulPush) == 4);
void silu_mul(vk::Context& ctx, vk::Stream& s, vk::BufferView g, vk::BufferView u, vk::BufferView h,
              uint32_t count);

struct ArgmaxPush {
  uint32_t n, stride;
};
static_assert(sizeof(ArgmaxPush) == 8);
// result[r] = argmax(logits[r, 0..n)) for `rows` rows (uint32 results).
void argmax(vk::Context& ctx, vk::Stream& s, vk::BufferView logits, vk::BufferView result,
            uint32_t n, uint32_t rows, uint32_t stride);

}  // namespace bcvk::ops
