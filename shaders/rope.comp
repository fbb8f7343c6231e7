#version 450
// rope: rotates each head of Q or K in place by its token's position.  Pair i of a head is
// (x[2i], x[2i+1]) for GGUF weights (adjacent = 1) or (x[i], x[i + head_dim/2]) for Hugging Face
// weights (adjacent = 0); its angle's cos and sin come from a table [position][rope_dims/2]
// computed on the host in double precision.  Each token's position comes from TokenInfo (several
// prompts packed into one batch restart at 0).  Dispatch: runtime/ops/rope.cpp.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0) in;

layout(std430, binding = 0) buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer Table { vec2 cos_sin[]; };
layout(std430, binding = 2) readonly buffer TokenInfo { uvec2 info[]; };  // (position, first key row)

layout(push_constant) uniform Push {
  uint T;          // tokens
  uint n_heads;
  uint head_dim;
  uint rope_dims;  // rotated dimensions per head (<= head_dim)
  uint stride;     // floats between tokens
  uint offset;     // first float of token 0
  uint adjacent;
} pc;

void main() {
  const uint half_dims = pc.rope_dims / 2;
  const uint i = gl_GlobalInvocationID.x;  // (token, head, pair)
  if (i >= pc.T * pc.n_heads * half_dims) return;
  const uint p = i % half_dims;
  const uint h = (i / half_dims) % pc.n_heads;
  const uint t = i / (half_dims * pc.n_heads);
  const uint base = pc.offset + t * pc.stride + h * pc.head_dim;
  const uint a = base + (pc.adjacent != 0 ? 2 * p : p);
  const uint b = base + (pc.adjacent != 0 ? 2 * p + 1 : p + pc.head_dim / 2);
  const vec2 cs = cos_sin[info[t].x * half_dims + p];
  const float x0 = x[a], x1 = x[b];
  x[a] = x0 * cs.x - x1 * cs.y;
  x[b] = x0 * cs.y + x1 * cs.x;
}
