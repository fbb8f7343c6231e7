// argmax against hand-placed maxima: ties go to the lower index, all-negative rows work, and
// values past n in a row (the stride's padding) are never picked.
#include "runtime/ops/argmax.h"

#include <gtest/gtest.h>

#include "tests/support/gpu_test.h"
#include "tests/support/op_check.h"

namespace bcvk {
namespace {

class ArgmaxTest : public test::GpuTest {};

std::vector<uint32_t> run_argmax(vk::Context& ctx, const test::OpCase& c,
                                 const std::vector<float>& x, uint32_t n, uint32_t rows,
                                 uint32_t stride) {
  auto xb = test::GuardedBuffer::of(ctx, x);
  auto ab = test::GuardedBuffer::poisoned(ctx, rows * 4);
  vk::Stream s(ctx.device());
  ops::argmax(ctx, s,
              {.logits = xb.view(), .result = ab.view(), .n = n, .rows = rows, .stride = stride});
  s.submit_and_wait();
  EXPECT_TRUE(ab.guards_intact(c));
  return ab.read<uint32_t>();
}

TEST_F(ArgmaxTest, PicksTheFirstLargest) {
  const uint32_t n = 300, rows = 3;
  const test::OpCase c{"argmax", "n=300 rows=3"};
  std::vector<float> x(size_t(rows) * n, -5.f);
  x[0 * n + 299] = 1.f;
  x[1 * n + 10] = -1.f;
  x[1 * n + 200] = -1.f;  // tie: the lower index wins
  x[2 * n + 0] = 3.f;
  const std::vector<uint32_t> want = {299, 10, 0};
  EXPECT_TRUE(test::equal_words(c, run_argmax(ctx(), c, x, n, rows, n), want));
}

TEST_F(ArgmaxTest, IgnoresTheStridePastN) {
  const uint32_t n = 1000, stride = 1037, rows = 4;
  const test::OpCase c{"argmax", "n=1000 stride=1037 rows=4"};
  std::vector<float> x(size_t(rows) * stride, 100.f);  // padding larger than any real value
  for (uint32_t r = 0; r < rows; ++r)
    for (uint32_t i = 0; i < n; ++i) x[size_t(r) * stride + i] = float((i * 37 + r * 11) % 997);
  // Each row's maximum, 996, is at the first i with (37 i + 11 r) % 997 == 996.
  std::vector<uint32_t> want(rows);
  for (uint32_t r = 0; r < rows; ++r) {
    float best = -1;
    for (uint32_t i = 0; i < n; ++i)
      if (x[size_t(r) * stride + i] > best) best = x[size_t(r) * stride + (want[r] = i)];
  }
  EXPECT_TRUE(test::equal_words(c, run_argmax(ctx(), c, x, n, rows, stride), want));
}

}  // namespace
}  // namespace bcvk
