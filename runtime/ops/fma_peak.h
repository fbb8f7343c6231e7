// fma_peak: a compute-bound probe for the roofline.  Shader: shaders/fma_peak.comp.
// Test: tests/ops/fma_peak_test.cpp.
#pragma once

#include <cstdint>

#include "runtime/vk/context.h"
#include "runtime/vk/stream.h"

namespace bcvk::ops {

// Mirrors `Push` in shaders/fma_peak.comp.
struct FmaPeakPush {
  float a;
  float b;
};
static_assert(sizeof(FmaPeakPush) == 8);

constexpr uint32_t kFmaPeakIterations = 512;

struct FmaPeakArgs {
  vk::BufferView out;  // one vec4 per invocation (16 bytes each)
  uint32_t invocations = 0;
  float a = 0.999f, b = 0.001f;  // the FMA chain's constants
};
// Returns the FLOPs dispatched.
double fma_peak(vk::Context& ctx, vk::Stream& stream, const FmaPeakArgs& a);

}  // namespace bcvk::ops
