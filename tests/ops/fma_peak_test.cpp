// fma_peak computes what it claims: 512 steps of x = a*x + b on eight chains, summed — checked
// against a double-precision reference, so the roofline's FLOP count is real work.
#include <gtest/gtest.h>

#include <cmath>

#include "runtime/ops/fma_peak.h"
#include "tests/support/gpu_test.h"
#include "tests/support/op_check.h"

namespace bcvk {
namespace {

using FmaPeakTest = test::GpuTest;

TEST_F(FmaPeakTest, MatchesDoubleReference) {
  const uint32_t wg = ctx().tuning().elementwise_workgroup;
  const uint32_t n = 4 * wg;
  const float a = 0.999f, b = 0.001f;
  const test::OpCase c{"fma_peak", "invocations=" + std::to_string(n), 4};
  auto out = test::GuardedBuffer::poisoned(ctx(), n * 16ull);
  vk::Stream stream(ctx().device());
  const double flops =
      ops::fma_peak(ctx(), stream, {.out = out.view(), .invocations = n, .a = a, .b = b});
  stream.submit_and_wait();
  EXPECT_EQ(flops, double(n) * ops::kFmaPeakIterations * 64);
  test::Expected want;
  for (uint32_t i = 0; i < n; ++i) {
    double sum = 0;
    for (int ch = 0; ch < 8; ++ch) {
      double x = double(float(i) * 1e-7f) + 0.1 * ch;
      for (uint32_t k = 0; k < ops::kFmaPeakIterations; ++k) x = double(a) * x + double(b);
      sum += x;
    }
    for (int lane = 0; lane < 4; ++lane) want.push(sum, sum);
  }
  // 512 dependent f32 steps per chain: rounding grows with the chain, far below 1e-4.
  EXPECT_TRUE(test::within(c, out.read<float>(), want, 1e-4));
  EXPECT_TRUE(out.guards_intact(c));
}

}  // namespace
}  // namespace bcvk
