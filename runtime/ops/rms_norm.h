// rms_norm: y[t] = x[t] / sqrt(mean(x[t]^2) + eps) * gain, one workgroup per token.
// Shader: shaders/rms_norm.comp.  Test: tests/ops/rms_norm_test.cpp.
#pragma once

#include <cstdint>

#include "runtime/vk/context.h"
#include "runtime/vk/stream.h"

namespace bcvk::ops {

// Mirrors `Push` in shaders/rms_norm.comp.
struct RmsNormPush {
  uint32_t D, x_stride, y_stride;
  float eps;
  uint32_t x_offset;
};
static_assert(sizeof(RmsNormPush) == 20);

struct RmsNormArgs {
  vk::BufferView x;     // rows of D floats; the first read starts at float x_offset
  vk::BufferView gain;  // [D]
  vk::BufferView y;     // [T, D]
  uint32_t D = 0, T = 0;
  float eps = 1e-5f;
  uint32_t x_offset = 0;
};
void rms_norm(vk::Context& ctx, vk::Stream& s, const RmsNormArgs& a);

}  // namespace bcvk::ops
