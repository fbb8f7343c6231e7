// The baseline at equal parameter count: W (m x n) ~ U V with U m x r, V r x n.
// Test: tests/compress/low_rank_test.cpp.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace bcvk::compress {

struct LowRank {
  uint32_t rows = 0, cols = 0, rank = 0;
  std::vector<float> u;  // [rows][rank]
  std::vector<float> v;  // [rank][cols]
  uint64_t parameters() const { return uint64_t(rank) * (rows + cols); }
};

// The rank whose parameter count r (m + n) is closest to a block-circulant matrix's m n / B
// (at least 1).
uint32_t rank_matching_block_circulant(uint32_t rows, uint32_t cols, uint32_t block);

// Truncated SVD: the best rank-r approximation in Frobenius norm (Eckart-Young).
LowRank truncated_svd(std::span<const float> w, uint32_t rows, uint32_t cols, uint32_t rank);

// Activation-aware: minimizes sum_t ||y_t - U V x_t||^2 + lambda ||U V||_F^2 over rank-r U V,
// given the input second moment A = sum_t x_t x_t^T (n x n) and the cross moment
// C = sum_t y_t x_t^T (m x n), both row-major, in double.  lambda = ridge_lambda(lambda_rel,
// trace(A), n), written to `lambda` when given.
LowRank fit_low_rank(std::span<const double> A, std::span<const double> C, uint32_t rows,
                     uint32_t cols, uint32_t rank, double lambda_rel, double* lambda = nullptr);

std::vector<float> expand(const LowRank& lr);  // U V, [rows][cols]

// Rescales each rank-one term u_k v_k^T to ||u_k|| = ||v_k|| (the product is unchanged up to
// rounding).  A fit whitened by the input moment leaves V scaled by its inverse square root and U
// by its square root (SmolLM2's last 8 layers: V entries of rms 6e-4 to 2e-2, U 4 to 720); Adam
// moves every entry by about the learning rate, so on such factors kd changes V by a large part
// of itself per step and diverges.  Balanced, both factors move by the same relative amount.
// Zero terms stay zero.
void balance(LowRank& lr);

}  // namespace bcvk::compress
