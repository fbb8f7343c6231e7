// attention: causal grouped-query attention of T query tokens over a KV cache, online softmax.
// Shader: shaders/attention.comp.  Test: tests/ops/attention_test.cpp.
#pragma once

#include <cstdint>

#include "runtime/ops/kv_store.h"
#include "runtime/vk/context.h"
#include "runtime/vk/stream.h"

namespace bcvk::ops {

// Mirrors `Push` in shaders/attention.comp.
struct AttentionPush {
  uint32_t n_heads, n_kv_heads, pos0;
  float scale;
  uint32_t q_stride;
};
static_assert(sizeof(AttentionPush) == 20);

// out[t] = softmax(q[t] K[f..pos0+t]^T * scale) V[f..pos0+t] per head, f = token_info[t].first.
struct AttentionArgs {
  vk::BufferView q;  // [T, q_stride] rotated, n_heads * head_dim used per token
  vk::BufferView k_cache, v_cache;
  vk::BufferView out;         // [T, n_heads * head_dim]
  vk::BufferView token_info;  // (position, first key row) per token
  uint32_t T = 0, head_dim = 0, n_heads = 0, n_kv_heads = 0, pos0 = 0;
  float scale = 1.0f;
  KvType kv = KvType::kF32;  // f32 values, or f16 pairs as ops::kv_store writes them
  uint32_t q_stride = 0;     // floats between tokens in q; 0: n_heads * head_dim
  uint32_t workgroup = 0;    // invocations per (token, head); 0: the device's default
};
void attention(vk::Context& ctx, vk::Stream& s, const AttentionArgs& a);

}  // namespace bcvk::ops
