// silu_mul against the double formula; argmax on rows with ties and negative values.
#include <gtest/gtest.h>

#include <cmath>

#include "runtime/ops/elementwise.h"
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
  ops::silu_mul(ctx(), s, gb.view(), ub.view(), hb.view(), n);
  s.submit_and_wait();
  const auto h = test::from_device<float>(ctx(), hb, n);
  for (uint32_t i = 0; i < n; ++i) {
    const double ref = double(g[i]) / (1.0 + std::exp(-double(g[i]))) * u[i];
    ASSERT_NEAR(h[i], ref, 1e-5 * (1 + std::abs(ref))) << i;
  }
}

TEST_F(SiluMulTest, ArgmaxPicksTheFirstLargest) {
  const uint32_t n = 300, rows = 3;
  std::vector<float> x(size_t(rows) * n, -5.f);
  x[0 * n + 299] = 1.f;
  x[1 * n + 10] = -1.f;
  x[1 * n + 200] = -1.f;  // tie: the lower index wins
  x[2 * n + 0] = 3.f;
  auto xb = test::to_device(ctx(), x);
  vk::Buffer ab(ctx().allocator(), rows * 4);
  vk::Stream s(ctx().device());
  ops::argmax(ctx(), s, xb.view(), ab.view(), n, rows, n);
  s.submit_and_wait();
  EXPECT_EQ(test::from_device<uint32_t>(ctx(), ab, rows), (std::vector<uint32_t>{299, 10, 0}));
}

}  // namespace
}  // namespace bcvk
