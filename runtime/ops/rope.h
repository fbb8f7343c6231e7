// rope: rotary position embedding of T tokens of n_heads heads, in place.
// Shader: shaders/rope.comp.  Test: tests/ops/rope_test.cpp.
#pragma once

#include <cstdint>

#include "runtime/vk/context.h"
#include "runtime/vk/stream.h"

namespace bcvk::ops {

// Mirrors `Push` in shaders/rope.comp.
struct RopePush {
  uint32_t T, n_heads, head_dim, rope_dims, stride, offset, adjacent;
};
static_assert(sizeof(RopePush) == 28);

struct RopeArgs {
  vk::BufferView x;           // rows of `stride` floats from float `offset`, rotated in place
  vk::BufferView table;       // (cos, sin) per [position][rope_dims / 2]
  vk::BufferView token_info;  // (position, first key row) per token, uint pairs
  uint32_t T = 0, n_heads = 0, head_dim = 0, rope_dims = 0, stride = 0, offset = 0;
  bool adjacent = false;  // pairs (2i, 2i+1) instead of (i, i + rope_dims/2)
};
void rope(vk::Context& ctx, vk::Stream& s, const RopeArgs& a);

}  // namespace bcvk::ops
