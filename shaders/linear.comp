#version 450
// linear: Y[t, y_offset + o] (+)= sum_i W[o, i] * X[t, i] for a block of rows and tokens.
// W is [N, K] row-major (f32, or f16 with WEIGHT_F16); X is [T, x_stride]; Y is [T, y_stride].
// One workgroup computes kRows rows for kTokens tokens: each weight it loads is used kTokens
// times, which is what makes prefill (many tokens) faster per FLOP than decode (one token).
// Invocations stride over K; partial sums are reduced with subgroupAdd where the device has it
// (USE_SUBGROUPS), else through shared memory.  Dispatch: runtime/ops/linear.cpp.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint kRows = 4;
layout(constant_id = 2) const uint kTokens = 1;

layout(std430, binding = 0) readonly buffer W { WEIGHT_VEC4 w4[]; };
layout(std430, binding = 1) readonly buffer X { vec4 x4[]; };
layout(std430, binding = 2) buffer Y { float y[]; };

layout(push_constant) uniform Push {
  uint K;          // input features (a multiple of 4)
  uint N;          // output rows in this dispatch
  uint T;          // tokens
  uint x_stride;   // floats between tokens in X (a multiple of 4)
  uint y_stride;   // floats between tokens in Y
  uint y_offset;   // first output column in Y
  uint accumulate; // 1: Y += W X (residual connections), 0: Y = W X
} pc;

shared float partial[gl_WorkGroupSize.x];  // per subgroup (USE_SUBGROUPS) or per invocation

void main() {
  const uint row0 = gl_WorkGroupID.x * kRows;
  const uint tok0 = gl_WorkGroupID.y * kTokens;
  const uint lid = gl_LocalInvocationID.x;
  const uint WG = gl_WorkGroupSize.x;
  const uint K4 = pc.K / 4;

  float acc[kRows * kTokens];
  for (uint k = 0; k < kRows * kTokens; ++k) acc[k] = 0.0;

  for (uint i = lid; i < K4; i += WG) {
    vec4 xv[kTokens];
    for (uint t = 0; t < kTokens; ++t) {
      const uint tok = min(tok0 + t, pc.T - 1);  // clamp: rows past T are computed, not stored
      xv[t] = x4[tok * (pc.x_stride / 4) + i];
    }
    for (uint r = 0; r < kRows; ++r) {
      const uint row = min(row0 + r, pc.N - 1);
      const vec4 wv = vec4(w4[row * K4 + i]);
      for (uint t = 0; t < kTokens; ++t) acc[r * kTokens + t] += dot(wv, xv[t]);
    }
  }

  for (uint k = 0; k < kRows * kTokens; ++k) {
    const uint r = k / kTokens, t = k % kTokens;
    float s;
#ifdef USE_SUBGROUPS
    s = subgroupAdd(acc[k]);
    if (WG > gl_SubgroupSize) {  // several subgroups: combine their sums through shared memory
      if (gl_SubgroupInvocationID == 0) partial[gl_SubgroupID] = s;
      barrier();
      s = 0.0;
      if (lid == 0)
        for (uint g = 0; g < gl_NumSubgroups; ++g) s += partial[g];
      barrier();
    }
#else
    partial[lid] = acc[k];
    barrier();
    for (uint stride = WG / 2; stride > 0; stride /= 2) {
      if (lid < stride) partial[lid] += partial[lid + stride];
      barrier();
    }
    s = partial[0];
    barrier();
#endif
    const uint row = row0 + r, tok = tok0 + t;
    if (lid == 0 && row < pc.N && tok < pc.T) {
      const uint idx = tok * pc.y_stride + pc.y_offset + row;
      y[idx] = (pc.accumulate != 0 ? y[idx] : 0.0) + s;
    }
  }
}
