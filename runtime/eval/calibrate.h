// Activation-aware calibration (`--calibrate ls`): refits the patched projections of a student
// layer by layer, in forward order, against the teacher's own MLP outputs, feeding every layer
// the student's activations (earlier layers already calibrated) so errors do not compound.
// Inside a SiLU-gated MLP, gate and up are fitted first, then down on the student's actual
// hidden activations.  Only the patched parameters change.  Test: tests/eval/calibrate_test.cpp.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "runtime/model/session.h"

namespace bcvk::eval {

// The teacher's per-layer MLP targets on the calibration prompts, computed once and shared by
// every configuration of a sweep.
class TeacherTargets {
 public:
  // `progress` (may be empty) gets (layers done, total).
  TeacherTargets(model::Model& model, const std::vector<std::vector<int32_t>>& prompts,
                 const std::function<void(size_t, size_t)>& progress = {});
  const std::vector<std::vector<int32_t>>& prompts() const { return prompts_; }
  // [prompt] residual after the embeddings.
  const std::vector<std::vector<float>>& embeddings() const { return embeddings_; }
  // [layer][prompt] teacher gate / up outputs [T][n_ff] and MLP outputs [T][n_embd].
  const std::vector<float>& gate(uint32_t layer, size_t prompt) const {
    return gate_[layer][prompt];
  }
  const std::vector<float>& up(uint32_t layer, size_t prompt) const { return up_[layer][prompt]; }
  const std::vector<float>& output(uint32_t layer, size_t prompt) const {
    return output_[layer][prompt];
  }
  uint64_t tokens() const { return tokens_; }

 private:
  std::vector<std::vector<int32_t>> prompts_;
  std::vector<std::vector<float>> embeddings_;
  std::vector<std::vector<std::vector<float>>> gate_, up_, output_;
  uint64_t tokens_ = 0;
};

struct CalibrationReport {
  double lambda_rel = 0;
  double lambda_mean = 0;  // mean absolute lambda over projections and frequencies
  uint64_t tokens = 0;
  double seconds = 0;
  // Per patched projection, in patch order: relative output error on the calibration data
  // ||Y - W' X|| / ||Y|| before and after the fit.
  std::vector<double> error_before, error_after;
};

// Refits every projection of `patch` (block-circulant: least squares per frequency; low-rank:
// activation-weighted truncated SVD).  lambda = lambda_rel x the data's scale (see
// CirculantLeastSquares, fit_low_rank).  `progress` gets (layers done, total).
CalibrationReport calibrate_least_squares(model::Model& model, model::MlpPatch& patch,
                                          const TeacherTargets& teacher, double lambda_rel = 1e-3,
                                          const std::function<void(size_t, size_t)>& progress = {});

}  // namespace bcvk::eval
