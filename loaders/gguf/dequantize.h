// Dequantization of every type llama.cpp-made llama-family GGUF files carry, to f32 or f16.
// Block layouts are summarized next to each routine in dequantize.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "loaders/gguf/gguf_file.h"

namespace bcvk::gguf {

// True for the types dequantize() handles: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K,
// Q3_K, Q4_K, Q5_K, Q6_K.
bool can_dequantize(GgmlType type);

// Decodes `dst.size()` values (a multiple of the type's block size) from `src`, which must hold
// exactly the corresponding whole blocks.  Throws std::invalid_argument otherwise.
void dequantize(GgmlType type, std::span<const std::byte> src, std::span<float> dst);
void dequantize_to_f16(GgmlType type, std::span<const std::byte> src, std::span<uint16_t> dst);

// The whole tensor as f32, row-major with dims[0] contiguous.
std::vector<float> dequantize_tensor(const GgufFile& file, const TensorInfo& tensor);

}  // namespace bcvk::gguf
