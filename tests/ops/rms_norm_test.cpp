// rms_norm against the double-precision CPU reference, widths that are not multiples of the
// workgroup, and a row offset (the final norm of only the last token).
#include "runtime/ops/rms_norm.h"

#include <gtest/gtest.h>

#include "tests/support/cpu_reference.h"
#include "tests/support/gpu_test.h"
#include "tests/support/op_check.h"
#include "tests/support/random.h"

namespace bcvk {
namespace {

class RmsNormTest : public test::GpuTest, public ::testing::WithParamInterface<uint32_t> {};

TEST_P(RmsNormTest, MatchesCpuReference) {
  const uint32_t D = GetParam(), T = 5;
  const test::OpCase c{"rms_norm", "D=" + std::to_string(D) + " T=" + std::to_string(T - 1), D};
  test::Rng rng(D);
  std::vector<float> x(size_t(T) * D), g(D);
  for (float& v : x) v = rng.uniform(-3.f, 3.f);
  for (float& v : g) v = rng.uniform(0.5f, 1.5f);
  auto xb = test::GuardedBuffer::of(ctx(), x), gb = test::GuardedBuffer::of(ctx(), g);
  auto yb = test::GuardedBuffer::poisoned(ctx(), size_t(T - 1) * D * 4);
  vk::Stream s(ctx().device());
  // Tokens 1 .. T-1.
  ops::rms_norm(ctx(), s,
                {.x = xb.view(),
                 .gain = gb.view(),
                 .y = yb.view(),
                 .D = D,
                 .T = T - 1,
                 .eps = 1e-5f,
                 .x_offset = D});
  s.submit_and_wait();
  test::Expected want;
  for (uint32_t t = 1; t < T; ++t) {
    const auto ref =
        test::cpu_rms_norm(std::vector<float>(x.begin() + t * D, x.begin() + (t + 1) * D), g, 1e-5);
    for (double r : ref) want.push(r, 1 + std::abs(r));
  }
  // A sum of D squares, a rsqrt (2 ulp in Vulkan) and a product, in f32: a few ulps (measured at
  // most 1.1e-7).
  EXPECT_TRUE(test::within(c, yb.read<float>(), want, 2e-6));
  EXPECT_TRUE(yb.guards_intact(c));
}

INSTANTIATE_TEST_SUITE_P(Widths, RmsNormTest, ::testing::Values(1u, 7u, 64u, 576u, 1000u));

}  // namespace
}  // namespace bcvk
