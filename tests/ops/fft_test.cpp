// The FFT op (VkFFT through runtime/ops/fft.h) against the discrete Fourier transform computed
// in double on the CPU: the forward R2C transform gives X[k] = sum_n x[n] e^(-2 pi i k n / B) for
// k = 0 .. B/2, the inverse C2R gives B times the inverse transform of a Hermitian spectrum, for
// every block size the block-circulant layers use, one sequence and many; sequences of a batch
// do not leak into each other, and the plans of one shape are made once.  Each value's error is
// normalized by the largest magnitude any value of its sequence can have (the L1 norm of the
// input the transform sums over); the bound is 1e-6.  Measured relative L2: at most 1.5e-7 (f32
// rounding).  The plans bind whole buffers, so the guard band is the real buffer's spare room
// past the data: poisoned, and still poisoned after the inverse transform wrote the buffer.
#include "runtime/ops/fft.h"

#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <cstdio>
#include <numbers>
#include <tuple>

#include "runtime/vk/transfer.h"
#include "tests/support/compare.h"
#include "tests/support/device_vectors.h"
#include "tests/support/gpu_test.h"
#include "tests/support/op_check.h"
#include "tests/support/random.h"

namespace bcvk {
namespace {

using cd = std::complex<double>;
using test::rel_l2;

// X[k] for k = 0 .. B/2 of one real sequence, in double.
std::vector<cd> dft(const float* x, uint32_t B) {
  std::vector<cd> X(B / 2 + 1);
  for (uint32_t k = 0; k <= B / 2; ++k)
    for (uint32_t n = 0; n < B; ++n)
      X[k] += double(x[n]) * std::polar(1.0, -2 * std::numbers::pi * double(k) * n / B);
  return X;
}

class FftTest : public test::GpuTest,
                public ::testing::WithParamInterface<std::tuple<uint32_t, uint32_t>> {};

TEST_P(FftTest, ForwardAndInverseMatchTheDft) {
  const auto [B, batches] = GetParam();
  const uint32_t F = B / 2 + 1;
  const std::string shape = "B=" + std::to_string(B) + " batches=" + std::to_string(batches);
  const test::OpCase fwd{"fft forward", shape, 2 * F}, inv{"fft inverse", shape, B};
  test::Rng rng(B * 13 + batches);
  std::vector<float> x(size_t(batches) * B);
  for (float& v : x) v = rng.uniform(-1.f, 1.f);
  // Spare room past the data (the real buffer is sized for VkFFT's padded layout) is poisoned, so
  // a transform that reads it shows.
  std::vector<float> real(ops::fft_real_buffer_bytes(B, batches) / 4, std::nanf(""));
  std::copy(x.begin(), x.end(), real.begin());
  vk::Buffer rb = test::to_device(ctx(), real);
  vk::Buffer cb(ctx().allocator(), ops::fft_complex_buffer_bytes(B, batches));
  ops::FftPlans plans(ctx(), rb, cb);

  vk::Stream s(ctx().device());
  plans.get({ops::FftDirection::kForward, B, batches}).record(s, "fft");
  s.submit_and_wait();
  const auto spectra = test::from_device<float>(ctx(), cb, size_t(batches) * F * 2);
  std::vector<double> want(spectra.size());
  test::Expected want_fwd, want_inv;
  for (uint32_t b = 0; b < batches; ++b) {
    const auto X = dft(&x[size_t(b) * B], B);
    double l1 = 0, spectrum_l1 = 0;  // |X_k| <= l1; |B x_n| <= the sum of all B bins' |X_k|
    for (uint32_t n = 0; n < B; ++n) l1 += std::abs(x[size_t(b) * B + n]);
    for (uint32_t k = 0; k < F; ++k) spectrum_l1 += std::abs(X[k]) * (k == 0 || 2 * k == B ? 1 : 2);
    for (uint32_t k = 0; k < F; ++k) {
      want[(size_t(b) * F + k) * 2] = X[k].real();
      want[(size_t(b) * F + k) * 2 + 1] = X[k].imag();
      want_fwd.push(X[k].real(), l1);
      want_fwd.push(X[k].imag(), l1);
    }
    for (uint32_t n = 0; n < B; ++n) want_inv.push(double(x[size_t(b) * B + n]) * B, spectrum_l1);
  }
  EXPECT_TRUE(test::within(fwd, spectra, want_fwd, 1e-6));
  const double e_fwd = rel_l2(spectra, want);

  // Inverse of the exact spectra: B * x (unnormalized).
  std::vector<float> exact(want.begin(), want.end());
  vk::upload(ctx().allocator(), cb, std::span<const float>(exact));
  vk::Stream s2(ctx().device());
  plans.get({ops::FftDirection::kInverse, B, batches}).record(s2, "ifft");
  s2.submit_and_wait();
  const auto all = test::from_device<float>(ctx(), rb, real.size());
  const std::vector<float> back(all.begin(), all.begin() + x.size());
  EXPECT_TRUE(test::within(inv, back, want_inv, 1e-6));
  for (size_t i = x.size(); i < all.size(); ++i)
    ASSERT_TRUE(std::isnan(all[i])) << "fft inverse [" << shape << "]: wrote the spare room at "
                                    << i - x.size() << " past the data";
  std::vector<double> scaled(x.size());
  for (size_t i = 0; i < x.size(); ++i) scaled[i] = double(x[i]) * B;
  const double e_inv = rel_l2(back, scaled);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3g %.3g", e_fwd, e_inv);
  RecordProperty("relative_l2_forward_inverse", buf);
  EXPECT_EQ(plans.created(), 2u);
  plans.get({ops::FftDirection::kForward, B, batches});  // made once
  EXPECT_EQ(plans.created(), 2u);
}

INSTANTIATE_TEST_SUITE_P(Sizes, FftTest,
                         ::testing::Combine(::testing::Values(2u, 4u, 16u, 48u, 64u, 96u, 192u),
                                            ::testing::Values(1u, 3u, 16u)));

}  // namespace
}  // namespace bcvk
