#version 450
// argmax: the index of the largest logit of each row (lowest index on ties), one workgroup per
// row.  Dispatch: runtime/ops/argmax.cpp.
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer L { float logits[]; };
layout(std430, binding = 1) writeonly buffer R { uint result[]; };

layout(push_constant) uniform Push {
  uint n;       // row length
  uint stride;  // floats between rows
} pc;

shared float s_v[gl_WorkGroupSize.x];
shared uint s_i[gl_WorkGroupSize.x];

void main() {
  const uint row = gl_WorkGroupID.x;
  const uint lid = gl_LocalInvocationID.x;
  const uint WG = gl_WorkGroupSize.x;
  float best = -1.0 / 0.0;
  uint best_i = 0xffffffffu;
  for (uint i = lid; i < pc.n; i += WG) {
    const float v = logits[row * pc.stride + i];
    if (v > best || best_i == 0xffffffffu) { best = v; best_i = i; }
  }
  s_v[lid] = best;
  s_i[lid] = best_i;
  barrier();
  for (uint s = WG / 2; s > 0; s /= 2) {
    if (lid < s) {
      const float v = s_v[lid + s];
      const uint i = s_i[lid + s];
      if (i != 0xffffffffu && (v > s_v[lid] || (v == s_v[lid] && i < s_i[lid]) || s_i[lid] == 0xffffffffu)) {
        s_v[lid] = v;
        s_i[lid] = i;
      }
    }
    barrier();
  }
  if (lid == 0) result[row] = s_i[0];
}
