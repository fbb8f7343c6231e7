// linear op (both forms: matrix-vector and tiled) against a double-precision reference, on
// shapes that are not multiples of any block or tile, with strided input/output, an output
// column offset, accumulation into Y, and f16 weights.
#include <gtest/gtest.h>

#include <cmath>
#include <tuple>

#include "loaders/half.h"
#include "runtime/ops/linear.h"
#include "tests/support/gpu_test.h"
#include "tests/support/op_check.h"
#include "tests/support/random.h"

namespace bcvk {
namespace {

using Form = ops::LinearForm;

// N, K, T, form, f16, accumulate
class LinearTest : public test::GpuTest,
                   public ::testing::WithParamInterface<
                       std::tuple<uint32_t, uint32_t, uint32_t, Form, bool, bool>> {};

TEST_P(LinearTest, MatchesDoubleReference) {
  const auto [N, K, T, form, f16, accumulate] = GetParam();
  const uint32_t x_stride = K + 8, y_stride = N + 5, y_offset = 3;
  test::Rng rng(N * 131 + K * 7 + T);
  std::vector<float> w(size_t(N) * K), x(size_t(T) * x_stride), y0(size_t(T) * y_stride);
  for (float& v : w) v = rng.uniform(-1.f, 1.f);
  for (float& v : x) v = rng.uniform(-2.f, 2.f);
  for (float& v : y0) v = rng.uniform(-1.f, 1.f);
  std::vector<uint16_t> wh;
  if (f16) {
    for (float& v : w) {
      wh.push_back(loaders::float_to_half(v));
      v = loaders::half_to_float(wh.back());  // the reference uses the rounded weights
    }
  }
  const test::OpCase c{"linear",
                       "N=" + std::to_string(N) + " K=" + std::to_string(K) + " T=" +
                           std::to_string(T) + (form == Form::kMatVec ? " matvec" : " tiled") +
                           (f16 ? " f16" : " f32") + (accumulate ? " accumulate" : ""),
                       y_stride};
  auto wb = f16 ? test::GuardedBuffer::of(ctx(), wh) : test::GuardedBuffer::of(ctx(), w);
  auto xb = test::GuardedBuffer::of(ctx(), x), yb = test::GuardedBuffer::of(ctx(), y0);

  ops::LinearArgs a;
  a.w = wb.view();
  a.type = f16 ? ops::WeightType::kF16 : ops::WeightType::kF32;
  a.N = N - y_offset;  // rows written: columns y_offset .. N-1 of Y
  a.K = K;
  a.x = xb.view();
  a.x_stride = x_stride;
  a.y = yb.view();
  a.y_stride = y_stride;
  a.y_offset = y_offset;
  a.T = T;
  a.accumulate = accumulate;
  a.shape.form = form;
  vk::Stream stream(ctx().device());
  ops::linear(ctx(), stream, a);
  stream.submit_and_wait();
  // Columns outside y_offset .. N-1 keep their values exactly; the rest: the dot product's error
  // normalized by the sum of its terms' magnitudes (f32 accumulation: a few ulps of it).
  test::Expected want(y0.size());
  for (uint32_t t = 0; t < T; ++t)
    for (uint32_t col = 0; col < y_stride; ++col) {
      const size_t idx = size_t(t) * y_stride + col;
      if (col < y_offset || col >= N) {
        want.exact(idx, y0[idx]);
        continue;
      }
      const uint32_t o = col - y_offset;
      double ref = accumulate ? y0[idx] : 0.0, mag = std::abs(ref);
      for (uint32_t i = 0; i < K; ++i) {
        ref += double(w[size_t(o) * K + i]) * x[size_t(t) * x_stride + i];
        mag += std::abs(double(w[size_t(o) * K + i]) * x[size_t(t) * x_stride + i]);
      }
      want.set(idx, ref, mag + 1);
    }
  EXPECT_TRUE(test::within(c, yb.read<float>(), want, 1e-6));
  EXPECT_TRUE(yb.guards_intact(c));
}

INSTANTIATE_TEST_SUITE_P(Shapes, LinearTest,
                         ::testing::Combine(::testing::Values(7u, 77u, 200u),
                                            ::testing::Values(4u, 20u, 148u),
                                            ::testing::Values(1u, 5u, 33u),
                                            ::testing::Values(Form::kMatVec, Form::kTiled),
                                            ::testing::Bool(), ::testing::Bool()));

}  // namespace
}  // namespace bcvk
