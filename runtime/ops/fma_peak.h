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

// Writes one vec4 per invocation into `out` (16 bytes each); returns the FLOPs dispatched.
double fma_peak(vk::Context& ctx, vk::Stream& stream, vk::BufferView out, uint32_t invocations,
                float a = 0.999f, float b = 0.001f);

}  // namespace bcvk::ops
