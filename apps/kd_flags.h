// Flags of distillation (`--calibrate kd` / `ls+kd`), shared by eval and compress.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include <vector>
#include "runtime/distill/kd.h"

namespace bcvk::apps {

struct KdFlags {
  distill::KdOptions kd;
  uint32_t calib_generate = 0;  // tokens the teacher samples after each calibration prompt
  unsigned threads = 0;         // host threads (0: every core)
  bool warmup_given = false;    // --kd-warmup on the command line (the default may exceed a
                                // short --kd-steps: the peak is then not reached)
};

void add_kd_flags(CLI::App& cmd, KdFlags& flags);

// Applies --threads and checks the options (std::invalid_argument naming the flag).
void apply_kd_flags(const KdFlags& flags);

// --calib-generate: each calibration prompt followed by the teacher's own sampled continuation
// (temperature 1, seeded by --kd-seed), with progress on stderr.
std::vector<std::vector<int32_t>> generate_calibration(
    const distill::HostModel<float>& host, const std::vector<std::vector<int32_t>>& prompts,
    const KdFlags& flags, int32_t eos);

// "step 12/60  loss 1.234  val 1.456  ETA 0:42" on stderr (one line, rewritten in place).
void print_kd_progress(const std::string& stage, uint32_t done, uint32_t total, double loss,
                       double val, double elapsed_s);

}  // namespace bcvk::apps
