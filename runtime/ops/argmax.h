// argmax: result[r] = the first index of the largest of logits[r, 0..n), one workgroup per row.
// Shader: shaders/argmax.comp.  Test: tests/ops/argmax_test.cpp.
#pragma once

#include <cstdint>

#include "runtime/vk/context.h"
#include "runtime/vk/stream.h"

namespace bcvk::ops {

// Mirrors `Push` in shaders/argmax.comp.
struct ArgmaxPush {
  uint32_t n, stride;
};
static_assert(sizeof(ArgmaxPush) == 8);

struct ArgmaxArgs {
  vk::BufferView logits;  // rows of `stride` floats
  vk::BufferView result;  // [rows] uint32
  uint32_t n = 0, rows = 0, stride = 0;
};
void argmax(vk::Context& ctx, vk::Stream& s, const ArgmaxArgs& a);

}  // namespace bcvk::ops
