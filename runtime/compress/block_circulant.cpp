#include "runtime/compress/block_circulant.h"

#include <cmath>
#include <numbers>
#include <stdexcept>
#include <string>

namespace bcvk::compress {

BlockCirculant zero_block_circulant(uint32_t rows, uint32_t cols, uint32_t block) {
  if (rows == 0 || cols == 0 || block == 0)
    throw std::invalid_argument("block-circulant: empty shape " + std::to_string(rows) + "x" +
                                std::to_string(cols) + " or block size " + std::to_string(block));
  BlockCirculant bc{rows, cols, block, {}};
  bc.c.assign(size_t(bc.row_blocks()) * bc.col_blocks() * block, 0.0f);
  return bc;
}

BlockCirculant project_block_circulant(std::span<const float> w, uint32_t rows, uint32_t cols,
                                       uint32_t block) {
  BlockCirculant bc = zero_block_circulant(rows, cols, block);
  if (w.size() != size_t(rows) * cols)
    throw std::invalid_argument("block-circulant projection: " + std::to_string(w.size()) +
                                " values for a " + std::to_string(rows) + "x" +
                                std::to_string(cols) + " matrix");
  const uint32_t B = block;
  std::vector<double> sum(B);
  std::vector<uint32_t> count(B);
  for (uint32_t i = 0; i < bc.row_blocks(); ++i)
    for (uint32_t j = 0; j < bc.col_blocks(); ++j) {
      std::fill(sum.begin(), sum.end(), 0.0);
      std::fill(count.begin(), count.end(), 0u);
      for (uint32_t s = 0; s < B; ++s) {  // column within the block
        const uint32_t col = j * B + s;
        if (col >= cols) break;
        for (uint32_t k = 0; k < B; ++k) {
          const uint32_t row = i * B + (s + k) % B;
          if (row >= rows) continue;
          sum[k] += w[size_t(row) * cols + col];
          ++count[k];
        }
      }
      for (uint32_t k = 0; k < B; ++k)
        bc.at(i, j, k) = count[k] ? static_cast<float>(sum[k] / count[k]) : 0.0f;
    }
  return bc;
}

std::vector<float> expand(const BlockCirculant& bc) {
  const uint32_t B = bc.block;
  std::vector<float> w(size_t(bc.rows) * bc.cols);
  for (uint32_t row = 0; row < bc.rows; ++row)
    for (uint32_t col = 0; col < bc.cols; ++col) {
      const uint32_t r = row % B, s = col % B;
      w[size_t(row) * bc.cols + col] = bc.at(row / B, col / B, (r + B - s) % B);
    }
  return w;
}

double relative_frobenius_error(std::span<const float> w, const BlockCirculant& bc) {
  const std::vector<float> e = expand(bc);
  if (e.size() != w.size()) throw std::invalid_argument("relative_frobenius_error: shapes differ");
  double diff = 0, norm = 0;
  for (size_t i = 0; i < w.size(); ++i) {
    const double d = double(w[i]) - e[i];
    diff += d * d;
    norm += double(w[i]) * w[i];
  }
  if (norm == 0) return diff == 0 ? 0.0 : INFINITY;
  return std::sqrt(diff / norm);
}

std::vector<float> weight_spectra(const BlockCirculant& bc) {
  const uint32_t B = bc.block, F = B / 2 + 1;
  std::vector<double> cosv(B), sinv(B);
  for (uint32_t k = 0; k < B; ++k) {
    cosv[k] = std::cos(2 * std::numbers::pi * k / B);
    sinv[k] = std::sin(2 * std::numbers::pi * k / B);
  }
  const size_t blocks = size_t(bc.row_blocks()) * bc.col_blocks();
  std::vector<float> out(blocks * F * 2);
  for (size_t b = 0; b < blocks; ++b) {
    const float* c = bc.c.data() + b * B;
    for (uint32_t f = 0; f < F; ++f) {
      double re = 0, im = 0;
      for (uint32_t k = 0; k < B; ++k) {
        const uint32_t idx = uint32_t((uint64_t(f) * k) % B);  // e^{-2 pi i f k / B}
        re += c[k] * cosv[idx];
        im -= c[k] * sinv[idx];
      }
      out[(b * F + f) * 2] = static_cast<float>(re / B);
      out[(b * F + f) * 2 + 1] = static_cast<float>(im / B);
    }
  }
  return out;
}

std::vector<float> packed_spectra(const BlockCirculant& bc) {
  const uint32_t B = bc.block, F = B / 2 + 1, H = B / 2;
  if (B < 2 || B % 2) throw std::invalid_argument("packed spectra need an even block size");
  const std::vector<float> full = weight_spectra(bc);
  const size_t blocks = size_t(bc.row_blocks()) * bc.col_blocks();
  std::vector<float> out(blocks * B);
  for (size_t b = 0; b < blocks; ++b) {
    const float* s = full.data() + b * F * 2;
    float* o = out.data() + b * B;
    o[0] = s[0];      // bin 0
    o[1] = s[2 * H];  // bin B/2
    for (uint32_t f = 1; f < H; ++f) {
      o[2 * f] = s[2 * f];
      o[2 * f + 1] = s[2 * f + 1];
    }
  }
  return out;
}

BlockCirculant from_packed_spectra(uint32_t rows, uint32_t cols, uint32_t block,
                                   std::span<const float> packed) {
  const uint32_t B = block, H = B / 2;
  if (B < 2 || B % 2) throw std::invalid_argument("packed spectra need an even block size");
  BlockCirculant bc = zero_block_circulant(rows, cols, B);
  if (packed.size() != bc.c.size())
    throw std::invalid_argument("packed spectra: " + std::to_string(packed.size()) +
                                " values for a " + std::to_string(rows) + " x " +
                                std::to_string(cols) + " matrix at B=" + std::to_string(B) +
                                ", which has " + std::to_string(bc.c.size()));
  // c[k] = sum over all B bins of S[f] e^{2 pi i f k / B} (S already carries the 1/B); the bins
  // above B/2 are the conjugates of those below.
  std::vector<double> cs(B), sn(B);
  for (uint32_t k = 0; k < B; ++k) {
    cs[k] = std::cos(2 * std::numbers::pi * k / B);
    sn[k] = std::sin(2 * std::numbers::pi * k / B);
  }
  const size_t blocks = size_t(bc.row_blocks()) * bc.col_blocks();
  for (size_t b = 0; b < blocks; ++b) {
    const float* s = packed.data() + b * B;
    float* o = bc.c.data() + b * B;
    for (uint32_t k = 0; k < B; ++k) {
      double v = double(s[0]) + (k % 2 ? -1.0 : 1.0) * double(s[1]);
      for (uint32_t f = 1; f < H; ++f) {
        const uint32_t a = uint32_t((uint64_t(f) * k) % B);
        v += 2 * (double(s[2 * f]) * cs[a] - double(s[2 * f + 1]) * sn[a]);
      }
      o[k] = static_cast<float>(v);
    }
  }
  return bc;
}

}  // namespace bcvk::compress
