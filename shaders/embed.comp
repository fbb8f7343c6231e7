#version 450
// embed: Y[t, :] = E[ids[t], :], the token-embedding gather.  E is [V, D] (f32, or f16 with
// WEIGHT_F16).  One invocation per output element.  Dispatch: runtime/ops/embed.cpp.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer E { WEIGHT_T e[]; };
layout(std430, binding = 1) readonly buffer Ids { uint ids[]; };
layout(std430, binding = 2) writeonly buffer Y { float y[]; };

layout(push_constant) uniform Push {
  uint D;  // embedding width
  uint T;  // tokens
  uint V;  // vocabulary size: ids past it write zeros instead of reading out of bounds
  uint row0;  // E holds rows row0 .. row0 + rows - 1 (tables larger than one binding are
  uint rows;  // gathered in row chunks, one dispatch each)
} pc;

void main() {
  const uint i = gl_GlobalInvocationID.x;
  if (i >= pc.D * pc.T) return;
  const uint t = i / pc.D, d = i % pc.D;
  const uint id = ids[t];
  if (id >= pc.V) {
    if (pc.row0 == 0) y[i] = 0.0;  // the first chunk writes the zeros
  } else if (id >= pc.row0 && id - pc.row0 < pc.rows) {
    y[i] = float(e[(id - pc.row0) * pc.D + d]);
  }
}
