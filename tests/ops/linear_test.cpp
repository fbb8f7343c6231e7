// linear op (both forms: matrix-vector and tiled) against a double-precision reference, on
// shapes that are not multiples of any block or tile, with strided input/output, an output
// column offset, accumulation into Y, and f16 weights.
#include <gtest/gtest.h>

#include <cmath>
#include <tuple>

#include "loaders/half.h"
#include "runtime/ops/linear.h"
#include "runtime/vk/transfer.h"
#include "tests/support/gpu_test.h"
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
  vk::Buffer wb(ctx().allocator(), w.size() * (f16 ? 2 : 4) + 16),
      xb(ctx().allocator(), x.size() * 4), yb(ctx().allocator(), y0.size() * 4);
  if (f16)
    vk::upload(ctx().allocator(), wb, std::span<const uint16_t>(wh));
  else
    vk::upload(ctx().allocator(), wb, std::span<const float>(w));
  vk::upload(ctx().allocator(), xb, std::span<const float>(x));
  vk::upload(ctx().allocator(), yb, std::span<const float>(y0));

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
  std::vector<float> y(y0.size());
  vk::download(ctx().allocator(), yb, std::span<float>(y));

  for (uint32_t t = 0; t < T; ++t)
    for (uint32_t c = 0; c < y_stride; ++c) {
      const size_t idx = size_t(t) * y_stride + c;
      if (c < y_offset || c >= N) {
        ASSERT_EQ(y[idx], y0[idx]) << "wrote outside the output columns at t=" << t << " c=" << c;
        continue;
      }
      const uint32_t o = c - y_offset;
      double ref = accumulate ? y0[idx] : 0.0, mag = std::abs(ref);
      for (uint32_t i = 0; i < K; ++i) {
        ref += double(w[size_t(o) * K + i]) * x[size_t(t) * x_stride + i];
        mag += std::abs(double(w[size_t(o) * K + i]) * x[size_t(t) * x_stride + i]);
      }
      ASSERT_NEAR(y[idx], ref, 1e-6 * mag + 1e-6) << "t=" << t << " row=" << o;
    }
}

INSTANTIATE_TEST_SUITE_P(Shapes, LinearTest,
                         ::testing::Combine(::testing::Values(7u, 77u, 200u),
                                            ::testing::Values(4u, 20u, 148u),
                                            ::testing::Values(1u, 5u, 33u),
                                            ::testing::Values(Form::kMatVec, Form::kTiled),
                                            ::testing::Bool(), ::testing::Bool()));

}  // namespace
}  // namespace bcvk
