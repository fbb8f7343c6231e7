// The ridge strength of every least-squares fit (block-circulant per frequency, low rank):
// lambda = lambda_rel x the mean diagonal of the input moment, so one --lambda means the same
// relative regularization at any activation scale.  Floored so that an all-zero input still
// gives a solvable system.  Test: tests/compress/calibration_math_test.cpp.
#pragma once

#include <algorithm>
#include <cstdint>

namespace bcvk::compress {

inline double ridge_lambda(double lambda_rel, double moment_trace, uint64_t dimension) {
  return std::max(lambda_rel * moment_trace / double(dimension), 1e-30);
}

}  // namespace bcvk::compress
