// Calibration data that scales (`--calib-generate N`): the teacher continues each calibration
// prompt with N tokens it samples itself (temperature 1, seeded), so distillation trains on the
// teacher's own text and needs no data from outside.  Runs on the host: every sequence decodes in
// lockstep, one token each per step, through a per-sequence KV cache (one batched matrix product
// per weight and step).  Test: tests/distill/kd_test.cpp.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "runtime/distill/host_model.h"

namespace bcvk::distill {

struct GenerateOptions {
  uint32_t tokens = 0;  // new tokens per prompt
  uint64_t seed = 1;
  double temperature = 1.0;
  int32_t eos = -1;  // a sequence that samples it stops (the token is kept); -1: none
};

// Each prompt followed by its continuation (prompts longer than the model's context minus
// `tokens` are refused).  `progress` gets (steps done, steps).
std::vector<std::vector<int32_t>> generate_continuations(
    const HostModel<float>& model, const std::vector<std::vector<int32_t>>& prompts,
    const GenerateOptions& options, const std::function<void(size_t, size_t)>& progress = {});

}  // namespace bcvk::distill
