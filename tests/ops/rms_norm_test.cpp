// rms_norm against the double-precision CPU reference, widths that are not multiples of the
// workgroup, and a row offset (the final norm of only the last token).
#include <gtest/gtest.h>

#include "runtime/ops/rms_norm.h"
#include "tests/support/cpu_reference.h"
#include "tests/support/device_vectors.h"
#include "tests/support/gpu_test.h"
#include "tests/support/random.h"

namespace bcvk {
namespace {

class RmsNormTest : public test::GpuTest, public ::testing::WithParamInterface<uint32_t> {};

TEST_P(RmsNormTest, MatchesCpuReference) {
  const uint32_t D = GetParam(), T = 5;
  test::Rng rng(D);
  std::vector<float> x(size_t(T) * D), g(D);
  for (float& v : x) v = rng.uniform(-3.f, 3.f);
  for (float& v : g) v = rng.uniform(0.5f, 1.5f);
  auto xb = test::to_device(ctx(), x), gb = test::to_device(ctx(), g);
  vk::Buffer yb(ctx().allocator(), size_t(T) * D * 4);
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
  const auto y = test::from_device<float>(ctx(), yb, size_t(T - 1) * D);
  for (uint32_t t = 1; t < T; ++t) {
    const auto ref =
        test::cpu_rms_norm(std::vector<float>(x.begin() + t * D, x.begin() + (t + 1) * D), g, 1e-5);
    for (uint32_t i = 0; i < D; ++i)
      ASSERT_NEAR(y[(t - 1) * D + i], ref[i], 1e-5 * (1 + std::abs(ref[i]))) << t << "," << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Widths, RmsNormTest, ::testing::Values(1u, 7u, 64u, 576u, 1000u));

}  // namespace
}  // namespace bcvk
