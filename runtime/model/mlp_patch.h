// The replaced MLP projections of a student model: block-circulant (bcvk's subject) or low-rank
// (the baseline at equal parameter count).  Everything else the student runs is the teacher's
// Model, shared on the device: a Session given a patch runs the patched projections from here
// and every other weight from the Model.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "loaders/llama_model.h"
#include "runtime/compress/block_circulant.h"
#include "runtime/compress/low_rank.h"
#include "runtime/compress/patch_spec.h"
#include "runtime/model/model.h"
#include "runtime/ops/block_circulant.h"

namespace bcvk::model {

enum class Structure { kBlockCirculant, kLowRank };

struct PatchedProjection {
  uint32_t layer = 0;
  compress::Projection projection = compress::Projection::kGate;
  Structure structure = Structure::kBlockCirculant;
  compress::BlockCirculant circulant;  // kBlockCirculant
  compress::LowRank low_rank;          // kLowRank
  double relative_error = 0;           // ||W - W'||_F / ||W||_F of the dense weight it replaces
  uint64_t parameters() const {
    return structure == Structure::kBlockCirculant ? circulant.parameters() : low_rank.parameters();
  }
};

// Parameter counts of a patched model's MLPs.
struct PatchStats {
  uint64_t dense_mlp_parameters = 0;  // every MLP projection of the dense model
  uint64_t replaced_parameters = 0;   // the dense parameters the patch replaces
  uint64_t patch_parameters = 0;      // what replaces them
  uint64_t student_mlp_parameters() const {
    return dense_mlp_parameters - replaced_parameters + patch_parameters;
  }
  double mlp_compression() const {
    return double(dense_mlp_parameters) / double(student_mlp_parameters());
  }
};

// The dense weight of (layer, projection) from a model file, f32 [rows][cols].
const loaders::WeightTensor& mlp_weight(const loaders::LlamaModelFile& file, uint32_t layer,
                                        compress::Projection p);

// Throws PatchSpecError when a block size of `spec` is one bcvk could not store and read back for
// that projection's shape (loaders::circulant_block_problem).
void check_block_sizes(const loaders::LlamaConfig& config, const compress::PatchSpec& spec);

class MlpPatch {
 public:
  // The Frobenius-nearest replacement of every projection `spec` names: block-circulant
  // projection, or (low_rank) truncated SVD at the rank of equal parameter count.
  // `progress` (may be empty) gets (projections done, total).
  static std::vector<PatchedProjection> project(
      const loaders::LlamaModelFile& file, const compress::PatchSpec& spec,
      Structure structure = Structure::kBlockCirculant,
      const std::function<void(size_t, size_t)>& progress = {});

  // The projections a compressed model file (bcvk compress) stores block-circulant, or none.
  static std::vector<PatchedProjection> stored(const loaders::LlamaModelFile& file);
  // How a compressed file's circulant weights sit on the device under a weight mode: f32 and f16
  // as named; native as the file stores them (f16 when every circulant tensor is f16).
  static ops::CirculantWeights stored_weights(const loaders::LlamaModelFile& file, WeightMode mode);
  // The stored projections of a compressed file on the device (stored_weights), or null for a
  // dense file.
  static std::unique_ptr<MlpPatch> load_stored(vk::Context& ctx,
                                               const loaders::LlamaModelFile& file,
                                               WeightMode mode);

  MlpPatch(vk::Context& ctx, const loaders::LlamaConfig& config,
           std::vector<PatchedProjection> projections,
           ops::CirculantPath path = ops::CirculantPath::kAuto, uint32_t max_tokens = 64,
           ops::CirculantWeights weights = ops::CirculantWeights::kF32);
  ~MlpPatch();

  bool patched(uint32_t layer, compress::Projection p) const;
  ops::CirculantWeights weights() const { return weights_; }
  // Records y (+)= W' x for a patched projection and returns true; false when it is not patched.
  bool record(vk::Context& ctx, vk::Stream& s, uint32_t layer, compress::Projection p,
              const ops::CirculantCall& call, std::string_view label) const;
  // True when gate and up of `layer` both run the FFT path with one block size, so up can reuse
  // the input spectrum gate computed (CirculantCall::reuse_input_spectrum).
  bool gate_and_up_share_input_spectrum(uint32_t layer) const;
  // Records H = silu(gate(x)) * up(x) in one dispatch and returns true when gate and up of
  // `layer` are a fused pair (ops::fusable_glu); false (nothing recorded) otherwise.
  bool record_glu(vk::Context& ctx, vk::Stream& s, uint32_t layer, const ops::CirculantCall& call,
                  std::string_view label) const;
  // Dispatches recorded for one projection of T tokens (0 when it is not patched).
  uint32_t dispatches(uint32_t layer, compress::Projection p, uint32_t T,
                      bool reuse_input_spectrum) const;
  // Replaces one projection's parameters (calibration), re-uploading them.
  void replace(PatchedProjection projection);

  const ops::BlockCirculantLinear* circulant(uint32_t layer, compress::Projection p) const;
  ops::CirculantWorkspace* workspace(uint32_t block) const;
  const std::vector<PatchedProjection>& projections() const { return projections_; }
  PatchStats stats() const;
  uint64_t device_bytes() const;  // weights plus workspaces
  // What the patch's kernels cost per decoded token, by the labels they record under (Session's
  // label with the block size: mlp_gate_up_b16, mlp_down_b16, mlp_gate_b64.pack ...; the FFT
  // path's passes are summed under the projection's label, mlp_gate_b64): the weight bytes each
  // streams and nominal FLOPs -- 2.5 N log2 N per real transform of N points (each input block
  // once, shared by a fused gate/up pair; each output block once), 8 per complex
  // multiply-accumulate of the frequency products; 2 per multiply-add of the direct path and of
  // low-rank factors (labelled mlp_gate_lr ...).  `fused_pairs`: a fused gate/up pair runs as one
  // kernel (Session with ModelOptions::fuse_projections).
  std::vector<KernelCost> decode_costs(bool fused_pairs) const;
  // The label a projection's kernels record under: `session_label` with its block size.
  static std::string kernel_label(std::string_view session_label, uint32_t block);
  uint64_t fft_plans_created() const;
  uint64_t spectra_computed() const;
  // With CirculantPath::kAuto, the path chosen per (B, rows, cols) by timing each path that
  // takes B (and the weight type) on the device.
  struct PathChoice {
    uint32_t block, rows, cols;
    ops::CirculantPath path;
    // Wall-clock ms of one decoded token plus one token of an 8-token call (medians of 3); NaN
    // for a path that does not take B.  Measured once per device and shape: with a persistent
    // pipeline cache the choice is kept beside it and later runs reuse it.
    double fft_ms, direct_ms, fused_ms;
  };
  const std::vector<PathChoice>& path_choices() const { return choices_; }

 private:
  ops::CirculantPath choose_path(const compress::BlockCirculant& params);
  struct Entry;
  void upload(const PatchedProjection& pp);

  vk::Context& ctx_;
  const loaders::LlamaConfig config_;
  ops::CirculantPath path_;
  ops::CirculantWeights weights_;
  uint32_t max_tokens_;
  std::vector<PatchedProjection> projections_;
  std::map<std::pair<uint32_t, int>, std::unique_ptr<Entry>> entries_;
  std::map<uint32_t, std::unique_ptr<ops::CirculantWorkspace>> workspaces_;
  vk::Buffer low_rank_scratch_;  // [max_tokens][max rank] intermediate of U (V x)
  uint64_t spectra_before_replace_ = 0;
  std::vector<PathChoice> choices_;
};

}  // namespace bcvk::model
