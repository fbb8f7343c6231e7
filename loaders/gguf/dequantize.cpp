#include "loaders/gguf/dequantize.h"

#include <cstring>
#include <stdexcept>
#include <string>

#include "loaders/half.h"

namespace bcvk::gguf {

namespace {

using loaders::half_to_float;

// Little-endian readers for a block's fields.
uint16_t u16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
uint32_t u32(const uint8_t* p) { return p[0] | (p[1] << 8) | (p[2] << 16) | (uint32_t(p[3]) << 24); }
float f16(const uint8_t* p) { return half_to_float(u16(p)); }

// Q4_0, 32 values in 18 bytes: d (f16), qs[16].  y[j] = (lo(qs[j]) - 8) d, y[j+16] = (hi - 8) d.
void q4_0(const uint8_t* b, float* y) {
  const float d = f16(b);
  const uint8_t* qs = b + 2;
  for (int j = 0; j < 16; ++j) {
    y[j] = ((qs[j] & 15) - 8) * d;
    y[j + 16] = ((qs[j] >> 4) - 8) * d;
  }
}

// Q4_1, 32 in 20: d, m (f16), qs[16].  y = q d + m, low nibbles first half, high second.
void q4_1(const uint8_t* b, float* y) {
  const float d = f16(b), m = f16(b + 2);
  const uint8_t* qs = b + 4;
  for (int j = 0; j < 16; ++j) {
    y[j] = (qs[j] & 15) * d + m;
    y[j + 16] = (qs[j] >> 4) * d + m;
  }
}

// Q5_0, 32 in 22: d, qh (u32), qs[16].  Bit j of qh is the fifth bit of value j (j < 32).
// y = (q - 16) d.
void q5_0(const uint8_t* b, float* y) {
  const float d = f16(b);
  const uint32_t qh = u32(b + 2);
  const uint8_t* qs = b + 6;
  for (int j = 0; j < 16; ++j) {
    const int lo = (qs[j] & 15) | (((qh >> j) & 1) << 4);
    const int hi = (qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4);
    y[j] = (lo - 16) * d;
    y[j + 16] = (hi - 16) * d;
  }
}

// Q5_1, 32 in 24: d, m, qh, qs[16].  y = q d + m.
void q5_1(const uint8_t* b, float* y) {
  const float d = f16(b), m = f16(b + 2);
  const uint32_t qh = u32(b + 4);
  const uint8_t* qs = b + 8;
  for (int j = 0; j < 16; ++j) {
    const int lo = (qs[j] & 15) | (((qh >> j) & 1) << 4);
    const int hi = (qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4);
    y[j] = lo * d + m;
    y[j + 16] = hi * d + m;
  }
}

// Q8_0, 32 in 34: d, int8 qs[32].  y = q d.
void q8_0(const uint8_t* b, float* y) {
  const float d = f16(b);
  for (int j = 0; j < 32; ++j) y[j] = static_cast<int8_t>(b[2 + j]) * d;
}

// Q2_K, 256 in 84: scales[16] (low nibble scale, high nibble min), qs[64] (2-bit), d, dmin.
// Each 128-value half uses 32 bytes of qs; within it, shift s = 0, 2, 4, 6 selects four groups of
// 32 values, each split into two sub-blocks of 16 with their own scale byte.
void q2_k(const uint8_t* b, float* y) {
  const uint8_t* scales = b;
  const uint8_t* q = b + 16;
  const float d = f16(b + 80), dmin = f16(b + 82);
  int is = 0;
  for (int half = 0; half < 2; ++half, q += 32) {
    for (int shift = 0; shift < 8; shift += 2) {
      for (int sub = 0; sub < 2; ++sub) {
        const uint8_t sc = scales[is++];
        const float dl = d * (sc & 15), ml = dmin * (sc >> 4);
        for (int l = 0; l < 16; ++l) *y++ = dl * ((q[l + 16 * sub] >> shift) & 3) - ml;
      }
    }
  }
}

// Q3_K, 256 in 110: hmask[32], qs[64] (low 2 bits), scales[12] (sixteen 6-bit scales), d.
// The third bit comes from hmask: bit m of hmask[l] for group m; a clear bit subtracts 4.
// Scales: low 4 bits from scales[0..7] nibbles, high 2 bits from scales[8..11]; minus 32.
void q3_k(const uint8_t* b, float* y) {
  const uint8_t* hm = b;
  const uint8_t* q = b + 32;
  const uint8_t* s = b + 96;
  const float d = f16(b + 108);
  int scale[16];
  for (int i = 0; i < 16; ++i) {
    const int low = (i < 8) ? (s[i] & 15) : (s[i - 8] >> 4);
    const int high = (s[8 + (i % 4)] >> (2 * (i / 4))) & 3;
    scale[i] = (low | (high << 4)) - 32;
  }
  int is = 0;
  uint8_t m = 1;
  for (int half = 0; half < 2; ++half, q += 32) {
    for (int shift = 0; shift < 8; shift += 2, m <<= 1) {
      for (int sub = 0; sub < 2; ++sub) {
        const float dl = d * scale[is++];
        for (int l = 0; l < 16; ++l) {
          const int i = l + 16 * sub;
          *y++ = dl * (((q[i] >> shift) & 3) - ((hm[i] & m) ? 0 : 4));
        }
      }
    }
  }
}

// The 6-bit scale and min of sub-block j (0..7) packed in Q4_K/Q5_K's scales[12].
void scale_min_k4(int j, const uint8_t* s, int* sc, int* mn) {
  if (j < 4) {
    *sc = s[j] & 63;
    *mn = s[j + 4] & 63;
  } else {
    *sc = (s[j + 4] & 15) | ((s[j - 4] >> 6) << 4);
    *mn = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

// Q4_K, 256 in 144: d, dmin, scales[12], qs[128].  Each 64-value chunk c uses 32 bytes of qs:
// low nibbles are sub-block 2c, high nibbles 2c+1; y = d sc q - dmin mn.
void q4_k(const uint8_t* b, float* y) {
  const float d = f16(b), dmin = f16(b + 2);
  const uint8_t* s = b + 4;
  const uint8_t* q = b + 16;
  for (int c = 0; c < 4; ++c, q += 32) {
    int sc0, m0, sc1, m1;
    scale_min_k4(2 * c, s, &sc0, &m0);
    scale_min_k4(2 * c + 1, s, &sc1, &m1);
    for (int l = 0; l < 32; ++l) *y++ = d * sc0 * (q[l] & 15) - dmin * m0;
    for (int l = 0; l < 32; ++l) *y++ = d * sc1 * (q[l] >> 4) - dmin * m1;
  }
}

// Q5_K, 256 in 176: d, dmin, scales[12], qh[32], qs[128].  As Q4_K plus a fifth bit: bit 2c of
// qh[l] for the low-nibble values of chunk c, bit 2c+1 for the high-nibble values.
void q5_k(const uint8_t* b, float* y) {
  const float d = f16(b), dmin = f16(b + 2);
  const uint8_t* s = b + 4;
  const uint8_t* qh = b + 16;
  const uint8_t* q = b + 48;
  for (int c = 0; c < 4; ++c, q += 32) {
    int sc0, m0, sc1, m1;
    scale_min_k4(2 * c, s, &sc0, &m0);
    scale_min_k4(2 * c + 1, s, &sc1, &m1);
    for (int l = 0; l < 32; ++l) *y++ = d * sc0 * ((q[l] & 15) + (((qh[l] >> (2 * c)) & 1) << 4)) - dmin * m0;
    for (int l = 0; l < 32; ++l)
      *y++ = d * sc1 * ((q[l] >> 4) + (((qh[l] >> (2 * c + 1)) & 1) << 4)) - dmin * m1;
  }
}

// Q6_K, 256 in 210: ql[128] (low 4 bits), qh[64] (high 2 bits), int8 scales[16], d (last).
// Per 128-value half, for l in 0..31 four values at l, l+32, l+64, l+96 take their low bits
// from ql[l] / ql[l+32] (low, low, high, high nibble) and their high bits from qh[l] at shifts
// 0, 2, 4, 6; scale index l/16 + 0, 2, 4, 6; y = d scale (q - 32).
void q6_k(const uint8_t* b, float* y) {
  const uint8_t* ql = b;
  const uint8_t* qh = b + 128;
  const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192);
  const float d = f16(b + 208);
  for (int half = 0; half < 2; ++half, ql += 64, qh += 32, sc += 8, y += 128) {
    for (int l = 0; l < 32; ++l) {
      const int is = l / 16;
      const int q1 = ((ql[l] & 15) | (((qh[l] >> 0) & 3) << 4)) - 32;
      const int q2 = ((ql[l + 32] & 15) | (((qh[l] >> 2) & 3) << 4)) - 32;
      const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
      const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
      y[l] = d * sc[is] * q1;
      y[l + 32] = d * sc[is + 2] * q2;
      y[l + 64] = d * sc[is + 4] * q3;
      y[l + 96] = d * sc[is + 6] * q4;
    }
  }
}

using BlockFn = void (*)(const uint8_t*, float*);

BlockFn block_fn(GgmlType type) {
  switch (type) {
    case GgmlType::Q4_0: return q4_0;
    case GgmlType::Q4_1: return q4_1;
    case GgmlType::Q5_0: return q5_0;
    case GgmlType::Q5_1: return q5_1;
    case GgmlType::Q8_0: return q8_0;
    case GgmlType::Q2_K: return q2_k;
    case GgmlType::Q3_K: return q3_k;
    case GgmlType::Q4_K: return q4_k;
    case GgmlType::Q5_K: return q5_k;
    case GgmlType::Q6_K: return q6_k;
    default: return nullptr;
  }
}

}  // namespace

bool can_dequantize(GgmlType type) {
  return type == GgmlType::F32 || type == GgmlType::F16 || type == GgmlType::BF16 || block_fn(type) != nullptr;
}

void dequantize(GgmlType type, std::span<const std::byte> src, std::span<float> dst) {
  const auto traits = ggml_type_traits(static_cast<uint32_t>(type));
  if (!traits || !can_dequantize(type))
    throw std::invalid_argument("cannot dequantize type " + std::string(ggml_type_name(type)));
  if (dst.size() % traits->block_elements != 0 ||
      src.size() != dst.size() / traits->block_elements * traits->block_bytes)
    throw std::invalid_argument("dequantize " + std::string(traits->name) + ": " + std::to_string(src.size()) +
                                " bytes do not hold exactly " + std::to_string(dst.size()) + " values");
  const auto* p = reinterpret_cast<const uint8_t*>(src.data());
  switch (type) {
    case GgmlType::F32:
      std::memcpy(dst.data(), p, src.size());
      return;
    case GgmlType::F16:
      for (size_t i = 0; i < dst.size(); ++i) dst[i] = half_to_float(u16(p + 2 * i));
      return;
    case GgmlType::BF16:
      for (size_t i = 0; i < dst.size(); ++i) dst[i] = loaders::bf16_to_float(u16(p + 2 * i));
      return;
    default:
      break;
  }
  const BlockFn fn = block_fn(type);
  for (size_t blk = 0; blk < dst.size() / traits->block_elements; ++blk)
    fn(p + blk * traits->block_bytes, dst.data() + blk * traits->block_elements);
}

void dequantize_to_f16(GgmlType type, std::span<const std::byte> src, std::span<uint16_t> dst) {
  if (type == GgmlType::F16 && src.size() == dst.size() * 2) {  // no round trip through f32
    std::memcpy(dst.data(), src.data(), src.size());
    return;
  }
  std::vector<float> tmp(dst.size());
  dequantize(type, src, tmp);
  for (size_t i = 0; i < dst.size(); ++i) dst[i] = loaders::float_to_half(tmp[i]);
}

std::vector<float> dequantize_tensor(const GgufFile& file, const TensorInfo& tensor) {
  if (!can_dequantize(tensor.type))
    throw loaders::FormatError(file.name(), tensor.file_offset,
                               "tensor \"" + tensor.name + "\" has type " + std::string(ggml_type_name(tensor.type)) +
                                   ", which bcvk cannot dequantize");
  std::vector<float> out(tensor.elements);
  dequantize(tensor.type, file.tensor_data(tensor), out);
  return out;
}

}  // namespace bcvk::gguf
