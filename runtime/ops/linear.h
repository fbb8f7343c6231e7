// linear: Y (+)= W X for [N, K] weights and T tokens.  Shader: shaders/linear.comp.
// Test: tests/ops/linear_test.cpp.
#pragma once

#include <cstdint>

#include "runtime/ops/weight_layout.h"
#include "runtime/vk/context.h"
#include "runtime/vk/stream.h"

namespace bcvk::ops {

// Mirrors `Push` in shaders/linear.comp.
struct LinearPush {
  uint32_t K, N, T, x_stride, y_stride, y_offset, accumulate;
};
static_assert(sizeof(LinearPush) == 28);
// Mirrors `Push` in shaders/linear_q.comp: LinearPush plus the words per weight row.
struct LinearQPush {
  LinearPush base;
  uint32_t row_words;
};
static_assert(sizeof(LinearQPush) == 32);

// Launch shape; zeros pick the device's default.  Matrix-vector form (linear.comp): workgroup,
// rows, tokens.  Tiled form for many tokens (linear_tiled.comp): tile_n x tile_t outputs per
// workgroup, micro_n x micro_t per invocation.
// Row-per-lane form (block types, linear_q.comp ROW_PER_LANE): each invocation computes `tokens`
// outputs of one row; workgroup = rows per workgroup.
enum class LinearForm { kAuto, kMatVec, kTiled, kRowPerLane };
// How the row-per-lane form reads X: kAuto takes a uniform buffer for one token when K floats
// fit the device's uniform-buffer range (and 64 KiB), else a storage buffer.
enum class XBinding { kAuto, kStorage, kUniform };

// The row-per-lane form with X in a uniform buffer unrolls its loop over K's units of 32 values
// up to this K (shaders/linear_q.comp, kUnrollUnits); larger K keeps the loop.
constexpr uint32_t kUnrolledXMaxK = 2048;

struct LinearShape {
  uint32_t workgroup = 0, rows = 0, tokens = 0;
  LinearForm form = LinearForm::kAuto;
  uint32_t tile_n = 0, tile_t = 0, micro_n = 0, micro_t = 0;
  XBinding x_binding = XBinding::kAuto;
};
LinearShape default_linear_shape(const vk::PhysicalDeviceInfo& info, uint32_t T);
LinearShape default_block_linear_shape(const vk::PhysicalDeviceInfo& info, uint32_t T);

struct LinearArgs {
  vk::BufferView w;  // [N, K] row-major in the device layout of `type` (weight_layout.h)
  WeightType type = WeightType::kF32;
  uint32_t N = 0, K = 0;  // K must be a multiple of 4 and of the type's row granule
  vk::BufferView x;       // [T, x_stride] f32
  uint32_t x_stride = 0;
  vk::BufferView y;  // [T, y_stride] f32, written from column y_offset
  uint32_t y_stride = 0, y_offset = 0;
  uint32_t T = 1;
  bool accumulate = false;
  // The gated MLP's first half: Y[t, o] (+)= silu(W[o] X[t]) * W[N + o] X[t] for o < N, with W
  // holding 2N rows (gate rows, then up rows).  Only in the row-per-lane form
  // (linear_glu_available), and W's 2N rows must fit one storage-buffer binding.
  bool glu = false;
  LinearShape shape;  // override for tuning experiments
};

// Whether ops::linear with the default shape takes the row-per-lane form for `type` at T tokens,
// so `glu` can be asked for.
bool linear_glu_available(const vk::PhysicalDeviceInfo& info, WeightType type, uint32_t T);

// Records the dispatches (more than one when W exceeds one storage-buffer binding: rows are
// split into chunks bound at aligned offsets).
void linear(vk::Context& ctx, vk::Stream& stream, const LinearArgs& a,
            std::string_view label = "linear");

}  // namespace bcvk::ops
