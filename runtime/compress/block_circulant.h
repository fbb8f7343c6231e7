// Block-circulant matrices on the host: the nearest one to a dense matrix (Frobenius projection),
// expansion back to dense, and the weight spectra the device multiplies with.
//
// W (m x n) is split into p x q blocks of B x B, p = ceil(m/B), q = ceil(n/B) (zero padding when B
// does not divide m or n).  Block (i, j) is the circulant matrix C(c_ij) whose first column is
// c_ij: C[r][s] = c_ij[(r - s) mod B].  Test: tests/compress/block_circulant_test.cpp.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace bcvk::compress {

struct BlockCirculant {
  uint32_t rows = 0, cols = 0;  // m, n of the dense matrix it stands for
  uint32_t block = 0;           // B
  std::vector<float> c;         // [p][q][B]: first column of every block

  uint32_t row_blocks() const { return (rows + block - 1) / block; }
  uint32_t col_blocks() const { return (cols + block - 1) / block; }
  bool padded() const { return rows % block != 0 || cols % block != 0; }
  uint64_t parameters() const { return c.size(); }
  float& at(uint32_t i, uint32_t j, uint32_t k) {
    return c[(size_t(i) * col_blocks() + j) * block + k];
  }
  float at(uint32_t i, uint32_t j, uint32_t k) const {
    return c[(size_t(i) * col_blocks() + j) * block + k];
  }
};

// An all-zero block-circulant matrix of this shape.
BlockCirculant zero_block_circulant(uint32_t rows, uint32_t cols, uint32_t block);

// The block-circulant matrix nearest to `w` ([rows][cols], row-major) in Frobenius norm over w's
// own entries: c_ij[k] is the mean of the k-th wrapped diagonal A[(s + k) mod B][s] of block (i,
// j), taken over the entries that lie inside w (padding is not part of the fit).  Computed in
// double.
BlockCirculant project_block_circulant(std::span<const float> w, uint32_t rows, uint32_t cols,
                                       uint32_t block);

// The dense [rows][cols] matrix (padding dropped).
std::vector<float> expand(const BlockCirculant& bc);

// ||w - expand(bc)||_F / ||w||_F (0 for an all-zero w that bc reproduces).
double relative_frobenius_error(std::span<const float> w, const BlockCirculant& bc);

// The weight spectra the FFT path multiplies with: S_ij[f] = DFT(c_ij)[f] / B for f = 0 .. B/2,
// as [p][q][B/2 + 1] complex (real, imaginary interleaved).  The 1/B is the inverse FFT's
// normalization, folded in here so no pass over the outputs is needed.  Computed in double.
std::vector<float> weight_spectra(const BlockCirculant& bc);

// The fused kernel's form of the same spectra (shaders/block_circulant_fused.comp), B reals per
// block, exactly the parameter count: [p][q][B/2] pairs, pair 0 = (S[0], S[B/2]) (both real for
// real c), pair f = (Re S[f], Im S[f]) for 1 <= f < B/2.  B must be even.
std::vector<float> packed_spectra(const BlockCirculant& bc);

// The inverse of packed_spectra: the matrix whose packed spectra are `packed` ([p][q][B] values
// for a rows x cols matrix with even block size B), computed in double.  Throws
// std::invalid_argument for an odd B or a size that does not fit the shape.
BlockCirculant from_packed_spectra(uint32_t rows, uint32_t cols, uint32_t block,
                                   std::span<const float> packed);

}  // namespace bcvk::compress
