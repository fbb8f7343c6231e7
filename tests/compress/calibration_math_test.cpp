// Activation-aware fits: block-circulant least squares and the low-rank baseline, on synthetic
// data whose answer is known; and the one ridge formula they share.
#include <gtest/gtest.h>

#include <cmath>

#include "runtime/compress/circulant_least_squares.h"
#include "runtime/compress/low_rank.h"
#include "runtime/compress/ridge.h"
#include "tests/support/random.h"

namespace bcvk::compress {
namespace {

std::vector<float> matvec(const std::vector<float>& w, uint32_t m, uint32_t n, const float* x) {
  std::vector<float> y(m);
  for (uint32_t i = 0; i < m; ++i) {
    double s = 0;
    for (uint32_t j = 0; j < n; ++j) s += double(w[size_t(i) * n + j]) * x[j];
    y[i] = float(s);
  }
  return y;
}

TEST(CirculantLeastSquares, RecoversAKnownBlockCirculantMap) {
  for (auto [m, n, B] : std::vector<std::tuple<uint32_t, uint32_t, uint32_t>>{
           {24, 16, 8}, {32, 48, 16}, {18, 12, 6}}) {
    test::Rng rng(m + n + B);
    BlockCirculant truth = zero_block_circulant(m, n, B);
    for (float& v : truth.c) v = rng.uniform(-1.f, 1.f);
    const auto w = expand(truth);
    const uint32_t T = 4 * n;
    std::vector<float> x(size_t(T) * n), y;
    for (float& v : x) v = rng.uniform(-1.f, 1.f);
    for (uint32_t t = 0; t < T; ++t) {
      const auto yt = matvec(w, m, n, &x[size_t(t) * n]);
      y.insert(y.end(), yt.begin(), yt.end());
    }
    CirculantLeastSquares ls(m, n, B);
    ls.add(x, y, T);
    double lambda = 0;
    const BlockCirculant fit = ls.solve(1e-10, &lambda);
    EXPECT_GT(lambda, 0);
    for (size_t i = 0; i < truth.c.size(); ++i)
      ASSERT_NEAR(fit.c[i], truth.c[i], 1e-4) << m << "x" << n << " B=" << B;
  }
}

TEST(CirculantLeastSquares, OnWhiteInputsEqualsTheProjection) {
  const uint32_t m = 32, n = 24, B = 8;
  test::Rng rng(3);
  std::vector<float> w(size_t(m) * n);
  for (float& v : w) v = rng.uniform(-1.f, 1.f);
  // x_t = e_t: sum_t x x^T = I exactly, and y_t is column t of W.
  std::vector<float> x(size_t(n) * n, 0.f), y;
  for (uint32_t t = 0; t < n; ++t) {
    x[size_t(t) * n + t] = 1.f;
    const auto yt = matvec(w, m, n, &x[size_t(t) * n]);
    y.insert(y.end(), yt.begin(), yt.end());
  }
  CirculantLeastSquares ls(m, n, B);
  ls.add(std::span<const float>(x).first(size_t(n / 2) * n),
         std::span<const float>(y).first(size_t(n / 2) * m), n / 2);
  ls.add(std::span<const float>(x).subspan(size_t(n / 2) * n),
         std::span<const float>(y).subspan(size_t(n / 2) * m),
         n - n / 2);  // statistics add up across calls
  EXPECT_EQ(ls.tokens(), n);
  const BlockCirculant fit = ls.solve(1e-12), proj = project_block_circulant(w, m, n, B);
  for (size_t i = 0; i < proj.c.size(); ++i) ASSERT_NEAR(fit.c[i], proj.c[i], 1e-6);
}

// One ridge for every fit: lambda_rel x the moment's mean diagonal, floored above zero.
TEST(Ridge, IsRelativeToTheMeanDiagonalOfTheMoment) {
  EXPECT_DOUBLE_EQ(compress::ridge_lambda(1e-3, 600.0, 3), 0.2);  // 1e-3 x 600 / 3
  EXPECT_DOUBLE_EQ(compress::ridge_lambda(0.5, 8.0, 4), 1.0);
  EXPECT_GT(compress::ridge_lambda(1e-3, 0.0, 10), 0.0);  // an all-zero input still solves
  // The low-rank fit reports the lambda it used (the calibration report's figure).
  const std::vector<double> A = {2, 0, 0, 4}, C = {1, 1};  // n = 2, m = 1
  double lambda = 0;
  compress::fit_low_rank(A, C, 1, 2, 1, 0.1, &lambda);
  EXPECT_DOUBLE_EQ(lambda, 0.1 * 6.0 / 2);
}

TEST(LowRank, RankMatchesTheBlockCirculantParameterCount) {
  EXPECT_EQ(rank_matching_block_circulant(1536, 576, 64), 7u);   // 884736 / 64 / 2112 = 6.5
  EXPECT_EQ(rank_matching_block_circulant(1536, 576, 16), 26u);  // 26.2
  EXPECT_EQ(rank_matching_block_circulant(8, 8, 1024), 1u);
}

TEST(LowRank, TruncatedSvdIsExactOnALowRankMatrixAndOptimalOtherwise) {
  const uint32_t m = 20, n = 12, r = 3;
  test::Rng rng(9);
  LowRank truth{m, n, r, std::vector<float>(m * r), std::vector<float>(r * n)};
  for (float& v : truth.u) v = rng.uniform(-1.f, 1.f);
  for (float& v : truth.v) v = rng.uniform(-1.f, 1.f);
  const auto w = expand(truth);
  const auto back = expand(truncated_svd(w, m, n, r));
  for (size_t i = 0; i < w.size(); ++i) ASSERT_NEAR(back[i], w[i], 1e-5);
  // Rank 1 of diag(3, 2, 1) keeps the 3.
  const std::vector<float> d = {3, 0, 0, 0, 2, 0, 0, 0, 1};
  const auto r1 = expand(truncated_svd(d, 3, 3, 1));
  EXPECT_NEAR(r1[0], 3.f, 1e-6);
  EXPECT_NEAR(r1[4], 0.f, 1e-6);
  EXPECT_THROW(truncated_svd(d, 3, 3, 4), std::invalid_argument);
}

TEST(LowRank, ActivationAwareFitOnWhiteInputsIsTheTruncatedSvd) {
  const uint32_t m = 10, n = 8, r = 2;
  test::Rng rng(4);
  std::vector<float> w(m * n);
  for (float& v : w) v = rng.uniform(-1.f, 1.f);
  std::vector<double> A(n * n, 0.0), C(m * n);
  for (uint32_t j = 0; j < n; ++j) A[j * n + j] = 1.0;
  for (size_t i = 0; i < C.size(); ++i) C[i] = w[i];
  const auto fit = expand(fit_low_rank(A, C, m, n, r, 1e-12)),
             svd = expand(truncated_svd(w, m, n, r));
  for (size_t i = 0; i < w.size(); ++i) ASSERT_NEAR(fit[i], svd[i], 1e-5);
}

TEST(LowRank, ActivationAwareFitWeighsTheDirectionsInputsUse) {
  // Inputs only ever excite coordinate 0: the best rank-1 fit reproduces W's column 0 exactly,
  // whatever the rest of W is (the plain SVD would not).
  const uint32_t m = 3, n = 3;
  const std::vector<float> w = {1, 5, 0, 2, 0, 5, 3, 5, 5};
  std::vector<double> A(9, 0.0), C(9, 0.0);
  A[0] = 1.0;
  for (uint32_t i = 0; i < m; ++i) C[i * n] = w[i * n];
  const auto fit = expand(fit_low_rank(A, C, m, n, 1, 1e-9));
  for (uint32_t i = 0; i < m; ++i) EXPECT_NEAR(fit[i * n], w[i * n], 1e-3);
}

// Factors 1e4 apart in scale (as a whitened fit leaves them) come out with equal norms per
// rank-one term, the product unchanged; a zero term stays zero (no division by its norm).
TEST(LowRank, BalanceEqualizesEachTermAndKeepsTheProduct) {
  const uint32_t m = 9, n = 5, r = 3;
  test::Rng rng(21);
  LowRank lr{m, n, r, std::vector<float>(m * r), std::vector<float>(r * n)};
  for (float& v : lr.u) v = 100.f * rng.uniform(-1.f, 1.f);
  for (float& v : lr.v) v = 0.01f * rng.uniform(-1.f, 1.f);
  for (uint32_t i = 0; i < m; ++i) lr.u[i * r + 2] = 0.f;  // term 2 is zero
  const auto before = expand(lr);
  balance(lr);
  const auto after = expand(lr);
  for (size_t i = 0; i < before.size(); ++i)
    ASSERT_NEAR(after[i], before[i], 1e-5 * std::abs(before[i]) + 1e-7) << i;
  for (uint32_t k = 0; k < 2; ++k) {
    double nu = 0, nv = 0;
    for (uint32_t i = 0; i < m; ++i) nu += double(lr.u[i * r + k]) * lr.u[i * r + k];
    for (uint32_t j = 0; j < n; ++j) nv += double(lr.v[k * n + j]) * lr.v[k * n + j];
    EXPECT_NEAR(std::sqrt(nu), std::sqrt(nv), 1e-5 * std::sqrt(nv)) << "term " << k;
    EXPECT_GT(nv, 1e-2);  // v was ~1e-2 per entry before: balancing grew it by ~100x
  }
  for (uint32_t j = 0; j < n; ++j) EXPECT_TRUE(std::isfinite(lr.v[2 * n + j]));
}

}  // namespace
}  // namespace bcvk::compress
