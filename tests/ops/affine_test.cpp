// affine op against a double-precision reference, over workgroup sizes and unroll factors
// given as specialization constants, and counts that are not multiples of either; nothing is
// written past `count` (the guard band after the output).
#include "runtime/ops/affine.h"

#include <gtest/gtest.h>

#include <cmath>
#include <tuple>

#include "tests/support/gpu_test.h"
#include "tests/support/op_check.h"
#include "tests/support/random.h"

namespace bcvk {
namespace {

class AffineTest : public test::GpuTest,
                   public ::testing::WithParamInterface<std::tuple<uint32_t, uint32_t, uint32_t>> {
};

TEST_P(AffineTest, MatchesDoubleReferenceAndWritesNothingPastCount) {
  const auto [workgroup, items, count] = GetParam();
  const test::OpCase c{"affine", "workgroup=" + std::to_string(workgroup) + " items=" +
                                     std::to_string(items) + " count=" + std::to_string(count)};
  test::Rng rng(count * 7 + workgroup);
  std::vector<float> x(count);
  for (float& v : x) v = rng.uniform(-100.f, 100.f);
  const float scale = -1.75f, shift = 0.3125f;
  auto xb = test::GuardedBuffer::of(ctx(), x);
  auto yb = test::GuardedBuffer::poisoned(ctx(), count * 4ull);
  vk::Stream stream(ctx().device());
  ops::affine(ctx(), stream,
              {.x = xb.view(),
               .y = yb.view(),
               .count = count,
               .scale = scale,
               .shift = shift,
               .config = {workgroup, items}});
  stream.submit_and_wait();
  test::Expected want;
  for (uint32_t i = 0; i < count; ++i) {
    const double ref = double(scale) * x[i] + double(shift);
    want.push(ref, std::max(1.0, std::abs(ref)));
  }
  EXPECT_TRUE(test::within(c, yb.read<float>(), want, 1e-6));
  EXPECT_TRUE(yb.guards_intact(c));
}

INSTANTIATE_TEST_SUITE_P(Shapes, AffineTest,
                         ::testing::Combine(::testing::Values(32u, 64u, 256u),
                                            ::testing::Values(1u, 3u),
                                            ::testing::Values(1u, 255u, 1000u, 65537u)));

}  // namespace
}  // namespace bcvk
