// silu_mul: h = silu(g) * u elementwise (the SwiGLU gate).
// Shader: shaders/silu_mul.comp.  Test: tests/ops/silu_mul_test.cpp.
#pragma once

#include <cstdint>

#include "runtime/vk/context.h"
#include "runtime/vk/stream.h"

namespace bcvk::ops {

// Mirrors `Push` in shaders/silu_mul.comp.
struct SiluMulPush {
  uint32_t count;
};
static_assert(sizeof(SiluMulPush) == 4);

struct SiluMulArgs {
  vk::BufferView g, u, h;
  uint32_t count = 0;
};
void silu_mul(vk::Context& ctx, vk::Stream& s, const SiluMulArgs& a);

}  // namespace bcvk::ops
