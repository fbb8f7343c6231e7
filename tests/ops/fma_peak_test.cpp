// fma_peak computes what it claims: 512 steps of x = a*x + b on eight chains, summed — checked
// against a double-precision reference, so the roofline's FLOP count is real work.
#include <gtest/gtest.h>

#include <cmath>

#include "runtime/ops/fma_peak.h"
#include "runtime/vk/transfer.h"
#include "tests/support/gpu_test.h"

namespace bcvk {
namespace {

using FmaPeakTest = test::GpuTest;

TEST_F(FmaPeakTest, MatchesDoubleReference) {
  const uint32_t wg = ctx().tuning().elementwise_workgroup;
  const uint32_t n = 4 * wg;
  const float a = 0.999f, b = 0.001f;
  vk::Buffer out(ctx().allocator(), n * 16ull);
  vk::Stream stream(ctx().device());
  const double flops =
      ops::fma_peak(ctx(), stream, {.out = out.view(), .invocations = n, .a = a, .b = b});
  stream.submit_and_wait();
  EXPECT_EQ(flops, double(n) * ops::kFmaPeakIterations * 64);
  std::vector<float> v(n * 4);
  vk::download(ctx().allocator(), out, std::span<float>(v));
  for (uint32_t i = 0; i < n; i += 37) {
    double sum = 0;
    for (int c = 0; c < 8; ++c) {
      double x = double(float(i) * 1e-7f) + 0.1 * c;
      for (uint32_t k = 0; k < ops::kFmaPeakIterations; ++k) x = double(a) * x + double(b);
      sum += x;
    }
    for (int lane = 0; lane < 4; ++lane)
      ASSERT_NEAR(v[i * 4 + lane], sum, 1e-4 * sum) << "invocation " << i;
  }
}

}  // namespace
}  // namespace bcvk
