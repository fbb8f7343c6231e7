#version 450
// linear_tiled: the prefill form of linear (many tokens): Y[t, y_offset + o] (+)= sum_i W[o, i] X[t, i].
// A workgroup computes a tile of kTileT tokens x kTileN rows.  It walks K in steps of kTileK,
// staging the X and W slices in shared memory transposed to [k][token] and [k][row], so each
// invocation's inner loop reads consecutive addresses across neighbouring invocations and
// keeps a kMicroT x kMicroN block of accumulators in registers: every loaded value feeds
// kMicroN (or kMicroT) FMAs instead of one.  Same buffers and push constants as linear.comp.
// Dispatch: runtime/ops/linear.cpp.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0) in;                  // = (kTileN / kMicroN) * (kTileT / kMicroT)
layout(constant_id = 1) const uint kTileN = 64;  // rows per workgroup
layout(constant_id = 2) const uint kTileT = 32;  // tokens per workgroup
layout(constant_id = 3) const uint kTileK = 16;  // K step (a multiple of 4)
layout(constant_id = 4) const uint kMicroN = 8;  // rows per invocation
layout(constant_id = 5) const uint kMicroT = 4;  // tokens per invocation

layout(std430, binding = 0) readonly buffer W { WEIGHT_VEC4 w4[]; };
layout(std430, binding = 1) readonly buffer X { vec4 x4[]; };
layout(std430, binding = 2) buffer Y { float y[]; };

layout(push_constant) uniform Push {
  uint K, N, T, x_stride, y_stride, y_offset, accumulate;
} pc;

shared float xs[kTileK * kTileT];  // [k][token]
shared float ws[kTileK * kTileN];  // [k][row]

void main() {
  const uint lid = gl_LocalInvocationID.x;
  const uint WG = gl_WorkGroupSize.x;
  const uint lanes_n = kTileN / kMicroN;
  // Rows of an invocation are lane_n + lanes_n * j: neighbours read neighbouring ws entries.
  const uint lane_n = lid % lanes_n, lane_t = lid / lanes_n;
  const uint row0 = gl_WorkGroupID.x * kTileN, tok0 = gl_WorkGroupID.y * kTileT;
  const uint K4 = pc.K / 4, k4_tile = kTileK / 4;

  float acc[kMicroT * kMicroN];
  for (uint a = 0; a < kMicroT * kMicroN; ++a) acc[a] = 0.0;

  for (uint kb = 0; kb < K4; kb += k4_tile) {
    // Stage: each vec4 of X or W covers 4 consecutive k; out-of-range entries load zeros.
    for (uint e = lid; e < kTileT * k4_tile; e += WG) {
      const uint t = e / k4_tile, k4 = e % k4_tile;
      const uint tok = tok0 + t, kk = kb + k4;
      const vec4 v = (tok < pc.T && kk < K4) ? x4[tok * (pc.x_stride / 4) + kk] : vec4(0.0);
      for (uint c = 0; c < 4; ++c) xs[(k4 * 4 + c) * kTileT + t] = v[c];
    }
    for (uint e = lid; e < kTileN * k4_tile; e += WG) {
      const uint r = e / k4_tile, k4 = e % k4_tile;
      const uint row = row0 + r, kk = kb + k4;
      const vec4 v = (row < pc.N && kk < K4) ? vec4(w4[row * K4 + kk]) : vec4(0.0);
      for (uint c = 0; c < 4; ++c) ws[(k4 * 4 + c) * kTileN + r] = v[c];
    }
    barrier();
    for (uint k = 0; k < kTileK; ++k) {
      float wr[kMicroN];
      for (uint j = 0; j < kMicroN; ++j) wr[j] = ws[k * kTileN + lane_n + lanes_n * j];
      for (uint i = 0; i < kMicroT; ++i) {
        const float xv = xs[k * kTileT + lane_t * kMicroT + i];
        for (uint j = 0; j < kMicroN; ++j) acc[i * kMicroN + j] = fma(xv, wr[j], acc[i * kMicroN + j]);
      }
    }
    barrier();
  }

  for (uint i = 0; i < kMicroT; ++i) {
    const uint tok = tok0 + lane_t * kMicroT + i;
    if (tok >= pc.T) break;
    for (uint j = 0; j < kMicroN; ++j) {
      const uint row = row0 + lane_n + lanes_n * j;
      if (row >= pc.N) break;
      const uint idx = tok * pc.y_stride + pc.y_offset + row;
      y[idx] = (pc.accumulate != 0 ? y[idx] : 0.0) + acc[i * kMicroN + j];
    }
  }
}
