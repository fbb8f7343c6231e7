// `--patch auto:RATIO[:B1,B2,...]`: which projections to make block-circulant, and at which block
// size, so that the student's MLP parameters are at most RATIO of the dense model's with the
// least summed cost (the per-projection sensitivity).  An exact multiple-choice knapsack by
// dynamic programming over parameter counts.  Test: tests/compress/auto_patch_test.cpp.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "runtime/compress/patch_spec.h"

namespace bcvk::compress {

struct AutoRequest {
  double ratio = 0;                            // in (0, 1]
  std::vector<uint32_t> blocks = {4, 16, 64};  // the block sizes it may choose from
};

// "auto:RATIO[:B1,B2,...]" -> the request; text not starting with "auto" -> nullopt.  Throws
// PatchSpecError naming the problem when it starts with "auto" but is malformed.
std::optional<AutoRequest> parse_auto(std::string_view text);

struct AutoOption {
  uint32_t block = 0;
  uint64_t parameters = 0;  // of the block-circulant replacement
  double cost = 0;          // e.g. the KL when only this projection is replaced
};

struct AutoCandidate {
  uint32_t layer = 0;
  Projection projection = Projection::kGate;
  uint64_t dense_parameters = 0;
  std::vector<AutoOption> options;  // staying dense costs 0
};

struct AutoChoice {
  PatchSpec spec;
  double cost = 0;                                // summed cost of the chosen options
  uint64_t parameters = 0, dense_parameters = 0;  // over every candidate
  double ratio() const { return dense_parameters ? double(parameters) / dense_parameters : 1.0; }
};

// The choice with parameters <= ratio * (sum of dense parameters) of least summed cost (ties: the
// fewest parameters replaced).  Throws PatchSpecError when even the smallest option everywhere
// does not reach the ratio.
AutoChoice choose_patch(const std::vector<AutoCandidate>& candidates, double ratio);

}  // namespace bcvk::compress
