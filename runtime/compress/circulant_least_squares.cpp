#include "runtime/compress/circulant_least_squares.h"

#include <cmath>
#include <numbers>
#include <stdexcept>

#include <string>
#include "runtime/compress/ridge.h"

namespace bcvk::compress {

using cd = std::complex<double>;

CirculantLeastSquares::CirculantLeastSquares(uint32_t rows, uint32_t cols, uint32_t block)
    : m_(rows),
      n_(cols),
      B_(block),
      p_((rows + block - 1) / block),
      q_((cols + block - 1) / block),
      F_(block / 2 + 1) {
  if (rows == 0 || cols == 0 || block == 0)
    throw std::invalid_argument("circulant least squares: empty shape");
  twiddle_.resize(B_);
  for (uint32_t k = 0; k < B_; ++k) twiddle_[k] = std::polar(1.0, -2 * std::numbers::pi * k / B_);
  A_.assign(size_t(F_) * q_ * q_, cd(0));
  Bm_.assign(size_t(F_) * p_ * q_, cd(0));
}

// out[b][f] = sum_k v[b B + k] e^{-2 pi i f k / B} (zero past len).
void CirculantLeastSquares::dft_blocks(std::span<const float> v, uint32_t len, uint32_t blocks,
                                       std::vector<cd>& out) const {
  out.assign(size_t(blocks) * F_, cd(0));
  for (uint32_t b = 0; b < blocks; ++b)
    for (uint32_t f = 0; f < F_; ++f) {
      cd s = 0;
      for (uint32_t k = 0; k < B_; ++k) {
        const uint32_t idx = b * B_ + k;
        if (idx >= len) break;
        s += double(v[idx]) * twiddle_[(uint64_t(f) * k) % B_];
      }
      out[size_t(b) * F_ + f] = s;
    }
}

void CirculantLeastSquares::add(std::span<const float> x, std::span<const float> y, uint32_t T) {
  if (x.size() != size_t(T) * n_ || y.size() != size_t(T) * m_)
    throw std::invalid_argument("circulant least squares: expected " + std::to_string(T) +
                                " tokens of " + std::to_string(n_) + " inputs and " +
                                std::to_string(m_) + " outputs");
  std::vector<cd> X, Y;
  for (uint32_t t = 0; t < T; ++t) {
    dft_blocks(x.subspan(size_t(t) * n_, n_), n_, q_, X);
    dft_blocks(y.subspan(size_t(t) * m_, m_), m_, p_, Y);
    for (uint32_t f = 0; f < F_; ++f) {
      cd* A = &A_[size_t(f) * q_ * q_];
      cd* Bf = &Bm_[size_t(f) * p_ * q_];
      for (uint32_t j = 0; j < q_; ++j) {
        const cd xj = X[size_t(j) * F_ + f];
        for (uint32_t k = 0; k < q_; ++k)
          A[size_t(j) * q_ + k] += xj * std::conj(X[size_t(k) * F_ + f]);
      }
      for (uint32_t i = 0; i < p_; ++i) {
        const cd yi = Y[size_t(i) * F_ + f];
        for (uint32_t k = 0; k < q_; ++k)
          Bf[size_t(i) * q_ + k] += yi * std::conj(X[size_t(k) * F_ + f]);
      }
    }
  }
  tokens_ += T;
}

BlockCirculant CirculantLeastSquares::solve(double lambda_rel, double* lambda_mean) const {
  BlockCirculant bc = zero_block_circulant(m_, n_, B_);
  std::vector<cd> C(size_t(F_) * p_ * q_);  // [F][p][q] spectra
  double lambda_sum = 0;
  std::vector<cd> M(size_t(q_) * q_), R(size_t(p_) * q_);
  for (uint32_t f = 0; f < F_; ++f) {
    const cd* A = &A_[size_t(f) * q_ * q_];
    double trace = 0;
    for (uint32_t j = 0; j < q_; ++j) trace += A[size_t(j) * q_ + j].real();
    const double lambda = ridge_lambda(lambda_rel, trace, q_);
    lambda_sum += lambda;
    // Solve C (A + lambda I) = B, i.e. (A + lambda I)^T C^T = B^T: Gaussian elimination with
    // partial pivoting on the q x q system, p right-hand sides.  M = (A + lambda I)^T.
    for (uint32_t j = 0; j < q_; ++j)
      for (uint32_t k = 0; k < q_; ++k)
        M[size_t(j) * q_ + k] = A[size_t(k) * q_ + j] + (j == k ? lambda : 0.0);
    // R = B^T as [q][p].
    R.assign(size_t(q_) * p_, cd(0));
    const cd* Bf = &Bm_[size_t(f) * p_ * q_];
    for (uint32_t i = 0; i < p_; ++i)
      for (uint32_t k = 0; k < q_; ++k) R[size_t(k) * p_ + i] = Bf[size_t(i) * q_ + k];
    for (uint32_t col = 0; col < q_; ++col) {
      uint32_t piv = col;
      for (uint32_t r = col + 1; r < q_; ++r)
        if (std::abs(M[size_t(r) * q_ + col]) > std::abs(M[size_t(piv) * q_ + col])) piv = r;
      if (piv != col) {
        for (uint32_t k = 0; k < q_; ++k)
          std::swap(M[size_t(col) * q_ + k], M[size_t(piv) * q_ + k]);
        for (uint32_t i = 0; i < p_; ++i)
          std::swap(R[size_t(col) * p_ + i], R[size_t(piv) * p_ + i]);
      }
      const cd d = M[size_t(col) * q_ + col];
      for (uint32_t r = 0; r < q_; ++r) {
        if (r == col) continue;
        const cd factor = M[size_t(r) * q_ + col] / d;
        if (factor == cd(0)) continue;
        for (uint32_t k = col; k < q_; ++k)
          M[size_t(r) * q_ + k] -= factor * M[size_t(col) * q_ + k];
        for (uint32_t i = 0; i < p_; ++i) R[size_t(r) * p_ + i] -= factor * R[size_t(col) * p_ + i];
      }
    }
    for (uint32_t k = 0; k < q_; ++k)
      for (uint32_t i = 0; i < p_; ++i)
        C[(size_t(f) * p_ + i) * q_ + k] = R[size_t(k) * p_ + i] / M[size_t(k) * q_ + k];
  }
  if (lambda_mean) *lambda_mean = lambda_sum / F_;
  // Back to c: the inverse real DFT of each block's half spectrum (Hermitian symmetry).
  for (uint32_t i = 0; i < p_; ++i)
    for (uint32_t j = 0; j < q_; ++j)
      for (uint32_t k = 0; k < B_; ++k) {
        double s = 0;
        for (uint32_t f = 0; f < F_; ++f) {
          const cd v =
              C[(size_t(f) * p_ + i) * q_ + j] * std::conj(twiddle_[(uint64_t(f) * k) % B_]);
          const bool self_conjugate = f == 0 || (B_ % 2 == 0 && f == B_ / 2);
          s += self_conjugate ? v.real() : 2 * v.real();
        }
        bc.at(i, j, k) = static_cast<float>(s / B_);
      }
  return bc;
}

}  // namespace bcvk::compress
