// silu_mul: h = silu(g) * u elementwise (the SwiGLU gate).
// Shader: shaders/silu_mul.comp.  Test: tests/ops/silu_mul_test.cpp.
#pragma once

#include <cstdint>

#include "runtime/vk/context.h"
#include "runtime/vk/stream.h"

namespace bcvk::ops {

// Mirrors `Push` in shaders/silu_mul.comp.
struct SiluMulPush {
  uint32_t count, width, in_stride, u_offset;
};
static_assert(sizeof(SiluMulPush) == 16);

// h[t * width + c] = silu(g[t * in_stride + c]) * u[u_offset + t * in_stride + c] for the `count`
// outputs; width 0 means one row of `count`, in_stride 0 means `width`.  g and u may view one
// buffer: a fused gate/up projection writes rows [gate | up], u_offset = width, in_stride = 2
// width.
struct SiluMulArgs {
  vk::BufferView g, u, h;
  uint32_t count = 0;
  uint32_t width = 0, in_stride = 0, u_offset = 0;
};
void silu_mul(vk::Context& ctx, vk::Stream& s, const SiluMulArgs& a);

}  // namespace bcvk::ops
