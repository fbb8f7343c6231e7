// The model benchmark behind `bcvk bench -m`: prefill and decode speed of one model variant
// (dense, or with a block-circulant MLP patch), wall-clock medians, plus one device-timed pass
// for the per-op table and the MLP's share.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "runtime/model/session.h"
#include "runtime/vk/profile.h"

namespace bcvk::bench {

struct ModelBenchOptions {
  uint32_t prompt_tokens = 128;  // prefill length
  uint32_t decode_tokens = 16;   // decode steps after the prefill
  int reps = 3;                  // timed prefill repetitions (after one warm-up)
};

struct ModelBenchResult {
  std::vector<double> prefill_tokens_per_s;  // one per rep
  std::vector<double> decode_ms_per_token;   // one per decode step of every rep
  double prefill_tps = 0, decode_tps = 0;    // medians
  // From the device-timed pass: per-op table of one prefill and of the decode steps.
  vk::ProfileTable prefill_profile, decode_profile;
  double mlp_ms_per_token_prefill = 0, mlp_ms_per_token_decode = 0;  // from the timed pass
  // Every layer's MLP alone in one submit, wall clock, no timestamps: the fair comparison (on
  // lavapipe a timestamp pair costs as much as a small dispatch, and the FFT path has more of
  // them).
  double mlp_ms_per_token_decode_wall = 0, mlp_ms_per_token_prefill_wall = 0;
  double device_ms_per_token_decode = 0;  // every timed dispatch of a decode step
  uint32_t profiled_decode_steps = 0;     // decode steps in decode_profile
  uint32_t decode_commands = 0;  // dispatches (a VkFFT span counted as one) and copies of a step
  double mlp_dispatches_per_layer = 0;  // a decode step's MLP dispatches over the layers
};

// Synthetic prompt ids (speed does not depend on which tokens run): n deterministic ids < vocab.
std::vector<int32_t> bench_prompt(uint32_t n, uint32_t vocab);

// `progress` (may be empty) gets a short description of each phase.
ModelBenchResult bench_model(model::Model& model, const model::MlpPatch* patch,
                             const ModelBenchOptions& options,
                             const std::function<void(const std::string&)>& progress = {});

// One model (and its patch, or null) of an interleaved comparison.
struct BenchSubject {
  model::Model* model = nullptr;
  const model::MlpPatch* patch = nullptr;
};
// Prefill and decode speed of several models measured in turn, so that a machine whose speed
// drifts (a shared host: 1.5-2x within seconds) slows each of them alike and their ratios hold:
// every rep prefills each subject once, then the decode steps alternate between the subjects
// token by token (the order reversed every other round, so no subject always runs first).  One
// warm-up rep first.  Fills prefill_tokens_per_s (one per rep), decode_ms_per_token (every
// step of every rep) and their medians; the other fields stay empty.
std::vector<ModelBenchResult> bench_interleaved(
    std::span<const BenchSubject> subjects, const ModelBenchOptions& options,
    const std::function<void(const std::string&)>& progress = {});

}  // namespace bcvk::bench
