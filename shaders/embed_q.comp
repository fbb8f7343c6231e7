#version 450
// embed_q: Y[t, :] = E[ids[t], :] with E in a GGUF type (one WTYPE_* macro per variant; row
// layout in quant.glsl): the token-embedding gather reading quantized rows.  One invocation per
// unit of 32 output values.  Dispatch: runtime/ops/embed.cpp.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer E { uint wq[]; };
layout(std430, binding = 1) readonly buffer Ids { uint ids[]; };
layout(std430, binding = 2) writeonly buffer Y { vec4 y4[]; };

layout(push_constant) uniform Push {
  uint D;          // embedding width (a multiple of 32)
  uint T;          // tokens
  uint V;          // vocabulary size: ids past it write zeros instead of reading out of bounds
  uint row_words;  // 32-bit words per row of E
  uint row0;       // E holds rows row0 .. row0 + rows - 1 (tables larger than one binding are
  uint rows;       // gathered in row chunks, one dispatch each)
} pc;

#include "quant.glsl"

void main() {
  const uint units = pc.D / 32;
  const uint i = gl_GlobalInvocationID.x;
  if (i >= units * pc.T) return;
  const uint t = i / units, u = i % units;
  const uint id = ids[t];
  vec4 w[8];
  if (id < pc.V) {
    if (id < pc.row0 || id - pc.row0 >= pc.rows) return;  // another chunk's row
    decode_unit((id - pc.row0) * pc.row_words, u, units / kUnitsPerBlock, w);
  } else {
    if (pc.row0 != 0) return;  // the first chunk writes the zeros
    for (uint k = 0; k < 8; ++k) w[k] = vec4(0.0);
  }
  for (uint k = 0; k < 8; ++k) y4[(t * pc.D) / 4 + u * 8 + k] = w[k];
}
