#version 450
// block_circulant_fused: a block-circulant linear layer in one dispatch, its FFTs in registers.
//   y_i = sum_j C(c_ij) x_j = IFFT( sum_j S_ij * FFT(x_j) ),  blocks of B (a power of two >= 2).
// One invocation computes one output block row i for kTokens tokens (the row-per-lane form of
// linear_q.comp): for every input block j it transforms x_j in registers (every lane the same
// block, so X is read at one address by all lanes), multiplies by its own stored spectra S_ij
// and accumulates in the frequency domain; one inverse transform per output block at the end.
// Spectra are stored packed, B reals per block (exactly the parameter count): pair 0 holds the
// two real bins (0 and B/2), pair f the complex bin f (1 <= f < B/2); S = FFT(c)/B, so the
// inverse needs no scaling (runtime/compress/block_circulant.h, packed_spectra).
//   plain  Y[t, y_offset + o] (+)= (W X)[o]
//   GLU    Y[t, o] = silu((W_gate X)[o]) * (W_up X)[o]: the gated MLP's first half, the input's
//          transforms shared by both (binding 3 holds the up spectra).
// WEIGHT_F16: spectra as f16, two per word (unpack_half2); WEIGHT_Q8: 8-bit values, four per
// word, with one f16 scale per 32 values of a row (Q8_0's idea, laid out for this kernel).
// Arithmetic is f32.  Dispatch: runtime/ops/block_circulant_fused.cpp.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"
#include "half.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint kB = 4;        // block size, a power of two >= 2
layout(constant_id = 2) const uint kLogB = 2;     // log2(kB)
layout(constant_id = 3) const uint kTokens = 1;   // tokens per invocation
layout(constant_id = 4) const uint kXVecs = 1;    // X_UNIFORM: vec4s bound
layout(constant_id = 5) const bool kUnroll = false;  // X_UNIFORM: unroll the loop over blocks
layout(constant_id = 6) const uint kQ = 1;        // kUnroll: input blocks (q)
layout(constant_id = 7) const uint kShared = 4;   // SHARED_X: floats, kTokens * q * B
const uint kH = kB / 2;                           // packed pairs per block

#ifdef SHARED_X
// SHARED_X: the workgroup transforms its tokens' input blocks once, one block per lane at a time,
// into shared memory (packed as the spectra are); every lane then reads them from there.  Without
// it every SIMD group of lanes repeats all q transforms, which for large B costs more than the
// products themselves.
shared float xs[kShared];
#endif

layout(push_constant) uniform Push {
  uint T;          // tokens
  uint m, n;       // output rows, input features of the dense matrix
  uint p, q;       // row blocks ceil(m/B), column blocks ceil(n/B)
  uint x_stride;   // floats between tokens of x
  uint x_offset;   // first float of x
  uint y_stride;   // floats between tokens of y
  uint y_offset;   // first output column
  uint accumulate; // plain: Y += W X
} pc;

// Every row i (one block row's q blocks) starts on a 16-byte boundary and is read in 16-byte
// words: with the loop over blocks unrolled, neighbouring pairs come from one load (a per-lane
// load is the costly instruction on CPU devices).
#if defined(WEIGHT_Q8)
// Rows of q*B signed bytes, then every row's scales (one f16 per 32 values), both padded to
// 16 bytes a row.
layout(std430, binding = 0) readonly buffer S { uvec4 s[]; };
#ifdef GLU
layout(std430, binding = 3) readonly buffer S2 { uvec4 s2[]; };
#endif
#elif defined(WEIGHT_F16)
layout(std430, binding = 0) readonly buffer S { uvec4 s[]; };  // rows of q*B/2 f16 pairs
#ifdef GLU
layout(std430, binding = 3) readonly buffer S2 { uvec4 s2[]; };
#endif
#else
layout(std430, binding = 0) readonly buffer S { vec4 s[]; };  // rows of q*B/2 pairs
#ifdef GLU
layout(std430, binding = 3) readonly buffer S2 { vec4 s2[]; };
#endif
#endif

#ifdef X_UNIFORM
layout(std140, binding = 1) uniform X { vec4 x4[kXVecs]; };
float xval(uint t, uint idx) { return idx < pc.n ? x4[idx / 4][idx % 4] : 0.0; }
#else
layout(std430, binding = 1) readonly buffer X { float x[]; };
float xval(uint t, uint idx) {
  return idx < pc.n ? x[pc.x_offset + min(t, pc.T - 1) * pc.x_stride + idx] : 0.0;
}
#endif
layout(std430, binding = 2) buffer Y { float y[]; };

// W[0 .. kH) = the kH pairs of block (I, J) of a spectra buffer, read a 16-byte word at a time:
// a block's pairs share their words (a per-lane load is the costly instruction on CPU devices,
// and with J a loop variable the driver cannot merge per-pair loads of one word).  Blocks of
// B >= 8 (f16; 16 for 8-bit, 4 for f32) start on a word; smaller ones lie inside one.
float sbyte(uint w) { return float(int(w << 24) >> 24); }  // the low byte, signed
#if defined(WEIGHT_Q8)
uint row_vec4s() { return (pc.q * kB + 15) / 16; }
uint scale_vec4s() { return (pc.q * kB + 255) / 256; }
// One f16 scale per 32 values: a block of B <= 32 has one (B divides 32), B = 64 two (values
// 0..31 the even group's, 32..63 the odd one's).
#define LOAD_BLOCK(W, BUF, I, J)                                                        \
  {                                                                                     \
    const uint v0_ = (J) * kB, g0_ = v0_ / 32;                                          \
    const uvec4 sv_ = BUF[pc.p * row_vec4s() + (I) * scale_vec4s() + g0_ / 8];          \
    const vec2 sc_ = unpack_half2(sv_[(g0_ / 2) % 4]);                                  \
    const float s0_ = (g0_ & 1u) != 0 ? sc_.y : sc_.x;                                  \
    if (kB >= 16) {                                                                     \
      [[unroll]] for (uint c_ = 0; c_ < kB / 16; ++c_) {                                \
        const uvec4 u_ = BUF[(I) * row_vec4s() + v0_ / 16 + c_];                        \
        const float sc2_ = kB == 64 && c_ >= 2 ? sc_.y : s0_;                           \
        [[unroll]] for (uint k_ = 0; k_ < 4; ++k_) {                                    \
          W[c_ * 8 + 2 * k_] = vec2(sbyte(u_[k_]), sbyte(u_[k_] >> 8)) * sc2_;          \
          W[c_ * 8 + 2 * k_ + 1] = vec2(sbyte(u_[k_] >> 16), sbyte(u_[k_] >> 24)) * sc2_; \
        }                                                                               \
      }                                                                                 \
    } else {                                                                            \
      const uvec4 u_ = BUF[(I) * row_vec4s() + v0_ / 16];                               \
      [[unroll]] for (uint h_ = 0; h_ < kH; ++h_) {                                     \
        const uint v_ = v0_ % 16 + 2 * h_;                                              \
        const uint w_ = u_[v_ / 4] >> (8 * (v_ % 4));                                   \
        W[h_] = vec2(sbyte(w_), sbyte(w_ >> 8)) * s0_;                                  \
      }                                                                                 \
    }                                                                                   \
  }
#elif defined(WEIGHT_F16)
#define LOAD_BLOCK(W, BUF, I, J)                                                    \
  {                                                                                 \
    const uint r_ = (I) * ((pc.q * kH + 3) / 4), w0_ = (J) * kH;                    \
    if (kH >= 4) {                                                                  \
      [[unroll]] for (uint c_ = 0; c_ < kH / 4; ++c_) {                             \
        const uvec4 u_ = BUF[r_ + w0_ / 4 + c_];                                    \
        [[unroll]] for (uint k_ = 0; k_ < 4; ++k_) W[c_ * 4 + k_] = unpack_half2(u_[k_]); \
      }                                                                             \
    } else {                                                                        \
      const uvec4 u_ = BUF[r_ + w0_ / 4];                                           \
      [[unroll]] for (uint h_ = 0; h_ < kH; ++h_) W[h_] = unpack_half2(u_[w0_ % 4 + h_]); \
    }                                                                               \
  }
#else
#define LOAD_BLOCK(W, BUF, I, J)                                          \
  {                                                                       \
    const uint r_ = (I) * ((pc.q * kH + 1) / 2), w0_ = (J) * kH;          \
    if (kH >= 2) {                                                        \
      [[unroll]] for (uint c_ = 0; c_ < kH / 2; ++c_) {                   \
        const vec4 v_ = BUF[r_ + w0_ / 2 + c_];                           \
        W[2 * c_] = v_.xy;                                                \
        W[2 * c_ + 1] = v_.zw;                                            \
      }                                                                   \
    } else {                                                              \
      const vec4 v_ = BUF[r_ + w0_ / 2];                                  \
      W[0] = (w0_ % 2) == 0 ? v_.xy : v_.zw;                              \
    }                                                                     \
  }
#endif

vec2 cmul(vec2 a, vec2 b) { return vec2(a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x); }

// The FFT's working array (private to each invocation; arrays sized by a specialization
// constant cannot be passed or assigned whole).
vec2 fa[kB];

// In-place radix-2 decimation-in-time FFT of fa (forward, e^{-2 pi i k n / B}), naturally
// ordered in and out.  Each loop is flat (no loop inside another): the driver unrolls a loop only
// once every loop inside it is gone, so nested stage/group/butterfly loops would stay loops and
// every fa[] index would be dynamic (scratch memory, per lane).  Unrolled, the permutation is
// register renaming and the twiddles fold to constants; the ones that are 1 or -i are applied
// without multiplying.
void fft() {
  [[unroll]] for (uint k = 0; k < kB; ++k) {
    const uint r = bitfieldReverse(k) >> (32u - kLogB);
    if (k < r) {
      const vec2 tmp = fa[k];
      fa[k] = fa[r];
      fa[r] = tmp;
    }
  }
  // Butterfly b of stage st (1-based): group b / half_len, offset jj = b % half_len.
  [[unroll]] for (uint n = 0; n < kLogB * kH; ++n) {
    const uint st = n / kH + 1, b = n % kH;
    const uint len = 1u << st, half_len = len / 2;
    const uint jj = b % half_len, lo = (b / half_len) * len + jj, hi = lo + half_len;
    const vec2 u = fa[lo], v = fa[hi];
    vec2 t;
    if (jj == 0) {
      t = v;
    } else if (4 * jj == len) {
      t = vec2(v.y, -v.x);  // times -i
    } else {
      const float th = -6.283185307179586 * float(jj) / float(len);
      t = cmul(vec2(cos(th), sin(th)), v);  // constants once unrolled
    }
    fa[lo] = u + t;
    fa[hi] = u - t;
  }
}

// fa = the spectrum of input block j of token t; its packed form is pair 0 = (fa[0].x,
// fa[B/2].x) (both real), pair f = fa[f].
void transform_input(uint t, uint j) {
  [[unroll]] for (uint k = 0; k < kB; ++k) fa[k] = vec2(xval(t, j * kB + k), 0.0);
  fft();
}

// fa[k].x = the real block of a packed spectrum (the scaling is in the weights): y = Re
// FFT(conj(Y)) with Y[B - f] = conj(Y[f]).
#define INVERSE_TRANSFORM(ACC, BASE)                   \
  {                                                     \
    fa[0] = vec2(ACC[BASE].x, 0.0);                     \
    fa[kH] = vec2(ACC[BASE].y, 0.0);                    \
    [[unroll]] for (uint f = 1; f < kH; ++f) {          \
      fa[f] = vec2(ACC[BASE + f].x, -ACC[BASE + f].y);  \
      fa[kB - f] = ACC[BASE + f];                       \
    }                                                   \
    fft();                                              \
  }

void main() {
  const uint i = min(gl_GlobalInvocationID.x, pc.p - 1);  // all lanes active: X stays uniform
  const uint tok0 = gl_WorkGroupID.y * kTokens;
#ifdef SHARED_X
  for (uint task = gl_LocalInvocationID.x; task < kTokens * pc.q; task += gl_WorkGroupSize.x) {
    transform_input(tok0 + task / pc.q, task % pc.q);
    const uint base = task * kB;  // (t * q + j) * B
    xs[base] = fa[0].x;
    xs[base + 1] = fa[kH].x;
    [[unroll]] for (uint h = 1; h < kH; ++h) {
      xs[base + 2 * h] = fa[h].x;
      xs[base + 2 * h + 1] = fa[h].y;
    }
  }
  barrier();
#endif
  vec2 acc[kTokens * kH];
#ifdef GLU
  vec2 acc2[kTokens * kH];
#endif
  // Every loop that indexes a private array is unrolled: an array index that is not a constant
  // after specialization becomes a ladder of branches (or scratch memory) in the driver.
  [[unroll]] for (uint a = 0; a < kTokens * kH; ++a) {
    acc[a] = vec2(0.0);
#ifdef GLU
    acc2[a] = vec2(0.0);
#endif
  }

  // One input block: its transform for each token, then every pair of this row's spectra is
  // loaded once and used for every token.
#ifdef SHARED_X
#define LOAD_XP(J)                                                                      \
  [[unroll]] for (uint t = 0; t < kTokens; ++t) {                                       \
    const uint base = (t * pc.q + (J)) * kB;                                            \
    [[unroll]] for (uint h = 0; h < kH; ++h)                                            \
      xp[t * kH + h] = vec2(xs[base + 2 * h], xs[base + 2 * h + 1]);                    \
  }
#else
#define LOAD_XP(J)                                                                      \
  [[unroll]] for (uint t = 0; t < kTokens; ++t) {                                       \
    transform_input(tok0 + t, (J));                                                     \
    xp[t * kH] = vec2(fa[0].x, fa[kH].x);                                               \
    [[unroll]] for (uint h = 1; h < kH; ++h) xp[t * kH + h] = fa[h];                    \
  }
#endif
#define BODY(J)                                                                        \
  {                                                                                     \
    vec2 xp[kTokens * kH];                                                              \
    LOAD_XP(J)                                                                          \
    vec2 wb[kH];                                                                        \
    LOAD_BLOCK(wb, s, i, (J))                                                           \
    GLU_LOAD(J)                                                                         \
    [[unroll]] for (uint h = 0; h < kH; ++h) {                                          \
      const vec2 w = wb[h];                                                             \
      [[unroll]] for (uint t = 0; t < kTokens; ++t)                                     \
        acc[t * kH + h] += h == 0 ? w * xp[t * kH] : cmul(w, xp[t * kH + h]);           \
      GLU_BODY(J)                                                                       \
    }                                                                                   \
  }
#ifdef GLU
#define GLU_LOAD(J)  \
  vec2 wb2[kH];      \
  LOAD_BLOCK(wb2, s2, i, (J))
#define GLU_BODY(J)                                                                  \
  {                                                                                   \
    const vec2 w2 = wb2[h];                                                           \
    [[unroll]] for (uint t = 0; t < kTokens; ++t)                                     \
      acc2[t * kH + h] += h == 0 ? w2 * xp[t * kH] : cmul(w2, xp[t * kH + h]);        \
  }
#else
#define GLU_LOAD(J)
#define GLU_BODY(J)
#endif

#ifdef X_UNIFORM
  // llvmpipe loads a uniform-buffer element once for all lanes only at a constant offset: with
  // the loop over blocks unrolled (small q * B), every X offset is one (see linear_q.comp).
  if (kUnroll) {
    [[unroll]] for (uint j = 0; j < kQ; ++j) BODY(j)
  } else
#endif
  for (uint j = 0; j < pc.q; ++j) BODY(j)

  if (gl_GlobalInvocationID.x >= pc.p) return;
  [[unroll]] for (uint t = 0; t < kTokens; ++t) {
    const uint tok = tok0 + t;
    if (tok >= pc.T) break;
    float v[kB];
    INVERSE_TRANSFORM(acc, t * kH)
    [[unroll]] for (uint k = 0; k < kB; ++k) v[k] = fa[k].x;
#ifdef GLU
    INVERSE_TRANSFORM(acc2, t * kH)
#endif
    [[unroll]] for (uint r = 0; r < kB; ++r) {
      const uint o = i * kB + r;
      if (o >= pc.m) break;
      const uint idx = tok * pc.y_stride + pc.y_offset + o;
#ifdef GLU
      const float g = v[r];
      y[idx] = g / (1.0 + exp(-g)) * fa[r].x;  // as silu_mul.comp
#else
      y[idx] = (pc.accumulate != 0 ? y[idx] : 0.0) + v[r];
#endif
    }
  }
}
