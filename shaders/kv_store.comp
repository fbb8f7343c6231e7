#version 450
// kv_store: writes T rows of K or V (f32, [T, width], already rotated) into an f16 KV cache at
// a word offset, two values per 32-bit word (packHalf2x16), as attention.comp with KV_F16 reads
// them.  One invocation per pair.  Dispatch: runtime/ops/kv_store.cpp.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer X { vec2 x[]; };
layout(std430, binding = 1) writeonly buffer Cache { uint cache[]; };

layout(push_constant) uniform Push {
  uint pairs;        // T * width / 2
  uint word_offset;  // first word written: row pos0 of the cache
} pc;

void main() {
  const uint i = gl_GlobalInvocationID.x;
  if (i >= pc.pairs) return;
  cache[pc.word_offset + i] = packHalf2x16(x[i]);
}
