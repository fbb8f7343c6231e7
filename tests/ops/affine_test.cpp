// affine op against a double-precision reference, over workgroup sizes and unroll factors
// given as specialization constants, and counts that are not multiples of either.
#include <gtest/gtest.h>

#include <cmath>
#include <tuple>

#include "runtime/ops/affine.h"
#include "runtime/vk/transfer.h"
#include "tests/support/gpu_test.h"
#include "tests/support/random.h"

namespace bcvk {
namespace {

class AffineTest : public test::GpuTest,
                   public ::testing::WithParamInterface<std::tuple<uint32_t, uint32_t, uint32_t>> {
};

TEST_P(AffineTest, MatchesDoubleReferenceAndWritesNothingPastCount) {
  const auto [workgroup, items, count] = GetParam();
  const uint32_t capacity = count + 67;  // room past `count` that must stay untouched
  test::Rng rng(count * 7 + workgroup);
  std::vector<float> x(capacity), y_init(capacity, std::nanf(""));
  for (float& v : x) v = rng.uniform(-100.f, 100.f);
  const float scale = -1.75f, shift = 0.3125f;

  vk::Buffer xb(ctx().allocator(), capacity * 4ull), yb(ctx().allocator(), capacity * 4ull);
  vk::upload(ctx().allocator(), xb, std::span<const float>(x));
  vk::upload(ctx().allocator(), yb, std::span<const float>(y_init));
  vk::Stream stream(ctx().device());
  ops::affine(ctx(), stream,
              {.x = xb.view(),
               .y = yb.view(),
               .count = count,
               .scale = scale,
               .shift = shift,
               .config = {workgroup, items}});
  stream.submit_and_wait();
  std::vector<float> y(capacity);
  vk::download(ctx().allocator(), yb, std::span<float>(y));

  for (uint32_t i = 0; i < count; ++i) {
    const double ref = double(scale) * x[i] + double(shift);
    ASSERT_NEAR(y[i], ref, 1e-6 * std::max(1.0, std::abs(ref)))
        << "affine wg=" << workgroup << " items=" << items << " count=" << count << " at " << i;
  }
  for (uint32_t i = count; i < capacity; ++i)
    ASSERT_TRUE(std::isnan(y[i])) << "wrote past count at " << i;
}

INSTANTIATE_TEST_SUITE_P(Shapes, AffineTest,
                         ::testing::Combine(::testing::Values(32u, 64u, 256u),
                                            ::testing::Values(1u, 3u),
                                            ::testing::Values(1u, 255u, 1000u, 65537u)));

}  // namespace
}  // namespace bcvk
