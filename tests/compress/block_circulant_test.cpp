// Block-circulant projection, expansion and spectra against hand-worked values and properties
// that hold for the exact Frobenius projection.
#include "runtime/compress/block_circulant.h"

#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <numbers>
#include <random>

#include "tests/support/random.h"

namespace bcvk::compress {
namespace {

std::vector<float> random_matrix(uint32_t rows, uint32_t cols, uint64_t seed) {
  test::Rng rng(seed);
  std::vector<float> w(size_t(rows) * cols);
  for (float& v : w) v = rng.uniform(-1.f, 1.f);
  return w;
}

TEST(BlockCirculant, HandWorked2x2) {
  // [[1, 2], [3, 4]]: diagonal k=0 is {1, 4} -> 2.5, wrapped diagonal k=1 is {A[1][0], A[0][1]} =
  // {3, 2} -> 2.5; circulant [[c0, c1], [c1, c0]].
  const std::vector<float> w = {1, 2, 3, 4};
  const BlockCirculant bc = project_block_circulant(w, 2, 2, 2);
  ASSERT_EQ(bc.c.size(), 2u);
  EXPECT_FLOAT_EQ(bc.c[0], 2.5f);
  EXPECT_FLOAT_EQ(bc.c[1], 2.5f);
  // [[1, 5], [7, 1]] -> c0 = 1, c1 = (7 + 5) / 2 = 6.
  const BlockCirculant b2 = project_block_circulant(std::vector<float>{1, 5, 7, 1}, 2, 2, 2);
  EXPECT_FLOAT_EQ(b2.c[0], 1.f);
  EXPECT_FLOAT_EQ(b2.c[1], 6.f);
  EXPECT_EQ(expand(b2), (std::vector<float>{1, 6, 6, 1}));
}

TEST(BlockCirculant, HandWorked3x3Expansion) {
  // c = (1, 2, 3): C[r][s] = c[(r - s) mod 3] = [[1, 3, 2], [2, 1, 3], [3, 2, 1]].
  BlockCirculant bc = zero_block_circulant(3, 3, 3);
  bc.c = {1, 2, 3};
  EXPECT_EQ(expand(bc), (std::vector<float>{1, 3, 2, 2, 1, 3, 3, 2, 1}));
  EXPECT_EQ(project_block_circulant(expand(bc), 3, 3, 3).c, bc.c);
}

TEST(BlockCirculant, ProjectingABlockCirculantMatrixReturnsIt) {
  for (uint32_t B : {1u, 4u, 16u, 48u}) {
    BlockCirculant bc = zero_block_circulant(96, 192, B);
    test::Rng rng(B);
    for (float& v : bc.c) v = rng.uniform(-1.f, 1.f);
    const std::vector<float> w = expand(bc);
    const BlockCirculant again = project_block_circulant(w, 96, 192, B);
    for (size_t i = 0; i < bc.c.size(); ++i) ASSERT_NEAR(again.c[i], bc.c[i], 1e-6) << "B=" << B;
    EXPECT_LT(relative_frobenius_error(w, again), 1e-6);
  }
}

// The projection's residual R = W - W_c is orthogonal to every block-circulant matrix: <R, E_ijk> =
// 0 for the basis matrix E_ijk that has c_ij[k] = 1 and all else 0 (restricted to W's entries).
TEST(BlockCirculant, ResidualIsOrthogonalToEveryBlockCirculantMatrix) {
  for (auto [m, n, B] : std::vector<std::tuple<uint32_t, uint32_t, uint32_t>>{
           {32, 48, 16}, {30, 44, 8}, {7, 5, 4}}) {
    const std::vector<float> w = random_matrix(m, n, m * n + B);
    const BlockCirculant bc = project_block_circulant(w, m, n, B);
    const std::vector<float> wc = expand(bc);
    BlockCirculant basis = zero_block_circulant(m, n, B);
    for (size_t e = 0; e < basis.c.size(); ++e) {
      std::fill(basis.c.begin(), basis.c.end(), 0.f);
      basis.c[e] = 1.f;
      const std::vector<float> E = expand(basis);
      double dot = 0;
      for (size_t i = 0; i < w.size(); ++i) dot += (double(w[i]) - wc[i]) * E[i];
      ASSERT_NEAR(dot, 0.0, 1e-5) << m << "x" << n << " B=" << B << " basis " << e;
    }
    EXPECT_EQ(bc.padded(), m % B != 0 || n % B != 0);
  }
}

TEST(BlockCirculant, ErrorIsBetweenZeroAndOneAndShrinksWithSmallerBlocks) {
  const std::vector<float> w = random_matrix(64, 96, 5);
  double last = 1.0;
  for (uint32_t B : {32u, 16u, 8u, 4u, 1u}) {
    const double e = relative_frobenius_error(w, project_block_circulant(w, 64, 96, B));
    EXPECT_LE(e, last + 1e-12) << "B=" << B;
    last = e;
  }
  EXPECT_NEAR(last, 0.0, 1e-7);  // B = 1 is the dense matrix itself
}

TEST(BlockCirculant, SpectraAreTheScaledDftOfEachBlock) {
  BlockCirculant bc = zero_block_circulant(8, 4, 4);
  bc.c = {1, 0, 0, 0, /* block (1,0): */ 0, 1, 0, 0};
  const std::vector<float> s = weight_spectra(bc);
  ASSERT_EQ(s.size(), 2u * 3 * 2);
  // DFT of the unit impulse is 1 everywhere; of the shifted impulse, e^{-2 pi i f / 4}: 1, -i, -1.
  const std::complex<double> want[2][3] = {{1, 1, 1}, {{1, 0}, {0, -1}, {-1, 0}}};
  for (int b = 0; b < 2; ++b)
    for (int f = 0; f < 3; ++f) {
      EXPECT_NEAR(s[(b * 3 + f) * 2], want[b][f].real() / 4, 1e-7);
      EXPECT_NEAR(s[(b * 3 + f) * 2 + 1], want[b][f].imag() / 4, 1e-7);
    }
}

// The inverse of packed_spectra, by hand for B = 2 (S0 = (a + b) / 2, S1 = (a - b) / 2) and
// B = 4 (the unit impulse's spectra are all 1/4), and as a round trip at every even B that the
// 8-bit files use, padding included.
TEST(BlockCirculant, PackedSpectraInvertByHandAndRoundTrip) {
  const BlockCirculant two = from_packed_spectra(2, 2, 2, std::vector<float>{3, 1});
  EXPECT_EQ(two.c, (std::vector<float>{4, 2}));
  const BlockCirculant four = from_packed_spectra(4, 4, 4, std::vector<float>{.25f, .25f, .25f, 0});
  for (int k = 0; k < 4; ++k) EXPECT_NEAR(four.c[k], k == 0 ? 1.0 : 0.0, 1e-7) << k;
  std::mt19937 rng(3);
  std::normal_distribution<float> n(0, 1);
  for (uint32_t B : {2u, 4u, 6u, 8u, 16u, 32u, 64u}) {
    BlockCirculant bc = zero_block_circulant(100, 70, B);
    for (float& v : bc.c) v = n(rng);
    const BlockCirculant back = from_packed_spectra(100, 70, B, packed_spectra(bc));
    EXPECT_EQ(back.rows, 100u);
    EXPECT_EQ(back.cols, 70u);
    ASSERT_EQ(back.c.size(), bc.c.size());
    for (size_t i = 0; i < bc.c.size(); ++i) ASSERT_NEAR(back.c[i], bc.c[i], 2e-6) << B << " " << i;
  }
  EXPECT_THROW(from_packed_spectra(4, 4, 3, std::vector<float>(12)), std::invalid_argument);
  EXPECT_THROW(from_packed_spectra(4, 4, 4, std::vector<float>(15)), std::invalid_argument);
}

TEST(BlockCirculant, BadShapesAreRefused) {
  EXPECT_THROW(project_block_circulant(std::vector<float>(5), 2, 3, 2), std::invalid_argument);
  EXPECT_THROW(zero_block_circulant(4, 4, 0), std::invalid_argument);
}

}  // namespace
}  // namespace bcvk::compress
