// f16 <-> f32 conversions for words holding two halfs (low half first, as packHalf2x16).
// kSoftHalf (constant 100, set by runtime/vk/kernel.cpp from PhysicalDeviceInfo::soft_half) does
// them in integer arithmetic instead of the GLSL built-ins: LLVM 15's AArch64 backend -- Debian
// 12's arm64 lavapipe -- aborts with "Cannot select" on the built-ins' half conversions, killing
// the process.  The constant is folded when the pipeline is made, so the other form is never
// compiled.  Both forms round to nearest even and keep zeros, subnormals, infinities and NaN.
#ifndef BCVK_HALF_GLSL
#define BCVK_HALF_GLSL

layout(constant_id = 100) const bool kSoftHalf = false;

float soft_half_to_float(uint h) {
  const uint e = (h >> 10) & 31u, m = h & 1023u;
  float mag;
  if (e == 0u)
    mag = float(m) * 5.9604644775390625e-8;  // subnormal: m * 2^-24, a normal f32, exact
  else if (e == 31u)
    mag = uintBitsToFloat(0x7f800000u | (m << 13));  // infinity, NaN
  else
    mag = uintBitsToFloat(((e + 112u) << 23) | (m << 13));
  return (h & 0x8000u) != 0u ? -mag : mag;
}

uint soft_float_to_half(float f) {
  const uint x = floatBitsToUint(f);
  const uint sign = (x >> 16) & 0x8000u, ax = x & 0x7fffffffu;
  if (ax > 0x7f800000u) return sign | 0x7e00u;   // NaN
  if (ax >= 0x477ff000u) return sign | 0x7c00u;  // rounds past 65504: infinity
  if (ax < 0x38800000u)                          // below 2^-14: a half subnormal or zero
    return sign | uint(roundEven(uintBitsToFloat(ax) * 16777216.0));
  // Rebias the exponent (-112) and round the 13 dropped bits to nearest even.
  return sign | ((ax + 0xc8000fffu + ((ax >> 13) & 1u)) >> 13);
}

vec2 unpack_half2(uint w) {
  return kSoftHalf ? vec2(soft_half_to_float(w & 0xffffu), soft_half_to_float(w >> 16))
                   : unpackHalf2x16(w);
}

uint pack_half2(vec2 v) {
  return kSoftHalf ? soft_float_to_half(v.x) | (soft_float_to_half(v.y) << 16) : packHalf2x16(v);
}

#endif  // BCVK_HALF_GLSL
