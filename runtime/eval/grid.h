// The configurations `bcvk eval` measures: the block-size x layers x calibration grid (and the
// low-rank baseline beside it), whole --patch specs and `auto` requests, every spec validated
// against the model before any work; and a rough time for distilling one of them.
// Test: tests/eval/grid_test.cpp.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "loaders/llama_config.h"
#include "runtime/distill/kd.h"
#include "runtime/eval/sweep.h"

namespace bcvk::eval {

struct GridRequest {
  std::vector<uint32_t> blocks = {64};
  std::vector<std::string> layers = {"all"};  // SweepConfig::layers forms
  std::string projections = "gate,up,down";
  std::vector<std::string> calibrations = {"none"};
  bool block_grid = true;                 // the blocks x layers grid (off: only `patches`)
  bool low_rank_baseline = false;         // low rank at each configuration's parameter count
  std::vector<uint32_t> baseline_blocks;  // the baseline's block sizes (empty: `blocks`)
  std::vector<std::string> patches;       // whole patch specs or auto:RATIO[:B,...]
  std::vector<uint32_t> sensitivity;      // block sizes to measure the sensitivity at
};

struct Grid {
  std::vector<SweepConfig> configs;
  // Block sizes whose per-projection sensitivity must be measured (asked for, or needed by an
  // `auto` request).
  std::set<uint32_t> sensitivity_blocks;
};

// In order: grid configurations (structure, block, layers, calibration), then each patch with
// each calibration.  Throws compress::PatchSpecError naming the problem for a spec or block size
// the model cannot take, std::invalid_argument when nothing is asked for.
Grid expand_grid(const GridRequest& r, const loaders::LlamaConfig& config);

// A rough time to distill `c`: a step costs ~3 forwards over the layers from the first patched
// one plus the LM head (~8 layers' worth for a small model) at ~12k layer-tokens/s on 2 cores.
double estimate_kd_seconds(const SweepConfig& c, uint32_t n_layers, uint64_t calib_tokens,
                           const distill::KdOptions& kd);

}  // namespace bcvk::eval
