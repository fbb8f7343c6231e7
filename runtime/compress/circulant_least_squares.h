// Activation-aware block-circulant fit (`--calibrate ls`): given inputs x_t and target outputs
// y_t, minimize sum_t ||y_t - W_c x_t||^2 + lambda ||c||^2 over block-circulant W_c.  In the
// frequency domain the problem decouples: for every frequency f and output block i,
//   min sum_t |Y_it[f] - sum_j C_ij[f] X_jt[f]|^2 + lambda sum_j |C_ij[f]|^2,
// one q x q Hermitian system per frequency, shared by all output blocks:
//   C[f] (A_f + lambda I) = B_f,  A_f = sum_t X_t[f] X_t[f]^H,  B_f = sum_t Y_t[f] X_t[f]^H.
// Inputs and targets past n and m (padding) are zero.  Statistics accumulate in double, so any
// number of tokens costs O(F q^2) memory.  Test: tests/compress/circulant_least_squares_test.cpp.
#pragma once

#include <complex>
#include <cstdint>
#include <span>
#include <vector>

#include "runtime/compress/block_circulant.h"

namespace bcvk::compress {

class CirculantLeastSquares {
 public:
  CirculantLeastSquares(uint32_t rows, uint32_t cols, uint32_t block);
  // Adds T tokens: x [T][cols], y [T][rows], row-major.
  void add(std::span<const float> x, std::span<const float> y, uint32_t T);
  uint64_t tokens() const { return tokens_; }
  // lambda_f = lambda_rel * trace(A_f) / q per frequency (scale-free).  The mean lambda used is
  // stored in *lambda_mean when given.
  BlockCirculant solve(double lambda_rel, double* lambda_mean = nullptr) const;

 private:
  void dft_blocks(std::span<const float> v, uint32_t len, uint32_t blocks,
                  std::vector<std::complex<double>>& out) const;
  uint32_t m_, n_, B_, p_, q_, F_;
  uint64_t tokens_ = 0;
  std::vector<std::complex<double>> twiddle_;  // e^{-2 pi i k / B}
  std::vector<std::complex<double>> A_;        // [F][q][q]
  std::vector<std::complex<double>> Bm_;       // [F][p][q]
};

}  // namespace bcvk::compress
