// Random tensors in any device weight type, as a GGUF file holds them: random quant bits with
// sane f16 scales (random bytes there could be NaN, Inf or 1e4-sized scales), so kernel tests can
// compare the device decode against the loaders' dequantization of the same bytes.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "loaders/gguf/ggml_type.h"
#include "loaders/half.h"
#include "runtime/ops/weight_layout.h"
#include "tests/support/random.h"

namespace bcvk::test {

// Byte offsets of the f16 scale fields (d, and dmin or m) inside one block, per the GGUF block
// layouts (loaders/gguf/dequantize.cpp); empty for f32/f16/bf16.
inline std::vector<uint32_t> scale_offsets(ops::WeightType t) {
  using W = ops::WeightType;
  switch (t) {
    case W::kQ4_0:
      return {0};
    case W::kQ4_1:
      return {0, 2};
    case W::kQ5_0:
      return {0};
    case W::kQ5_1:
      return {0, 2};
    case W::kQ8_0:
      return {0};
    case W::kQ2_K:
      return {80, 82};
    case W::kQ3_K:
      return {108};
    case W::kQ4_K:
      return {0, 2};
    case W::kQ5_K:
      return {0, 2};
    case W::kQ6_K:
      return {208};
    default:
      return {};
  }
}

// `rows` x `cols` values of type `t` in the file's byte layout (rows contiguous).
inline std::vector<std::byte> random_tensor(ops::WeightType t, uint64_t rows, uint64_t cols,
                                            uint64_t seed) {
  using W = ops::WeightType;
  Rng rng(seed);
  const uint64_t n = rows * cols;
  if (t == W::kF32 || t == W::kF16 || t == W::kBF16) {
    const size_t elem = t == W::kF32 ? 4 : 2;
    std::vector<std::byte> out(n * elem);
    for (uint64_t i = 0; i < n; ++i) {
      const float v = rng.uniform(-1.f, 1.f);
      if (t == W::kF32) {
        std::memcpy(&out[i * 4], &v, 4);
      } else {
        uint32_t bits;
        std::memcpy(&bits, &v, 4);
        const uint16_t h = t == W::kF16 ? loaders::float_to_half(v) : uint16_t(bits >> 16);
        std::memcpy(&out[i * 2], &h, 2);
      }
    }
    return out;
  }
  const auto traits = gguf::ggml_type_traits(static_cast<uint32_t>(ops::ggml_type_of(t)));
  const uint64_t blocks = n / traits->block_elements;
  auto out = random_bytes(blocks * traits->block_bytes, seed * 2654435761u + 1);
  const auto scales = scale_offsets(t);
  for (uint64_t b = 0; b < blocks; ++b)
    for (size_t j = 0; j < scales.size(); ++j) {
      // d in [-0.02, 0.02], a min/offset of either sign: values of a few units at most.
      const float v = j == 0 ? rng.uniform(-0.02f, 0.02f) : rng.uniform(-0.5f, 0.5f) * 0.05f;
      const uint16_t h = loaders::float_to_half(v);
      std::memcpy(&out[b * traits->block_bytes + scales[j]], &h, 2);
    }
  return out;
}

}  // namespace bcvk::test
