// The teacher-student evaluation behind `bcvk eval`: the dense teacher's outputs are computed
// once; every configuration (structure, block size, layers, projections, calibration) builds a
// student that shares the teacher's device weights, and is measured on the same prompts with the
// same metrics.  Test: tests/eval/sweep_test.cpp.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "runtime/distill/kd.h"
#include "runtime/eval/calibrate.h"
#include "runtime/metrics/logit_metrics.h"
#include "runtime/model/session.h"

namespace bcvk::eval {

struct SweepConfig {
  model::Structure structure = model::Structure::kBlockCirculant;
  uint32_t block = 64;  // B; low-rank uses the rank of equal parameter count
  // "all", a layer count N (the first N layers), or any --patch layer form with '+' for ','
  // (firstN, lastN, 0+3+5-9).
  std::string layers;
  std::string projections = "gate,up,down";
  // none (plain projection), ls (layer-wise least squares), kd (distillation from the
  // projection), ls+kd (distillation from the least-squares fit).
  std::string calibration = "none";
  bool ls() const { return calibration == "ls" || calibration == "ls+kd"; }
  bool kd() const { return calibration == "kd" || calibration == "ls+kd"; }
  // A whole --patch text (each layer its own block sizes), e.g. an `auto` request once resolved;
  // when set, spec() parses it and `block`, `layers`, `projections` only label the row.
  std::string patch;
  std::string request;  // what the user asked for, when it was resolved (e.g. "auto:0.5")
  // A student read from a compressed file (bcvk compress): its name; the fields above describe
  // it but spec() does not rebuild it.
  std::string stored;
  std::string name() const;
  compress::PatchSpec spec(uint32_t n_layers) const;
};

struct SweepOptions {
  double temperature = 1.0;
  double lambda_rel = 1e-3;
  uint32_t continuation_prompts = 8;  // prompts with a 16-token greedy continuation
  uint32_t continuation_tokens = 16;
  uint32_t decode_steps = 4;  // decode steps timed per configuration
  uint64_t seed = 1;          // bootstrap
  // How students multiply (kAuto: MlpPatch times FFT against direct per shape; tests pin one).
  ops::CirculantPath path = ops::CirculantPath::kAuto;
  distill::KdOptions kd;  // kd and ls+kd configurations
};

// The calibration methods SweepConfig::calibration accepts.
bool known_calibration(const std::string& method);

// What kd configurations train against: the host model and the teacher's soft targets (with the
// residual at every configuration's first patched layer).
struct KdSetup {
  const distill::HostModel<float>* model = nullptr;
  const distill::KdTeacher* teacher = nullptr;
};

// Every per-prompt metric, by name, in the order the prompts were given.
using PromptMetrics = std::map<std::string, std::vector<double>>;

struct TeacherReference {
  std::vector<std::vector<int32_t>> prompts;
  std::vector<std::vector<float>> last_logits;        // [prompt][vocab]
  std::vector<std::vector<float>> logits;             // [prompt][T][vocab], every position
  std::vector<std::vector<int32_t>> position_argmax;  // [prompt][T]
  std::vector<double> perplexity;                     // [prompt]
  std::vector<metrics::Nll> nll;                      // [prompt]: tokens after the first
  metrics::Aggregate corpus_perplexity;               // token-weighted over every prompt
  std::vector<std::vector<int32_t>> continuation;  // [prompt][tokens] (first continuation_prompts)
  double prefill_tps = 0, decode_tps = 0;
  uint64_t tokens = 0;
  double seconds = 0;
};

struct ConfigResult {
  SweepConfig config;
  model::PatchStats stats;
  uint64_t patch_bytes = 0;
  std::string patch_description;   // which projections at which B (PatchSpec::describe)
  double mean_relative_error = 0;  // mean ||W - W'||_F / ||W||_F over the replaced matrices
  bool padded = false;             // some block-circulant matrix needed zero padding
  PromptMetrics per_prompt;
  std::map<std::string, metrics::Aggregate> aggregate;
  metrics::Aggregate perplexity;  // token-weighted over every prompt (metrics::corpus_perplexity)
  double prefill_tps = 0, decode_tps = 0;
  std::optional<CalibrationReport> calibration;
  std::optional<distill::KdReport> kd;
  double seconds = 0;
};

// Progress: (what, done, total).
using Progress = std::function<void(const std::string&, size_t, size_t)>;

TeacherReference run_teacher(model::Model& model, const std::vector<std::vector<int32_t>>& prompts,
                             const SweepOptions& options, const Progress& progress = {});

// `teacher_targets` is needed (non-null) for ls configurations, `kd` for kd ones.
ConfigResult run_config(model::Model& model, const loaders::LlamaModelFile& file,
                        const SweepConfig& config, const TeacherReference& teacher,
                        const TeacherTargets* teacher_targets, const SweepOptions& options,
                        const Progress& progress = {}, const KdSetup& kd = {});

// A student loaded from a compressed model file (bcvk compress): its own Model (the dense weights
// the file keeps) and the patch of the projections it stores, measured like run_config's
// students.  `config` only labels it.  The student must share the teacher's vocabulary.
ConfigResult run_stored_student(model::Model& student, const model::MlpPatch& patch,
                                const SweepConfig& config, const TeacherReference& teacher,
                                const SweepOptions& options, const Progress& progress = {});

// A whole sweep: the teacher's pass, then what its configurations share -- the ls targets and the
// kd soft targets, each computed once -- then every configuration in order.
struct SweepPlan {
  model::Model* teacher = nullptr;                // the dense model, on the device
  const loaders::LlamaModelFile* file = nullptr;  // its file: students are made from it
  std::vector<SweepConfig> grid;
  std::vector<std::vector<int32_t>> eval_ids;
  std::vector<std::vector<int32_t>> calib_ids;  // ls and kd configurations
  SweepOptions options;
  const distill::HostModel<float>* host = nullptr;  // kd configurations
  // A compressed file's student (run_stored_student), measured as every grid entry.
  model::Model* stored_student = nullptr;
  const model::MlpPatch* stored_patch = nullptr;
};
struct SweepOutcome {
  TeacherReference teacher;
  std::vector<ConfigResult> results;  // in grid order
  // kd: the soft targets' size and time, when a configuration distilled.
  uint64_t kd_sequences = 0, kd_tokens = 0, kd_validation_sequences = 0, kd_validation_tokens = 0;
  double kd_teacher_seconds = 0, kd_teacher_host_bytes = 0;
};
// stage -1: the teacher's work (its pass; "calib targets"; "soft targets"); stage i >= 0:
// configuration i.  Then what, done, total as in Progress.
using SweepProgress = std::function<void(int, const std::string&, size_t, size_t)>;
// Checks the plan first (std::invalid_argument: no teacher, an ls configuration without
// calibration text, kd without the host model, a stored student without its patch).
SweepOutcome run_sweep(const SweepPlan& plan, const SweepProgress& progress = {});

// The metric names, in table order.
const std::vector<std::string>& metric_names();

}  // namespace bcvk::eval
