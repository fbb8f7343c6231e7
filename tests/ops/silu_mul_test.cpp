// silu_mul against the double formula.
#include <gtest/gtest.h>

#include <cmath>

#include "runtime/ops/silu_mul.h"
#include "tests/support/device_vectors.h"
#include "tests/support/gpu_test.h"
#include "tests/support/random.h"

namespace bcvk {
namespace {

class SiluMulTest : public test::GpuTest {};

TEST_F(SiluMulTest, MatchesTheFormula) {
  const uint32_t n = 1000;
  test::Rng rng(2);
  std::vector<float> g(n), u(n);
  for (float& v : g) v = rng.uniform(-20.f, 20.f);
  for (float& v : u) v = rng.uniform(-3.f, 3.f);
  auto gb = test::to_device(ctx(), g), ub = test::to_device(ctx(), u);
  vk::Buffer hb(ctx().allocator(), n * 4);
  vk::Stream s(ctx().device());
  ops::silu_mul(ctx(), s, {.g = gb.view(), .u = ub.view(), .h = hb.view(), .count = n});
  s.submit_and_wait();
  const auto h = test::from_device<float>(ctx(), hb, n);
  for (uint32_t i = 0; i < n; ++i) {
    const double ref = double(g[i]) / (1.0 + std::exp(-double(g[i]))) * u[i];
    ASSERT_NEAR(h[i], ref, 1e-5 * (1 + std::abs(ref))) << i;
  }
}

}  // namespace
}  // namespace bcvk
