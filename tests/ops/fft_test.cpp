// The FFT op (VkFFT through runtime/ops/fft.h) against the discrete Fourier transform computed
// in double on the CPU: the forward R2C transform gives X[k] = sum_n x[n] e^(-2 pi i k n / B) for
// k = 0 .. B/2, the inverse C2R gives B times the inverse transform of a Hermitian spectrum, for
// every block size the block-circulant layers use, one sequence and many; sequences of a batch
// do not leak into each other, and the plans of one shape are made once.  Measured: relative L2
// at most 1.5e-7 (f32 rounding); the bound is 1e-6.
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
  for (uint32_t b = 0; b < batches; ++b) {
    const auto X = dft(&x[size_t(b) * B], B);
    for (uint32_t k = 0; k < F; ++k) {
      want[(size_t(b) * F + k) * 2] = X[k].real();
      want[(size_t(b) * F + k) * 2 + 1] = X[k].imag();
    }
  }
  const double e_fwd = rel_l2(spectra, want);
  EXPECT_LE(e_fwd, 1e-6) << "forward B=" << B << " batches=" << batches;

  // Inverse of the exact spectra: B * x (unnormalized).
  std::vector<float> exact(want.begin(), want.end());
  vk::upload(ctx().allocator(), cb, std::span<const float>(exact));
  vk::Stream s2(ctx().device());
  plans.get({ops::FftDirection::kInverse, B, batches}).record(s2, "ifft");
  s2.submit_and_wait();
  const auto back = test::from_device<float>(ctx(), rb, x.size());
  std::vector<double> scaled(x.size());
  for (size_t i = 0; i < x.size(); ++i) scaled[i] = double(x[i]) * B;
  const double e_inv = rel_l2(back, scaled);
  EXPECT_LE(e_inv, 1e-6) << "inverse B=" << B << " batches=" << batches;
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
