// BlockCirculantLinear: Y (+)= W_c X for a block-circulant W_c
// (runtime/compress/block_circulant.h), on the device.  Three paths:
//   fused   one dispatch, every FFT in registers (runtime/ops/block_circulant_fused.h): for
//           power-of-two B from 2 to 64; record_circulant_glu runs gate, up and the SiLU
//           product of a gated MLP in one dispatch.
//   FFT     pack X into blocks -> VkFFT R2C -> frequency-domain multiply-accumulate with the weight
//           spectra (computed once, on the host, when the layer is made) -> VkFFT C2R -> unpack
//           into Y.  O(n log B) per block row instead of O(n B).
//   direct  sum_j C(c_ij) x_j straight from the circulant parameters, no FFT: for small B, where
//           five dispatches cost more than the arithmetic they save.
// Shader: shaders/block_circulant.comp; FFTs: runtime/ops/fft.h.  Test:
// tests/ops/block_circulant_test.cpp.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "runtime/compress/block_circulant.h"
#include "runtime/ops/block_circulant_fused.h"
#include "runtime/ops/fft.h"
#include "runtime/vk/context.h"
#include "runtime/vk/stream.h"

namespace bcvk::ops {

// Mirrors `Push` in shaders/block_circulant.comp.
struct BlockCirculantPush {
  uint32_t T, m, n, B, p, q, x_stride, y_stride, y_offset, accumulate, x_offset;
  uint32_t T_bucket = 0;  // PACK: rows up to here, zeros past T
};
static_assert(sizeof(BlockCirculantPush) == 48);

enum class CirculantPath { kAuto, kFft, kDirect, kFused };
const char* circulant_path_name(CirculantPath p);

// Scratch buffers and FFT plans shared by every FFT-path layer of one block size (and every
// session that runs them): one VkFFT plan per (direction, B, batch), made on first use.
// Calls with more than max_tokens tokens are split into chunks of max_tokens.
class CirculantWorkspace {
 public:
  CirculantWorkspace(vk::Context& ctx, uint32_t block, uint32_t max_blocks,
                     uint32_t max_tokens = 64);
  // The FFT plans hold references to this workspace's own buffers: it stays where it was made.
  CirculantWorkspace(const CirculantWorkspace&) = delete;
  CirculantWorkspace& operator=(const CirculantWorkspace&) = delete;
  CirculantWorkspace(CirculantWorkspace&&) = delete;
  CirculantWorkspace& operator=(CirculantWorkspace&&) = delete;
  uint32_t block() const { return block_; }
  uint32_t max_blocks() const { return max_blocks_; }
  uint32_t max_tokens() const { return max_tokens_; }
  // Plans are made for token counts rounded up to a power of two, so a handful of plans serves
  // every prompt length.
  uint32_t token_bucket(uint32_t T) const;
  uint64_t plans_created() const { return forward_.created() + inverse_.created(); }
  uint64_t plans_compiled() const { return forward_.from_source() + inverse_.from_source(); }
  uint64_t device_bytes() const;

 private:
  friend class BlockCirculantLinear;
  uint32_t block_, max_blocks_, max_tokens_;
  vk::Buffer real_in_, complex_in_, complex_out_, real_out_;
  FftPlans forward_, inverse_;
};

struct CirculantCall {
  vk::BufferView x;  // [T][x_stride] f32
  uint32_t x_stride = 0;
  vk::BufferView y;  // [T][y_stride] f32, written from column y_offset
  uint32_t y_stride = 0, y_offset = 0;
  uint32_t T = 1;
  bool accumulate = false;
  // FFT path: the workspace still holds the input spectrum of this very x (the previous call had
  // the same input, T and block size, e.g. gate then up): skip packing and the forward FFT.
  bool reuse_input_spectrum = false;
  // Fused path: where the input blocks are transformed (benchmarks and tests pick; kAuto
  // otherwise).
  FusedCirculantArgs::Transform transform = FusedCirculantArgs::Transform::kAuto;
};

class BlockCirculantLinear {
 public:
  // Uploads the parameters the chosen path needs: the spectra for FFT, packed spectra for fused,
  // c itself for direct.  kAuto picks fused where it takes B, else direct below B = 16 (and
  // always for B < 2, which has no FFT), FFT otherwise; MlpPatch instead times them per shape
  // (MlpPatch::path_choices).  kQ8 weights exist only on the fused path.
  BlockCirculantLinear(vk::Context& ctx, const compress::BlockCirculant& params,
                       CirculantPath path = CirculantPath::kAuto,
                       CirculantWeights weights = CirculantWeights::kF32);

  uint32_t rows() const { return m_; }
  uint32_t cols() const { return n_; }
  uint32_t block() const { return B_; }
  CirculantPath path() const { return path_; }
  CirculantWeights weights() const { return weights_type_; }
  uint64_t parameters() const { return parameters_; }
  uint64_t device_bytes() const { return weights_.size(); }
  // Weight-spectrum computations done (once, in the constructor, for the FFT path).
  uint64_t spectra_computed() const { return spectra_computed_; }

  // Records Y (+)= W_c X.  `ws` (block size B) is required for the FFT path.
  void record(vk::Context& ctx, vk::Stream& stream, CirculantWorkspace* ws,
              const CirculantCall& call, std::string_view label = "block_circulant") const;
  // Dispatches per record() of T tokens (FFT: chunks of the workspace's tokens, 4 or 5 each).
  uint32_t dispatches(uint32_t T, const CirculantWorkspace* ws, bool reuse_input_spectrum) const;
  const vk::Buffer& weight_buffer() const { return weights_; }

 private:
  void record_fft(vk::Context& ctx, vk::Stream& s, CirculantWorkspace& ws, const CirculantCall& c,
                  uint32_t t0, uint32_t T, std::string_view label) const;

  uint32_t m_, n_, B_, p_, q_;
  CirculantPath path_;
  CirculantWeights weights_type_;
  uint64_t parameters_ = 0;
  uint64_t spectra_computed_ = 0;
  // spectra [p][q][B/2+1] complex, packed spectra [p][q][B], or c [p][q][B]; f32, packed f16 or
  // (fused) 8-bit
  vk::Buffer weights_;
};

// Y = silu(W_gate X) * (W_up X) in one dispatch, both layers on the fused path with one shape,
// block size and weight type (fusable_glu); call.accumulate must be false.
bool fusable_glu(const BlockCirculantLinear& gate, const BlockCirculantLinear& up);
void record_circulant_glu(vk::Context& ctx, vk::Stream& stream, const BlockCirculantLinear& gate,
                          const BlockCirculantLinear& up, const CirculantCall& call,
                          std::string_view label = "block_circulant_glu");

}  // namespace bcvk::ops
