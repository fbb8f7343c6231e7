// affine: y = scale * x + shift over f32.  Shader: shaders/affine.comp.  Test:
// tests/ops/affine_test.cpp.
#pragma once

#include <cstdint>

#include "runtime/vk/context.h"
#include "runtime/vk/stream.h"

namespace bcvk::ops {

// Mirrors `Push` in shaders/affine.comp.
struct AffinePush {
  uint32_t count;
  float scale;
  float shift;
};
static_assert(sizeof(AffinePush) == 12);

struct AffineConfig {
  uint32_t workgroup_size = 0;        // 0: the device's element-wise default
  uint32_t items_per_invocation = 1;  // specialization constant 1
};

// y = scale * x + shift; x and y hold `count` floats each and fit in one binding.
struct AffineArgs {
  vk::BufferView x, y;
  uint32_t count = 0;
  float scale = 1.0f, shift = 0.0f;
  AffineConfig config = {};
};
void affine(vk::Context& ctx, vk::Stream& stream, const AffineArgs& a);

}  // namespace bcvk::ops
