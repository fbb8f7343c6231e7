// A Session runs a Model: a KV cache sized by the context length, activation buffers for up to
// `max_batch` tokens, and the forward pass — every op of one step recorded into one command
// buffer and submitted once.  Reusable across prompts (reset()).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "runtime/model/model.h"
#include "runtime/vk/profile.h"
#include "runtime/vk/stream.h"

namespace bcvk::model {

class Session {
 public:
  explicit Session(Model& model, uint32_t max_batch = 64, bool profile = false);

  // Runs `tokens` from the current position (in chunks of max_batch).  Returns the logits of the
  // last token, or of every token ([tokens.size()][vocab]) with all_logits.  Throws
  // std::invalid_argument when the context would overflow or a token id is out of range.
  std::vector<float> prefill(std::span<const int32_t> tokens, bool all_logits = false);
  std::vector<float> decode(int32_t token) { return prefill(std::span<const int32_t>(&token, 1)); }
  // Greedy next token of the last prefill/decode, computed on the device.
  int32_t last_argmax() const { return last_argmax_; }

  void reset() { position_ = 0; }
  uint32_t position() const { return position_; }
  uint32_t context_length() const { return model_.context_length(); }
  const vk::ProfileTable& profile() const { return profile_; }

 private:
  void forward(uint32_t T, bool all_logits);

  Model& model_;
  vk::Context& ctx_;
  uint32_t max_batch_;
  uint32_t position_ = 0;
  int32_t last_argmax_ = -1;
  vk::Stream stream_;
  vk::ProfileTable profile_;
  // [max_batch, ...] activations.
  vk::Buffer ids_, x_, xn_, q_, att_, g_, u_, h_, logits_, argmax_;
  std::vector<vk::Buffer> k_cache_, v_cache_;  // per layer [n_ctx, kv_dim]
};

}  // namespace bcvk::model
