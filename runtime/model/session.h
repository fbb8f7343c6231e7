// A Session runs a Model: a KV cache sized by the context length, activation buffers for up to
// `max_batch` tokens, and the forward pass — every op of one step recorded into one command
// buffer and submitted once.  Reusable across prompts (reset()).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "runtime/model/mlp_patch.h"
#include "runtime/model/model.h"
#include "runtime/ops/rope.h"
#include "runtime/vk/profile.h"
#include "runtime/vk/stream.h"

namespace bcvk::model {

class Session {
 public:
  // With `patch`, the patched MLP projections run block-circulant (the student); without, the
  // model is dense (the teacher).  The patch must outlive the session.  `context` sizes the KV
  // cache (0: the model's context length; above it is refused).
  explicit Session(Model& model, uint32_t max_batch = 64, bool profile = false,
                   const MlpPatch* patch = nullptr, uint32_t context = 0);

  // Runs `tokens` from the current position (in chunks of max_batch).  Returns the logits of the
  // last token, or of every token ([tokens.size()][vocab]) with all_logits.  Throws
  // std::invalid_argument when the context would overflow or a token id is out of range.
  std::vector<float> prefill(std::span<const int32_t> tokens, bool all_logits = false);
  std::vector<float> decode(int32_t token) { return prefill(std::span<const int32_t>(&token, 1)); }
  // Several independent prompts in one forward (evaluation throughput: every weight is streamed
  // once for all of them): each starts at position 0 and attends only to itself.  Returns the
  // logits of every position of each prompt ([len][vocab] each).  Needs the total <= max_batch;
  // afterwards the session must be reset() before prefill/decode.
  std::vector<std::vector<float>> prefill_packed(const std::vector<std::vector<int32_t>>& prompts);
  // Greedy next token of the last prefill/decode, computed on the device.
  int32_t last_argmax() const { return last_argmax_; }

  void reset() { position_ = 0; }

  // Benchmark: the median wall time (ms) of every layer's MLP (gate, up, SiLU-gate, down) for T
  // tokens, recorded alone into one submit, no timestamps; the activations are whatever the
  // buffers hold.  reps timed runs after one warm-up.
  double time_mlps(uint32_t T, int reps);

  // Layer-by-layer access for calibration, on a fresh sequence (positions 0 .. T-1, T <= max_batch;
  // uses layer l's KV cache rows and leaves position() alone).
  // The residual stream after the token embeddings, [T][n_embd].
  std::vector<float> embed(std::span<const int32_t> tokens);
  // What one layer's MLP saw and produced, [T][...] row-major.
  struct MlpCapture {
    std::vector<float> input;             // the normed MLP input [T][n_embd]
    std::vector<float> gate, up, hidden;  // [T][n_ff]; hidden = silu(gate) * up
    std::vector<float> output;            // the MLP's contribution to the residual [T][n_embd]
  };
  // Runs layer `layer` on `residual` ([T][n_embd], updated in place), filling `capture` if given.
  void run_layer(uint32_t layer, std::vector<float>& residual, uint32_t T,
                 MlpCapture* capture = nullptr);
  uint32_t position() const { return position_; }
  uint32_t context_length() const { return n_ctx_; }
  const vk::ProfileTable& profile() const { return profile_; }
  // Commands (dispatches, VkFFT spans, copies) the last submitted step recorded.
  uint32_t last_commands() const { return stream_.recorded_commands(); }
  void clear_profile() { profile_ = {}; }

 private:
  struct LayerCaptureBuffers {
    vk::Buffer mid, input, gate, up, hidden;
  };
  void forward(uint32_t T, bool all_logits);
  void record_layer(uint32_t layer, uint32_t T, uint32_t pos0, const LayerCaptureBuffers* capture);
  void linear(const DeviceWeight& w, const vk::Buffer& x, uint32_t x_stride, const vk::Buffer& y,
              uint32_t y_stride, uint32_t y_offset, bool acc, uint32_t T, std::string_view label,
              bool glu = false);
  void record_embed(uint32_t T);
  void record_mlp(uint32_t layer, uint32_t T, const LayerCaptureBuffers* capture);
  void mlp_projection(uint32_t layer, compress::Projection p, const DeviceWeight& w,
                      const vk::Buffer& x, uint32_t x_stride, const vk::Buffer& y,
                      uint32_t y_stride, bool acc, uint32_t T, std::string_view label,
                      bool reuse_input_spectrum = false);
  void check_tokens(std::span<const int32_t> tokens, size_t limit) const;
  void upload_token_info(uint32_t T, uint32_t pos0);

  Model& model_;
  void record_qkv_apart(const DeviceLayer& L, uint32_t T, uint32_t pos0, ops::RopeArgs rope);
  const MlpPatch* patch_;
  vk::Context& ctx_;
  uint32_t max_batch_;
  uint32_t n_ctx_;
  uint32_t position_ = 0;
  int32_t last_argmax_ = -1;
  vk::Stream stream_;
  vk::ProfileTable profile_;
  // [max_batch, ...] activations.
  vk::Buffer ids_, token_info_, x_, xn_, q_, att_, g_, u_, h_, logits_, argmax_;
  std::vector<vk::Buffer> k_cache_, v_cache_;  // per layer [n_ctx, kv_dim] f32 or f16
  vk::Buffer k_new_, v_new_;                   // f16 cache: [max_batch, kv_dim] f32 staging
  // Fused layers' outputs: [max_batch, q_dim + 2 kv_dim] (Q, K, V) and [max_batch, 2 n_ff]
  // (gate, up; several tokens only -- one token's gate/up is fused with silu_mul).
  vk::Buffer qkv_, gu_;
};

}  // namespace bcvk::model
