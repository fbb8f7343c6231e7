#version 450
// block_circulant: the non-FFT steps of a block-circulant linear layer
//   y_i = sum_j C(c_ij) x_j = IFFT( sum_j FFT(c_ij) * FFT(x_j) ),  blocks of size B.
// One source, four entry points chosen by a define (dispatch: runtime/ops/block_circulant.cpp):
//   PACK    x [T][x_stride] -> real [T_bucket][q][B], zero past the n input features (padding)
//           and past the T tokens (the FFTs run on T_bucket tokens).
//   FREQ    X^ [T][q][F] -> Y^ [T][p][F]: Y^_i[f] = sum_j S_ij[f] X^_j[f] (complex, F = B/2+1),
//           S = FFT(c)/B computed once on the host; kTokens tokens share each S load.
//   UNPACK  real [T][p][B] -> y [T][y_stride] from column y_offset, first m rows (+= if accumulate).
//   DIRECT  y_i[r] = sum_j sum_k c_ij[(r - k) mod B] x_j[k] without FFTs (small B): one subgroup
//           per output row, lanes over the n inputs, kTokens tokens per workgroup.
// WEIGHT_F16 (FREQ, DIRECT): S or c held as f16, two values packed in each 32-bit word and read
// with unpack_half2 (half.glsl; half the bytes; no 16-bit storage feature needed); arithmetic stays f32.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "half.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint kTokens = 1;

layout(push_constant) uniform Push {
  uint T;         // tokens
  uint m, n;      // output rows, input features of the dense matrix
  uint B;         // block size
  uint p, q;      // row blocks ceil(m/B), column blocks ceil(n/B)
  uint x_stride;  // PACK, DIRECT: floats between tokens of x
  uint y_stride;  // UNPACK, DIRECT: floats between tokens of y
  uint y_offset;  // UNPACK, DIRECT
  uint accumulate;
  uint x_offset;  // PACK, DIRECT: first float of x
  uint T_bucket;  // PACK: rows T .. T_bucket-1 are written as zeros (the FFTs run on T_bucket)
} pc;

#if defined(PACK)
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) writeonly buffer R { float r[]; };
void main() {
  const uint i = gl_GlobalInvocationID.x, width = pc.q * pc.B;
  if (i >= pc.T_bucket * width) return;
  const uint t = i / width, c = i % width;
  // Zeros past the real tokens: a batched real FFT may pair sequences, so stale memory in the
  // bucket's spare rows would leak into the real ones through rounding (or NaN).
  r[i] = t < pc.T && c < pc.n ? x[pc.x_offset + t * pc.x_stride + c] : 0.0;
}

#elif defined(FREQ)
#ifdef WEIGHT_F16
layout(std430, binding = 0) readonly buffer S { uint s[]; };   // [p][q][F] complex f16 pairs
vec2 spectrum(uint i) { return unpack_half2(s[i]); }
#else
layout(std430, binding = 0) readonly buffer S { vec2 s[]; };   // [p][q][F]
vec2 spectrum(uint i) { return s[i]; }
#endif
layout(std430, binding = 1) readonly buffer XF { vec2 xf[]; }; // [T][q][F]
layout(std430, binding = 2) writeonly buffer YF { vec2 yf[]; };// [T][p][F]
vec2 cmul(vec2 a, vec2 b) { return vec2(a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x); }
void main() {
  const uint F = pc.B / 2 + 1;
  const uint f = gl_GlobalInvocationID.x, i = gl_WorkGroupID.y, t0 = gl_WorkGroupID.z * kTokens;
  if (f >= F) return;
  vec2 acc[kTokens];
  for (uint t = 0; t < kTokens; ++t) acc[t] = vec2(0.0);
  for (uint j = 0; j < pc.q; ++j) {
    const vec2 w = spectrum((i * pc.q + j) * F + f);
    for (uint t = 0; t < kTokens; ++t) {
      const uint tok = min(t0 + t, pc.T - 1);
      acc[t] += cmul(w, xf[(tok * pc.q + j) * F + f]);
    }
  }
  for (uint t = 0; t < kTokens; ++t)
    if (t0 + t < pc.T) yf[((t0 + t) * pc.p + i) * F + f] = acc[t];
}

#elif defined(UNPACK)
layout(std430, binding = 0) readonly buffer R { float r[]; };
layout(std430, binding = 1) buffer Y { float y[]; };
void main() {
  const uint i = gl_GlobalInvocationID.x;
  if (i >= pc.T * pc.m) return;
  const uint t = i / pc.m, o = i % pc.m;
  const uint idx = t * pc.y_stride + pc.y_offset + o;
  const float v = r[t * pc.p * pc.B + o];
  y[idx] = pc.accumulate != 0 ? y[idx] + v : v;
}

#elif defined(DIRECT)
#ifdef WEIGHT_F16
layout(std430, binding = 0) readonly buffer C { uint c[]; };  // [p][q][B] f16, two per word
float param(uint i) {
  const vec2 pair = unpack_half2(c[i / 2]);
  return (i & 1u) != 0 ? pair.y : pair.x;
}
#else
layout(std430, binding = 0) readonly buffer C { float c[]; };  // [p][q][B]
float param(uint i) { return c[i]; }
#endif
layout(std430, binding = 1) readonly buffer X { float x[]; };
layout(std430, binding = 2) buffer Y { float y[]; };
shared float partial[gl_WorkGroupSize.x];
void main() {
  const uint o = gl_WorkGroupID.x, t0 = gl_WorkGroupID.y * kTokens;
  const uint lid = gl_LocalInvocationID.x, WG = gl_WorkGroupSize.x;
  const uint i = o / pc.B, r = o % pc.B;
  float acc[kTokens];
  for (uint t = 0; t < kTokens; ++t) acc[t] = 0.0;
  for (uint s = lid; s < pc.n; s += WG) {
    const uint j = s / pc.B, k = s % pc.B;
    const float w = param((i * pc.q + j) * pc.B + (r + pc.B - k) % pc.B);
    for (uint t = 0; t < kTokens; ++t) acc[t] += w * x[pc.x_offset + min(t0 + t, pc.T - 1) * pc.x_stride + s];
  }
  for (uint t = 0; t < kTokens; ++t) {
    float sum;
#ifdef USE_SUBGROUPS
    sum = subgroupAdd(acc[t]);
    if (WG > gl_SubgroupSize) {
      if (gl_SubgroupInvocationID == 0) partial[gl_SubgroupID] = sum;
      barrier();
      sum = 0.0;
      if (lid == 0)
        for (uint g = 0; g < gl_NumSubgroups; ++g) sum += partial[g];
      barrier();
    }
#else
    partial[lid] = acc[t];
    barrier();
    for (uint stride = WG / 2; stride > 0; stride /= 2) {
      if (lid < stride) partial[lid] += partial[lid + stride];
      barrier();
    }
    sum = partial[0];
    barrier();
#endif
    if (lid == 0 && t0 + t < pc.T) {
      const uint idx = (t0 + t) * pc.y_stride + pc.y_offset + o;
      y[idx] = pc.accumulate != 0 ? y[idx] + sum : sum;
    }
  }
}
#endif
