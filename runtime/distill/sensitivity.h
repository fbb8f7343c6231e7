// Where compressing hurts: the distillation loss (T^2 KL to the teacher, mean per position of the
// calibration sequences) when only one MLP projection of one layer is replaced by its
// block-circulant projection at block size B, for every layer and projection
// (`bcvk eval --sensitivity B`, and what `--patch auto:RATIO` minimises).  Measured on the host
// on calibration text, never on the evaluation prompts, so choosing by it does not select on the
// test set.  Test: tests/distill/sensitivity_test.cpp.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <vector>

#include "runtime/compress/auto_patch.h"
#include "runtime/distill/kd.h"

namespace bcvk::distill {

struct Sensitivity {
  uint32_t block = 0;
  std::vector<std::array<double, 3>> kl;  // [layer][Projection]
  uint64_t sequences = 0, tokens = 0;
  double seconds = 0;
};

// The calibration sequences cut to about `max_tokens` tokens (whole sequences while they fit; at
// least one, truncated if it alone is longer) -- what sensitivity is measured on.
std::vector<std::vector<int32_t>> sensitivity_sequences(
    const std::vector<std::vector<int32_t>>& sequences, uint32_t max_tokens);

// The teacher sensitivity needs: soft targets at `temperature` and the residual entering every
// layer, nothing held out.
KdTeacher sensitivity_teacher(const HostModel<float>& model,
                              std::vector<std::vector<int32_t>> sequences, double temperature);

// `progress` gets (projections measured, total).
Sensitivity measure_sensitivity(const HostModel<float>& model, const loaders::LlamaModelFile& file,
                                const KdTeacher& teacher, uint32_t block,
                                const std::function<void(size_t, size_t)>& progress = {});

nlohmann::json to_json(const Sensitivity& s);

// `--patch auto`: the choice over every layer and projection of `config`, each either dense or
// block-circulant at one of the tables' block sizes, costing that table's KL.
compress::AutoChoice choose_auto(const loaders::LlamaConfig& config,
                                 const std::vector<Sensitivity>& tables, double ratio);

// One table per block size, in order; `progress` gets (table index, projections measured, total).
std::vector<Sensitivity> measure_sensitivities(
    const HostModel<float>& model, const loaders::LlamaModelFile& file, const KdTeacher& teacher,
    const std::vector<uint32_t>& blocks,
    const std::function<void(size_t, size_t, size_t)>& progress = {});

// An auto request resolved: choose_auto over the tables of the request's block sizes (`tables`
// may hold more).  Throws std::invalid_argument naming the request when a block size has no
// table or the choice replaces nothing.
compress::AutoChoice resolve_auto(const loaders::LlamaConfig& config,
                                  const std::vector<Sensitivity>& tables,
                                  const std::string& request);

}  // namespace bcvk::distill
