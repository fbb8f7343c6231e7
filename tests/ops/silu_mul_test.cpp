// silu_mul against the double formula, over the range where exp over- and underflows in f32.
#include "runtime/ops/silu_mul.h"

#include <gtest/gtest.h>

#include <cmath>

#include "tests/support/gpu_test.h"
#include "tests/support/op_check.h"
#include "tests/support/random.h"

namespace bcvk {
namespace {

class SiluMulTest : public test::GpuTest, public ::testing::WithParamInterface<uint32_t> {};

TEST_P(SiluMulTest, MatchesTheFormula) {
  const uint32_t n = GetParam();
  const test::OpCase c{"silu_mul", "n=" + std::to_string(n)};
  test::Rng rng(2 + n);
  std::vector<float> g(n), u(n);
  for (float& v : g) v = rng.uniform(-100.f, 100.f);
  for (float& v : u) v = rng.uniform(-3.f, 3.f);
  auto gb = test::GuardedBuffer::of(ctx(), g), ub = test::GuardedBuffer::of(ctx(), u);
  auto hb = test::GuardedBuffer::poisoned(ctx(), n * 4);
  vk::Stream s(ctx().device());
  ops::silu_mul(ctx(), s, {.g = gb.view(), .u = ub.view(), .h = hb.view(), .count = n});
  s.submit_and_wait();
  test::Expected want;
  for (uint32_t i = 0; i < n; ++i) {
    const double ref = double(g[i]) / (1.0 + std::exp(-double(g[i]))) * u[i];
    want.push(ref, 1 + std::abs(ref));
  }
  // Vulkan allows exp 3 + 2|x| ulp: up to ~200 ulp (1.2e-5) at |g| = 100 on a GPU; lavapipe
  // measures 1.2e-7.
  EXPECT_TRUE(test::within(c, hb.read<float>(), want, 2e-5));
  EXPECT_TRUE(hb.guards_intact(c));
}

INSTANTIATE_TEST_SUITE_P(Counts, SiluMulTest, ::testing::Values(1u, 255u, 1000u, 6151u));

// A fused gate/up projection's output: T rows of [gate | up | padding] in one buffer, bound as
// both inputs; h is T rows of `width`.
class SiluMulPackedTest : public test::GpuTest {};

TEST_F(SiluMulPackedTest, ReadsGateAndUpRowsOfOneBuffer) {
  const uint32_t T = 3, width = 37, stride = 2 * width + 3;
  const test::OpCase c{"silu_mul", "packed rows"};
  test::Rng rng(11);
  std::vector<float> gu(T * stride);
  for (float& v : gu) v = rng.uniform(-8.f, 8.f);
  auto gub = test::GuardedBuffer::of(ctx(), gu);
  auto hb = test::GuardedBuffer::poisoned(ctx(), T * width * 4);
  vk::Stream s(ctx().device());
  ops::silu_mul(ctx(), s,
                {.g = gub.view(),
                 .u = gub.view(),
                 .h = hb.view(),
                 .count = T * width,
                 .width = width,
                 .in_stride = stride,
                 .u_offset = width});
  s.submit_and_wait();
  test::Expected want;
  for (uint32_t t = 0; t < T; ++t)
    for (uint32_t i = 0; i < width; ++i) {
      const double g = gu[t * stride + i], u = gu[t * stride + width + i];
      const double ref = g / (1.0 + std::exp(-g)) * u;
      want.push(ref, 1 + std::abs(ref));
    }
  EXPECT_TRUE(test::within(c, hb.read<float>(), want, 2e-5));
  EXPECT_TRUE(hb.guards_intact(c));
  EXPECT_TRUE(gub.guards_intact(c));
}

}  // namespace
}  // namespace bcvk
