// Knowledge distillation of the structured MLP projections (`--calibrate kd`): the dense teacher's
// soft targets at temperature T on every position of the calibration sequences; the student is
// the same model with the patched projections replaced by trainable block-circulant (or low-rank)
// weights, everything else frozen; Adam minimises the mean over positions of
// T^2 KL(softmax(teacher / T) || softmax(student / T)).  Forward and backward run on the host
// (HostModel).  Nothing below the first patched layer changes, so the residual entering it is
// computed once by the teacher and the backward stops there.  A held-out slice of the calibration
// sequences gives the validation loss, the learning curve and early stopping (the best validation
// step is kept).  Deterministic for a given seed and thread count.  Test:
// tests/distill/kd_test.cpp.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "runtime/distill/host_model.h"
#include "runtime/model/mlp_patch.h"

namespace bcvk::distill {

struct KdOptions {
  double temperature = 1.0;
  uint32_t steps = 60;
  double lr = 1e-3;
  std::string schedule = "cosine";  // cosine (to lr/10 after the warm-up) or constant
  uint32_t warmup = 5;              // linear warm-up steps
  uint32_t tokens_per_step = 2048;  // sequences are drawn (shuffled) until this many tokens
  uint64_t seed = 1;
  double val_fraction = 0.1;  // of the calibration sequences, held out (at least one if >= 2)
  uint32_t eval_every = 5;    // steps between validation losses (the last step always)
  uint32_t patience = 0;      // stop after this many validations without improvement (0: never)
};
// Throws std::invalid_argument naming the field when an option is out of range.
void validate(const KdOptions& o);

// The teacher's side, computed once and shared by every student of a sweep: the sequences, their
// soft targets, and the residual entering each layer a student may start at.
class KdTeacher {
 public:
  // `start_layers`: the layers whose input residual students need (their first patched layer).
  // `progress` gets (sequences done, total).
  KdTeacher(const HostModel<float>& model, std::vector<std::vector<int32_t>> sequences,
            double temperature, const std::set<uint32_t>& start_layers, double val_fraction,
            uint64_t seed, const std::function<void(size_t, size_t)>& progress = {});

  double temperature() const { return T_; }
  const std::vector<std::vector<int32_t>>& sequences() const { return seqs_; }
  const std::vector<size_t>& train() const { return train_; }
  const std::vector<size_t>& validation() const { return val_; }
  uint64_t tokens(const std::vector<size_t>& which) const;
  // Rows of sequence i in the teacher's packing.
  uint32_t row(size_t i) const { return pk_.offset[i]; }
  uint32_t length(size_t i) const { return pk_.offset[i + 1] - pk_.offset[i]; }
  const float* probs(size_t i) const { return probs_.data() + size_t(row(i)) * V_; }
  const double* neg_entropy(size_t i) const { return neg_entropy_.data() + row(i); }
  // Residual entering `layer` for sequence i, [length][n_embd]; `layer` must be a start layer.
  const float* residual(uint32_t layer, size_t i) const;
  uint64_t host_bytes() const;
  double seconds() const { return seconds_; }

 private:
  double T_;
  uint32_t V_ = 0, E_ = 0;
  std::vector<std::vector<int32_t>> seqs_;
  Packing pk_;
  std::vector<float> probs_;                                       // [tokens][vocab]
  std::vector<double> neg_entropy_;                                // [tokens]: sum p log p
  std::vector<std::pair<uint32_t, std::vector<float>>> residual_;  // (layer, [tokens][n_embd])
  std::vector<size_t> train_, val_;
  double seconds_ = 0;
};

struct KdReport {
  KdOptions options;
  uint64_t train_sequences = 0, val_sequences = 0, train_tokens = 0, val_tokens = 0;
  uint64_t parameters = 0;         // trainable
  std::vector<double> train_loss;  // per step: mean T^2 KL per position of the step's batch
  std::vector<std::pair<uint32_t, double>> val_loss;  // (steps done, mean loss per position)
  uint32_t steps_run = 0, best_step = 0;              // best_step: steps done at the best val
  double initial_val_loss = 0, best_val_loss = 0;
  double seconds = 0;
  double tokens_per_second = 0;  // training tokens (forward + backward) per second
  bool stopped_early = false;
};

// The settings and outcome of a distillation (what bcvk compress records and eval reports);
// with `curves`, also the train and validation losses per step.
nlohmann::json to_json(const KdReport& report, bool curves);

// When training never lowered the validation loss below its start (so the starting parameters
// were kept), a sentence saying so with the losses and the usual cure; else empty.  Without it a
// run whose student is its untrained start reads like a trained one.
std::string no_progress_note(const KdReport& report);

// Progress: (steps done, steps, last train loss, last val loss or NaN).
using KdProgress = std::function<void(uint32_t, uint32_t, double, double)>;

// Trains `projections` (the student's patched projections, each block-circulant or low-rank)
// in place against `teacher`.
KdReport distill(const HostModel<float>& model, const KdTeacher& teacher,
                 std::vector<model::PatchedProjection>& projections, const KdOptions& options,
                 const KdProgress& progress = {});

// Mean loss per position of the student given by `projections` on teacher sequences `which`
// (no training): the validation loss, also for a student that was never trained.
double kd_loss(const HostModel<float>& model, const KdTeacher& teacher,
               const std::vector<model::PatchedProjection>& projections,
               const std::vector<size_t>& which, uint32_t tokens_per_batch = 2048);

// The first layer a patch touches (where the student's forward starts).
uint32_t first_patched_layer(const std::vector<model::PatchedProjection>& projections);

}  // namespace bcvk::distill
