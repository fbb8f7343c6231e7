#version 450
// kv_store: writes T rows of K and of V (f32, [T, width], K already rotated) into the f16 KV
// cache at a word offset, two values per 32-bit word (pack_half2, half.glsl), as attention.comp with
// KV_F16 reads them.  One invocation per pair, K and V together (one dispatch, not two: on
// lavapipe a dispatch costs about as much as this work).  Dispatch: runtime/ops/kv_store.cpp.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "half.glsl"

layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer K { vec2 k[]; };
layout(std430, binding = 1) readonly buffer V { vec2 v[]; };
layout(std430, binding = 2) writeonly buffer KCache { uint k_cache[]; };
layout(std430, binding = 3) writeonly buffer VCache { uint v_cache[]; };

layout(push_constant) uniform Push {
  uint pairs;        // T * width / 2
  uint word_offset;  // first word written: row pos0 of the cache
} pc;

void main() {
  const uint i = gl_GlobalInvocationID.x;
  if (i >= pc.pairs) return;
  k_cache[pc.word_offset + i] = pack_half2(k[i]);
  v_cache[pc.word_offset + i] = pack_half2(v[i]);
}
