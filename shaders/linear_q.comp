#version 450
// linear_q: Y[t, y_offset + o] (+)= sum_i W[o, i] * X[t, i] with W in a GGUF type (one WTYPE_*
// macro per variant; row layout in quant.glsl), dequantized in registers, f32 accumulation.
// Like linear.comp, a workgroup computes kRows rows for kTokens tokens; its invocations stride
// over the row's units of 32 values, so each decoded unit feeds kTokens dot products and each
// loaded slice of X feeds kRows rows.  Dispatch: runtime/ops/linear.cpp.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint kRows = 4;
layout(constant_id = 2) const uint kTokens = 1;

layout(std430, binding = 0) readonly buffer W { uint wq[]; };
#ifdef X_UNIFORM
// One token's X in a uniform buffer (decode on CPU devices): llvmpipe gathers a uniform-buffer
// element lane by lane without a loop (once and broadcast when its offset is constant, see
// kUnrollUnits), while every storage-buffer load inside a loop becomes a per-lane loop.
layout(constant_id = 3) const uint kXVecs = 1;  // vec4s of X bound (K / 4)
layout(constant_id = 4) const bool kUnrollUnits = false;  // unroll the loop over units
layout(std140, binding = 1) uniform X { vec4 x4[kXVecs]; };
#else
layout(std430, binding = 1) readonly buffer X { vec4 x4[]; };
#endif
layout(std430, binding = 2) buffer Y { float y[]; };
#ifdef ROW_PER_LANE
// Non-zero: the gated MLP's first half in one dispatch, Y[o] = silu(W[o] X) * W[o + kGluRows] X
// (gate rows, then up rows), so X is read once for both and no silu_mul dispatch follows.
layout(constant_id = 5) const uint kGluRows = 0;
#endif

layout(push_constant) uniform Push {
  uint K;          // input features (a multiple of 32; of 256 for K-quants)
  uint N;          // output rows in this dispatch
  uint T;          // tokens
  uint x_stride;   // floats between tokens in X (a multiple of 4)
  uint y_stride;   // floats between tokens in Y
  uint y_offset;   // first output column in Y
  uint accumulate; // 1: Y += W X (residual connections), 0: Y = W X
  uint row_words;  // 32-bit words per row of W
} pc;

#include "quant.glsl"

shared float partial[gl_WorkGroupSize.x];

#ifdef ROW_PER_LANE
// The form for CPU devices (lavapipe): each invocation computes whole rows, so every invocation
// of a workgroup reads the same slice of X at the same time (with X_UNIFORM and the unrolled
// loop, one scalar load each); the weights, which differ per row anyway, are the only per-lane loads.  No cross-lane
// reduction.
void main() {
  const uint row = min(gl_GlobalInvocationID.x, pc.N - 1);  // all lanes active: X stays uniform
  const uint tok0 = gl_WorkGroupID.y * kTokens;
  const uint units = pc.K / 32;
  const uint blocks = units / kUnitsPerBlock;
  const uint rb = row * pc.row_words;
  const uint rb2 = (row + kGluRows) * pc.row_words;  // the up row when kGluRows != 0
  float acc[kTokens], acc2[kTokens];
  for (uint t = 0; t < kTokens; ++t) {
    acc[t] = 0.0;
    acc2[t] = 0.0;
  }
#if defined(X_UNIFORM) && defined(FUSED_DOT)
  // llvmpipe loads a uniform-buffer element once per workgroup only when its offset is a
  // constant (or comes from push constants); a loop counter is neither, so inside a loop every
  // lane gathers all 32 values of X per unit.  Unrolled over the K/32 units (K fixed by a
  // specialization constant), X's offsets are constants.  The host asks for it only for small K
  // (kUnrollUnits), where the unrolled code stays small.
  if (kTokens == 1 && kUnrollUnits) {
    [[unroll]] for (uint u = 0; u < kXVecs / 8; ++u) {
      acc[0] += dot_unit(rb, u, kXVecs / 8 / kUnitsPerBlock, u * 8);
      if (kGluRows != 0) acc2[0] += dot_unit(rb2, u, kXVecs / 8 / kUnitsPerBlock, u * 8);
    }
  } else
#endif
  for (uint u = 0; u < units; ++u) {
#ifdef FUSED_DOT
    // One token (decode): the scale factored out of the dot product.  Several tokens decode the
    // unit once and reuse it for each.
    if (kTokens == 1) {
      const uint xb = min(tok0, pc.T - 1) * (pc.x_stride / 4) + u * 8;
      acc[0] += dot_unit(rb, u, blocks, xb);
      if (kGluRows != 0) acc2[0] += dot_unit(rb2, u, blocks, xb);
      continue;
    }
#endif
    vec4 w[8], w2[8];
    decode_unit(rb, u, blocks, w);
    if (kGluRows != 0) decode_unit(rb2, u, blocks, w2);
    for (uint t = 0; t < kTokens; ++t) {
      const uint xb = min(tok0 + t, pc.T - 1) * (pc.x_stride / 4) + u * 8;
      float s = 0.0, s2 = 0.0;
      for (uint i = 0; i < 8; ++i) {
        s += dot(w[i], x4[xb + i]);
        if (kGluRows != 0) s2 += dot(w2[i], x4[xb + i]);
      }
      acc[t] += s;
      acc2[t] += s2;
    }
  }
  if (gl_GlobalInvocationID.x >= pc.N) return;
  for (uint t = 0; t < kTokens; ++t) {
    const uint tok = tok0 + t;
    if (tok < pc.T) {
      const uint idx = tok * pc.y_stride + pc.y_offset + row;
      float v = acc[t];
      if (kGluRows != 0) v = v / (1.0 + exp(-v)) * acc2[t];  // as silu_mul.comp
      y[idx] = (pc.accumulate != 0 ? y[idx] : 0.0) + v;
    }
  }
}
#else
void main() {
  const uint row0 = gl_WorkGroupID.x * kRows;
  const uint tok0 = gl_WorkGroupID.y * kTokens;
  const uint lid = gl_LocalInvocationID.x;
  const uint WG = gl_WorkGroupSize.x;
  const uint units = pc.K / 32;
  const uint blocks = units / kUnitsPerBlock;

  float acc[kRows * kTokens];
  for (uint k = 0; k < kRows * kTokens; ++k) acc[k] = 0.0;

  for (uint u = lid; u < units; u += WG) {
    vec4 xv[kTokens * 8];
    for (uint t = 0; t < kTokens; ++t) {
      const uint tok = min(tok0 + t, pc.T - 1);  // clamp: tokens past T are computed, not stored
      for (uint i = 0; i < 8; ++i) xv[t * 8 + i] = x4[tok * (pc.x_stride / 4) + u * 8 + i];
    }
    for (uint r = 0; r < kRows; ++r) {
      const uint row = min(row0 + r, pc.N - 1);
      vec4 w[8];
      decode_unit(row * pc.row_words, u, blocks, w);
      for (uint t = 0; t < kTokens; ++t) {
        float s = 0.0;
        for (uint i = 0; i < 8; ++i) s += dot(w[i], xv[t * 8 + i]);
        acc[r * kTokens + t] += s;
      }
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
#endif
