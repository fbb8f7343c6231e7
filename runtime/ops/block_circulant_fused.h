// block_circulant_fused: a block-circulant projection in one dispatch, every FFT in registers
// (shaders/block_circulant_fused.comp): Y (+)= W_c X, or the gated MLP's first half
// H = silu(W_gate X) * (W_up X) from two such matrices that share the input's transforms.  For
// power-of-two block sizes from 2 to kFusedMaxBlock.  The weights are the packed spectra
// (compress::packed_spectra) in f32, f16 or an 8-bit form (per 32 values of a row, an f16 scale
// and signed bytes; quantize_fused_q8).  Test: tests/ops/block_circulant_fused_test.cpp.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "runtime/compress/block_circulant.h"
#include "runtime/vk/context.h"
#include "runtime/vk/stream.h"

namespace bcvk::ops {

// How circulant weights sit on the device: f32; f16 two to a 32-bit word (read with
// unpackHalf2x16, no 16-bit storage feature needed); 8-bit with a scale per 32 values (the
// fused path only).  Arithmetic is f32 in every case.
enum class CirculantWeights { kF32, kF16, kQ8 };
const char* circulant_weights_name(CirculantWeights w);

// Past 64 the unrolled FFTs give wrong results on lavapipe (6% relative error at 128 and 256,
// against the double reference) and take minutes to compile: larger blocks keep the VkFFT path.
constexpr uint32_t kFusedMaxBlock = 64;
// Whether the fused kernel takes block size B.
bool fused_block_supported(uint32_t B);

// Mirrors `Push` in shaders/block_circulant_fused.comp.
struct FusedCirculantPush {
  uint32_t T, m, n, p, q, x_stride, x_offset, y_stride, y_offset, accumulate;
};
static_assert(sizeof(FusedCirculantPush) == 40);

// The 8-bit form of `values` laid out as rows of `row_values` (a row is one block row's q*B
// packed-spectrum values): every row's values as signed bytes, four to a word, each row padded
// to 16 bytes; then every row's scales, one f16 per 32 values, two to a word, each row's padded
// to 16 bytes.  Value v of a row
// is byte * scale[v / 32]; scale = max |v| / 127 of its 32 values, rounded to f16.
std::vector<uint32_t> quantize_fused_q8(std::span<const float> values, uint32_t rows,
                                        uint32_t row_values);
// What quantize_fused_q8's words stand for, as floats (the test's and the docs' reference).
std::vector<float> dequantize_fused_q8(std::span<const uint32_t> words, uint32_t rows,
                                       uint32_t row_values);

// The fused kernel's weights of one matrix on the device: rows of q*B values (f32, f16 pairs
// or quantize_fused_q8), each padded to 16 bytes.
vk::Buffer upload_fused_weights(vk::Context& ctx, const compress::BlockCirculant& params,
                                CirculantWeights type);

struct FusedCirculantArgs {
  vk::BufferView w;   // upload_fused_weights of the matrix (the gate with glu)
  vk::BufferView w2;  // glu: the up matrix's, same shape and type
  CirculantWeights type = CirculantWeights::kF32;
  uint32_t m = 0, n = 0, B = 0;  // dense shape and block size
  vk::BufferView x;              // [T][x_stride] f32
  uint32_t x_stride = 0;
  vk::BufferView y;  // [T][y_stride] f32, written from column y_offset
  uint32_t y_stride = 0, y_offset = 0;
  uint32_t T = 1;
  bool accumulate = false;  // plain only
  bool glu = false;         // Y = silu(W X) * (W2 X)
  // Tokens per invocation (0: the default for this B and T).
  uint32_t tokens = 0;
  // Where the input blocks are transformed: by every SIMD group of lanes, each its own copy
  // (kPerGroup), or once per workgroup, a block per lane, into shared memory (kShared).  kAuto
  // picks by T (fused_shared_default).
  enum class Transform { kAuto, kPerGroup, kShared } transform = Transform::kAuto;
};

// kAuto's choice for T tokens, measured with benchmarks/circulant_benchmark on lavapipe at the
// default model's shapes: for one token the per-group form reads X through the uniform buffer
// and is 1.1-2x faster; from 8 tokens on the shared form is 1.0-1.5x faster (1.4-1.5x for B = 4).
bool fused_shared_default(uint32_t T);

// Records one dispatch.
void block_circulant_fused(vk::Context& ctx, vk::Stream& stream, const FusedCirculantArgs& a,
                           std::string_view label = "block_circulant_fused");

}  // namespace bcvk::ops
