#version 450
// kv_store: writes T rows of K and of V (f32 rows of `width`, K already rotated, read at a
// stride: a fused Q/K/V output) into the KV cache at a row offset: the f16 cache two values per
// 32-bit word (pack_half2, half.glsl) as attention.comp with KV_F16 reads them, the f32 cache
// (KV_F32) as they are.  One invocation per pair, K and V together (one dispatch, not two: on
// lavapipe a dispatch costs about as much as this work).  Dispatch: runtime/ops/kv_store.cpp.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "half.glsl"

layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer K { vec2 k[]; };
layout(std430, binding = 1) readonly buffer V { vec2 v[]; };
#ifdef KV_F32
layout(std430, binding = 2) writeonly buffer KCache { vec2 k_cache[]; };
layout(std430, binding = 3) writeonly buffer VCache { vec2 v_cache[]; };
#else
layout(std430, binding = 2) writeonly buffer KCache { uint k_cache[]; };
layout(std430, binding = 3) writeonly buffer VCache { uint v_cache[]; };
#endif

layout(push_constant) uniform Push {
  uint pairs;        // T * width / 2
  uint word_offset;  // first pair written: row pos0 of the cache
  uint row_pairs;    // width / 2
  uint src_stride;   // pairs between the rows of K and of V (a fused Q/K/V output: QKV width / 2)
  uint k_src;        // first pair of K in its binding
  uint v_src;        // first pair of V in its binding
} pc;

void main() {
  const uint i = gl_GlobalInvocationID.x;
  if (i >= pc.pairs) return;
  const uint j = (i / pc.row_pairs) * pc.src_stride + i % pc.row_pairs;
#ifdef KV_F32
  k_cache[pc.word_offset + i] = k[pc.k_src + j];
  v_cache[pc.word_offset + i] = v[pc.v_src + j];
#else
  k_cache[pc.word_offset + i] = pack_half2(k[pc.k_src + j]);
  v_cache[pc.word_offset + i] = pack_half2(v[pc.v_src + j]);
#endif
}
