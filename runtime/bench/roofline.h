// The device's roofline, measured on the spot: streaming bandwidth (copy kernel) and peak FMA
// throughput (fma_peak kernel), each the median over repetitions of device-timed dispatches.
#pragma once

#include <cstdint>
#include <vector>

#include "runtime/vk/context.h"
#include "runtime/vk/profile.h"

namespace bcvk::bench {

struct Roofline {
  double bandwidth_gbs = 0;  // bytes read + written per second, 1e9
  double fma_gflops = 0;     // 1e9 FLOP/s
  std::vector<double> bandwidth_samples_gbs;
  std::vector<double> fma_samples_gflops;
  uint64_t copy_bytes = 0;  // bytes per copy direction
  uint32_t fma_invocations = 0;
  // The bound a kernel with this arithmetic intensity (FLOP per byte) can reach.
  double bound_gflops(double flop_per_byte) const;
};

// bcvk bench takes at least this many samples of each roofline figure.
constexpr int kMinRooflineReps = 9;

// `profile`, when given, collects every timed dispatch.
Roofline measure_roofline(vk::Context& ctx, int reps, vk::ProfileTable* profile = nullptr);

}  // namespace bcvk::bench
