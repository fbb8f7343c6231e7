// rope against the CPU reference, both pairings, partial rotary dimensions, and per-token
// positions from the token table (as packed prompts use them).
#include <gtest/gtest.h>

#include <cmath>

#include "runtime/ops/rope.h"
#include "tests/support/cpu_reference.h"
#include "tests/support/gpu_test.h"
#include "tests/support/op_check.h"
#include "tests/support/random.h"

namespace bcvk {
namespace {

class RopeTest : public test::GpuTest,
                 public ::testing::WithParamInterface<std::tuple<bool, uint32_t>> {};

TEST_P(RopeTest, MatchesCpuReference) {
  const auto [adjacent, rope_dims] = GetParam();
  const uint32_t hd = 64, heads = 3, T = 4, stride = heads * hd + 4, n_pos = 40;
  const double base = 10000.0;
  const std::vector<uint32_t> positions = {5, 0, 17, 39};
  test::Rng rng(rope_dims + adjacent);
  std::vector<float> x(size_t(T) * stride);
  for (float& v : x) v = rng.uniform(-1.f, 1.f);
  std::vector<float> table(size_t(n_pos) * rope_dims);
  for (uint32_t p = 0; p < n_pos; ++p)
    for (uint32_t i = 0; i < rope_dims / 2; ++i) {
      const double th = p * std::pow(base, -2.0 * i / rope_dims);
      table[(p * rope_dims / 2 + i) * 2] = float(std::cos(th));
      table[(p * rope_dims / 2 + i) * 2 + 1] = float(std::sin(th));
    }
  std::vector<uint32_t> info;
  for (uint32_t p : positions) info.insert(info.end(), {p, 0u});
  const test::OpCase c{"rope",
                       std::string(adjacent ? "adjacent" : "half-split") +
                           " rope_dims=" + std::to_string(rope_dims) + " heads=3 hd=64 T=4",
                       stride};
  auto xb = test::GuardedBuffer::of(ctx(), x), tb = test::GuardedBuffer::of(ctx(), table),
       ib = test::GuardedBuffer::of(ctx(), info);
  vk::Stream s(ctx().device());
  ops::rope(ctx(), s,
            {.x = xb.view(),
             .table = tb.view(),
             .token_info = ib.view(),
             .T = T,
             .n_heads = heads,
             .head_dim = hd,
             .rope_dims = rope_dims,
             .stride = stride,
             .adjacent = adjacent});
  s.submit_and_wait();
  // In place: rotated heads (inputs in [-1, 1]: scale 1); the padding between tokens untouched.
  test::Expected want(x.size());
  for (uint32_t t = 0; t < T; ++t) {
    for (uint32_t h = 0; h < heads; ++h) {
      std::vector<double> ref(x.begin() + t * stride + h * hd,
                              x.begin() + t * stride + (h + 1) * hd);
      test::cpu_rope(ref.data(), hd, rope_dims, positions[t], base, adjacent);
      for (uint32_t i = 0; i < hd; ++i) want.set(t * stride + h * hd + i, ref[i], 1.0);
    }
    for (uint32_t i = heads * hd; i < stride; ++i) want.exact(t * stride + i, x[t * stride + i]);
  }
  EXPECT_TRUE(test::within(c, xb.read<float>(), want, 2e-6));
  EXPECT_TRUE(xb.guards_intact(c));
}

INSTANTIATE_TEST_SUITE_P(Pairings, RopeTest,
                         ::testing::Combine(::testing::Bool(), ::testing::Values(64u, 32u)));

}  // namespace
}  // namespace bcvk
