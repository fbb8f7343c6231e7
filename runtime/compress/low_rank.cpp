#include "runtime/compress/low_rank.h"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "runtime/compress/ridge.h"

namespace bcvk::compress {

namespace {
using Mat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

LowRank from_factors(const Mat& u, const Mat& v, uint32_t rows, uint32_t cols, uint32_t rank) {
  LowRank lr{rows, cols, rank, std::vector<float>(size_t(rows) * rank),
             std::vector<float>(size_t(rank) * cols)};
  for (uint32_t i = 0; i < rows; ++i)
    for (uint32_t k = 0; k < rank; ++k) lr.u[size_t(i) * rank + k] = static_cast<float>(u(i, k));
  for (uint32_t k = 0; k < rank; ++k)
    for (uint32_t j = 0; j < cols; ++j) lr.v[size_t(k) * cols + j] = static_cast<float>(v(k, j));
  return lr;
}

void check(uint32_t rows, uint32_t cols, uint32_t rank) {
  if (rows == 0 || cols == 0 || rank == 0 || rank > std::min(rows, cols))
    throw std::invalid_argument("low rank: rank " + std::to_string(rank) + " for a " +
                                std::to_string(rows) + "x" + std::to_string(cols) + " matrix");
}
}  // namespace

uint32_t rank_matching_block_circulant(uint32_t rows, uint32_t cols, uint32_t block) {
  const double target = double(rows) * cols / block / (double(rows) + cols);
  return std::clamp<uint32_t>(static_cast<uint32_t>(std::lround(target)), 1u, std::min(rows, cols));
}

LowRank truncated_svd(std::span<const float> w, uint32_t rows, uint32_t cols, uint32_t rank) {
  check(rows, cols, rank);
  if (w.size() != size_t(rows) * cols)
    throw std::invalid_argument("truncated_svd: wrong number of values");
  Mat W(rows, cols);
  for (uint32_t i = 0; i < rows; ++i)
    for (uint32_t j = 0; j < cols; ++j) W(i, j) = w[size_t(i) * cols + j];
  Eigen::BDCSVD<Mat> svd(W, Eigen::ComputeThinU | Eigen::ComputeThinV);
  const Mat u = svd.matrixU().leftCols(rank) * svd.singularValues().head(rank).asDiagonal();
  const Mat v = svd.matrixV().leftCols(rank).transpose();
  return from_factors(u, v, rows, cols, rank);
}

LowRank fit_low_rank(std::span<const double> A_in, std::span<const double> C_in, uint32_t rows,
                     uint32_t cols, uint32_t rank, double lambda_rel, double* lambda_out) {
  check(rows, cols, rank);
  if (A_in.size() != size_t(cols) * cols || C_in.size() != size_t(rows) * cols)
    throw std::invalid_argument("fit_low_rank: moment matrices of the wrong size");
  Mat A = Eigen::Map<const Mat>(A_in.data(), cols, cols);
  const Mat C = Eigen::Map<const Mat>(C_in.data(), rows, cols);
  const double lambda = ridge_lambda(lambda_rel, A.trace(), cols);
  if (lambda_out) *lambda_out = lambda;
  A.diagonal().array() += lambda;
  // With A = L L^T: ||Y - W X||^2 + lambda ||W||^2 = ||W L - C L^{-T}||^2 + const, so the best
  // rank-r W is the truncated SVD of C L^{-T}, mapped back by L^{-1} on the right.
  const Eigen::LLT<Mat> llt(A);
  if (llt.info() != Eigen::Success)
    throw std::runtime_error("fit_low_rank: the input moment is not positive definite");
  const Mat L = llt.matrixL();
  const Mat M = L.triangularView<Eigen::Lower>().solve(C.transpose()).transpose();  // C L^{-T}
  Eigen::BDCSVD<Mat> svd(M, Eigen::ComputeThinU | Eigen::ComputeThinV);
  const Mat u = svd.matrixU().leftCols(rank) * svd.singularValues().head(rank).asDiagonal();
  // V = V_r^T L^{-1}: solve L^T V^T = V_r.
  const Mat vt =
      L.transpose().triangularView<Eigen::Upper>().solve(Mat(svd.matrixV().leftCols(rank)));
  return from_factors(u, vt.transpose(), rows, cols, rank);
}

void balance(LowRank& lr) {
  for (uint32_t k = 0; k < lr.rank; ++k) {
    double nu = 0, nv = 0;
    for (uint32_t i = 0; i < lr.rows; ++i)
      nu += double(lr.u[size_t(i) * lr.rank + k]) * lr.u[size_t(i) * lr.rank + k];
    for (uint32_t j = 0; j < lr.cols; ++j)
      nv += double(lr.v[size_t(k) * lr.cols + j]) * lr.v[size_t(k) * lr.cols + j];
    if (!(nu > 0) || !(nv > 0)) continue;
    const double c = std::sqrt(std::sqrt(nv / nu));  // u_k * c, v_k / c: both norms sqrt(|u||v|)
    for (uint32_t i = 0; i < lr.rows; ++i)
      lr.u[size_t(i) * lr.rank + k] = float(lr.u[size_t(i) * lr.rank + k] * c);
    for (uint32_t j = 0; j < lr.cols; ++j)
      lr.v[size_t(k) * lr.cols + j] = float(lr.v[size_t(k) * lr.cols + j] / c);
  }
}

std::vector<float> expand(const LowRank& lr) {
  std::vector<float> w(size_t(lr.rows) * lr.cols);
  for (uint32_t i = 0; i < lr.rows; ++i)
    for (uint32_t j = 0; j < lr.cols; ++j) {
      double s = 0;
      for (uint32_t k = 0; k < lr.rank; ++k)
        s += double(lr.u[size_t(i) * lr.rank + k]) * lr.v[size_t(k) * lr.cols + j];
      w[size_t(i) * lr.cols + j] = static_cast<float>(s);
    }
  return w;
}

}  // namespace bcvk::compress
