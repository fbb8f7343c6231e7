// Decoding of GGUF weight types on the device, one unit of 32 consecutive values of a row at a
// time, from the row layout that runtime/ops/weight_layout.cpp writes (docs/FORMATS.md,
// "Device weight layout"): a row is an array of 32-bit words; block types whose size is 2 mod 4
// (Q4_0, Q5_0, Q8_0, Q3_K, Q6_K) have their f16 scale d moved to a head of packed halfs so every
// other field is word-aligned; all other types keep the file's bytes.  The includer declares
// `uint wq[]` and defines exactly one WTYPE_* macro.  decode_unit(rb, u, w) writes values
// 32u .. 32u+31 of the row that starts at word rb into w[0..7].

#include "half.glsl"

// Four bytes of a word as floats: unsigned nibbles, 2-bit fields, signed bytes.
vec4 nib_lo(uint q) { return vec4((uvec4(q, q >> 8, q >> 16, q >> 24)) & 15u); }
vec4 nib_hi(uint q) { return vec4((uvec4(q, q >> 8, q >> 16, q >> 24) >> 4) & 15u); }
vec4 nib(uint q, bool hi) { return hi ? nib_hi(q) : nib_lo(q); }
vec4 crumbs(uint q, uint shift) { return vec4((uvec4(q, q >> 8, q >> 16, q >> 24) >> shift) & 3u); }
vec4 s8x4(uint q) { return vec4(ivec4(q << 24, q << 16, q << 8, q) >> 24); }
// Bit `bit` of each of the four bytes of q.
vec4 bytebits(uint q, uint bit) { return vec4((uvec4(q, q >> 8, q >> 16, q >> 24) >> bit) & 1u); }
// Bits shift .. shift+3 of q.
vec4 bits4(uint q, uint shift) { return vec4((uvec4(q) >> uvec4(shift, shift + 1, shift + 2, shift + 3)) & 1u); }
uint byte_at(uint base, uint i) { return (wq[base + i / 4] >> (8 * (i % 4))) & 255u; }

#if defined(WTYPE_Q4_0) || defined(WTYPE_Q5_0) || defined(WTYPE_Q8_0) || defined(WTYPE_Q3_K) || defined(WTYPE_Q6_K)
#define SPLIT_D 1
#endif

#if defined(WTYPE_Q2_K) || defined(WTYPE_Q3_K) || defined(WTYPE_Q4_K) || defined(WTYPE_Q5_K) || defined(WTYPE_Q6_K)
const uint kUnitsPerBlock = 8;  // 256-value super-blocks
#else
const uint kUnitsPerBlock = 1;
#endif

// Words of one block in the row body (after the d head, if any).
#if defined(WTYPE_Q4_0)
const uint kBodyWords = 4;
#elif defined(WTYPE_Q4_1)
const uint kBodyWords = 5;
#elif defined(WTYPE_Q5_0)
const uint kBodyWords = 5;
#elif defined(WTYPE_Q5_1)
const uint kBodyWords = 6;
#elif defined(WTYPE_Q8_0)
const uint kBodyWords = 8;
#elif defined(WTYPE_Q2_K)
const uint kBodyWords = 21;
#elif defined(WTYPE_Q3_K)
const uint kBodyWords = 27;
#elif defined(WTYPE_Q4_K)
const uint kBodyWords = 36;
#elif defined(WTYPE_Q5_K)
const uint kBodyWords = 44;
#elif defined(WTYPE_Q6_K)
const uint kBodyWords = 52;
#elif defined(WTYPE_BF16)
const uint kBodyWords = 16;  // a "block" is one unit of 32 values
#else
#error "quant.glsl needs one WTYPE_* macro"
#endif

// Q4_K / Q5_K: the 6-bit scale and min of sub-block j, from scales[12] at word s.
void scale_min_k4(uint s, uint j, out float sc, out float mn) {
  if (j < 4) {
    sc = float(byte_at(s, j) & 63u);
    mn = float(byte_at(s, j + 4) & 63u);
  } else {
    sc = float((byte_at(s, j + 4) & 15u) | ((byte_at(s, j - 4) >> 6) << 4));
    mn = float((byte_at(s, j + 4) >> 4) | ((byte_at(s, j) >> 6) << 4));
  }
}

// Block b of the row at word rb: the first word of its body, and (split-scale types) its d
// from the row head.
uint block_body(uint rb, uint b, uint blocks_per_row) {
#ifdef SPLIT_D
  return rb + (blocks_per_row + 1) / 2 + b * kBodyWords;
#else
  return rb + b * kBodyWords;
#endif
}
#ifdef SPLIT_D
float block_d(uint rb, uint b) {
  const vec2 dd = unpack_half2(wq[rb + b / 2]);
  return (b & 1u) != 0 ? dd.y : dd.x;
}
#endif

void decode_unit(uint rb, uint u, uint blocks_per_row, out vec4 w[8]) {
  const uint b = u / kUnitsPerBlock, j = u % kUnitsPerBlock;
  const uint p = block_body(rb, b, blocks_per_row);
#ifdef SPLIT_D
  const float d = block_d(rb, b);
#endif

#if defined(WTYPE_Q4_0)
  for (uint i = 0; i < 4; ++i) {
    const uint q = wq[p + i];
    w[i] = nib_lo(q) * d - 8.0 * d;
    w[i + 4] = nib_hi(q) * d - 8.0 * d;
  }
#elif defined(WTYPE_Q4_1)
  const vec2 dm = unpack_half2(wq[p]);
  for (uint i = 0; i < 4; ++i) {
    const uint q = wq[p + 1 + i];
    w[i] = nib_lo(q) * dm.x + dm.y;
    w[i + 4] = nib_hi(q) * dm.x + dm.y;
  }
#elif defined(WTYPE_Q5_0)
  const uint qh = wq[p];
  for (uint i = 0; i < 4; ++i) {
    const uint q = wq[p + 1 + i];
    w[i] = (nib_lo(q) + 16.0 * bits4(qh, 4 * i) - 16.0) * d;
    w[i + 4] = (nib_hi(q) + 16.0 * bits4(qh, 16 + 4 * i) - 16.0) * d;
  }
#elif defined(WTYPE_Q5_1)
  const vec2 dm = unpack_half2(wq[p]);
  const uint qh = wq[p + 1];
  for (uint i = 0; i < 4; ++i) {
    const uint q = wq[p + 2 + i];
    w[i] = (nib_lo(q) + 16.0 * bits4(qh, 4 * i)) * dm.x + dm.y;
    w[i + 4] = (nib_hi(q) + 16.0 * bits4(qh, 16 + 4 * i)) * dm.x + dm.y;
  }
#elif defined(WTYPE_Q8_0)
  for (uint i = 0; i < 8; ++i) w[i] = s8x4(wq[p + i]) * d;
#elif defined(WTYPE_BF16)
  for (uint i = 0; i < 8; ++i) {
    const uint a = wq[p + 2 * i], c = wq[p + 2 * i + 1];
    w[i] = vec4(uintBitsToFloat(a << 16), uintBitsToFloat(a & 0xffff0000u),
                uintBitsToFloat(c << 16), uintBitsToFloat(c & 0xffff0000u));
  }
#elif defined(WTYPE_Q2_K)
  // scales[16] words 0-3, qs[64] words 4-19, (d, dmin) word 20.  Unit j: half j/4, shift 2(j%4);
  // values 0-15 from qs bytes 0-15 of the half with scale byte 2j, 16-31 from 16-31 with 2j+1.
  const vec2 dm = unpack_half2(wq[p + 20]);
  const uint h = j / 4, shift = 2 * (j % 4);
  const uint s0 = byte_at(p, 2 * j), s1 = byte_at(p, 2 * j + 1);
  const float d0 = dm.x * float(s0 & 15u), m0 = dm.y * float(s0 >> 4);
  const float d1 = dm.x * float(s1 & 15u), m1 = dm.y * float(s1 >> 4);
  for (uint i = 0; i < 4; ++i) {
    w[i] = crumbs(wq[p + 4 + 8 * h + i], shift) * d0 - m0;
    w[i + 4] = crumbs(wq[p + 8 + 8 * h + i], shift) * d1 - m1;
  }
#elif defined(WTYPE_Q3_K)
  // hmask[32] words 0-7, qs[64] words 8-23, scales[12] words 24-26 (d in the head).  As Q2_K,
  // with the third bit from bit (4 * half + j % 4) of hmask (clear: minus 4) and 6-bit scales.
  const uint h = j / 4, shift = 2 * (j % 4), hbit = j;
  float dl[2];
  for (uint sub = 0; sub < 2; ++sub) {
    const uint is = 2 * j + sub;
    const uint low = is < 8 ? (byte_at(p + 24, is) & 15u) : (byte_at(p + 24, is - 8) >> 4);
    const uint high = (byte_at(p + 24, 8 + is % 4) >> (2 * (is / 4))) & 3u;
    dl[sub] = d * (float(low | (high << 4)) - 32.0);
  }
  for (uint i = 0; i < 4; ++i) {
    w[i] = (crumbs(wq[p + 8 + 8 * h + i], shift) - 4.0 + 4.0 * bytebits(wq[p + i], hbit)) * dl[0];
    w[i + 4] =
        (crumbs(wq[p + 12 + 8 * h + i], shift) - 4.0 + 4.0 * bytebits(wq[p + 4 + i], hbit)) * dl[1];
  }
#elif defined(WTYPE_Q4_K)
  // (d, dmin) word 0, scales[12] words 1-3, qs[128] words 4-35: unit j is the low (j even) or
  // high nibbles of the 32 bytes of chunk j/2.
  const vec2 dm = unpack_half2(wq[p]);
  float sc, mn;
  scale_min_k4(p + 1, j, sc, mn);
  const float dl = dm.x * sc, ml = dm.y * mn;
  const bool hi = (j & 1u) != 0;
  for (uint i = 0; i < 8; ++i) w[i] = nib(wq[p + 4 + 8 * (j / 2) + i], hi) * dl - ml;
#elif defined(WTYPE_Q5_K)
  // As Q4_K with qh[32] at words 4-11 (bit j of byte l is the fifth bit of value l of unit j)
  // and qs at words 12-43.
  const vec2 dm = unpack_half2(wq[p]);
  float sc, mn;
  scale_min_k4(p + 1, j, sc, mn);
  const float dl = dm.x * sc, ml = dm.y * mn;
  const bool hi = (j & 1u) != 0;
  for (uint i = 0; i < 8; ++i)
    w[i] = (nib(wq[p + 12 + 8 * (j / 2) + i], hi) + 16.0 * bytebits(wq[p + 4 + i], j)) * dl - ml;
#elif defined(WTYPE_Q6_K)
  // ql[128] words 0-31, qh[64] words 32-47, int8 scales[16] words 48-51 (d in the head).  Unit j:
  // half h = j/4, quarter c = j%4: low bits from ql bytes 64h + 32(c&1) + l (low nibble for
  // c < 2, high for c >= 2), high bits from qh byte 32h + l at shift 2c, scale 8h + 2c + l/16.
  const uint h = j / 4, c = j % 4;
  const bool hi = c >= 2;
  const float sc0 = d * float(int(byte_at(p + 48, 8 * h + 2 * c) << 24) >> 24);
  const float sc1 = d * float(int(byte_at(p + 48, 8 * h + 2 * c + 1) << 24) >> 24);
  for (uint i = 0; i < 8; ++i) {
    const vec4 q = nib(wq[p + 16 * h + 8 * (c & 1u) + i], hi) + 16.0 * crumbs(wq[p + 32 + 8 * h + i], 2 * c);
    w[i] = (q - 32.0) * (i < 4 ? sc0 : sc1);
  }
#endif
}

#ifdef FUSED_DOT
// dot_unit(rb, u, blocks, xb): sum over the unit's 32 values of W * X, with X at x4[xb .. xb+7]
// (with FUSED_DOT; the includer declares `vec4 x4[]`).  Types whose blocks are q * d (+ m) factor the scale out
// of the sum -- d * sum(q x) + m * sum(x) -- which saves a multiply-add per weight; the others
// decode the unit and take the dot product.
#if defined(WTYPE_Q4_1) || defined(WTYPE_Q4_0) || defined(WTYPE_Q8_0)
float dot_unit(uint rb, uint u, uint blocks_per_row, uint xb) {
  const uint p = block_body(rb, u, blocks_per_row);  // one unit per block for these types
#ifdef SPLIT_D
  const float d = block_d(rb, u);
#endif
  float s = 0.0;
#if defined(WTYPE_Q8_0)
  for (uint i = 0; i < 8; ++i) s += dot(s8x4(wq[p + i]), x4[xb + i]);
  return d * s;
#else
  vec4 xs = vec4(0.0);
  for (uint i = 0; i < 4; ++i) {
    const uint q = wq[p + (kBodyWords - 4) + i];
    const vec4 xlo = x4[xb + i], xhi = x4[xb + i + 4];
    s += dot(nib_lo(q), xlo) + dot(nib_hi(q), xhi);
    xs += xlo + xhi;
  }
  const float sx = xs.x + xs.y + xs.z + xs.w;
#if defined(WTYPE_Q4_1)
  const vec2 dm = unpack_half2(wq[p]);
  return dm.x * s + dm.y * sx;
#else
  return d * (s - 8.0 * sx);
#endif
#endif
}
#else
float dot_unit(uint rb, uint u, uint blocks_per_row, uint xb) {
  vec4 w[8];
  decode_unit(rb, u, blocks_per_row, w);
  float s = 0.0;
  for (uint i = 0; i < 8; ++i) s += dot(w[i], x4[xb + i]);
  return s;
}
#endif
#endif  // FUSED_DOT
