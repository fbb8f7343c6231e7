// Flags of distillation (`--calibrate kd` / `ls+kd`), shared by eval and compress.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "runtime/distill/kd.h"

namespace bcvk::apps {

struct KdFlags {
  distill::KdOptions kd;
  unsigned threads = 0;  // host threads (0: every core)
};

void add_kd_flags(CLI::App& cmd, KdFlags& flags);

// Applies --threads and checks the options (std::invalid_argument naming the flag).
void apply_kd_flags(const KdFlags& flags);

// "step 12/60  loss 1.234  val 1.456  ETA 0:42" on stderr (one line, rewritten in place).
void print_kd_progress(const std::string& stage, uint32_t done, uint32_t total, double loss,
                       double val, double elapsed_s);

}  // namespace bcvk::apps
