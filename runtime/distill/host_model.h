// A llama-family model on the host for distillation: its weights as R (float to train, double in
// the gradient tests), the forward pass over packed sequences from any layer on (keeping what the
// backward needs), the LM head with the distillation loss, and the backward pass back to the first
// layer run.  The student is this model with some MLP projections replaced by trainable
// structured weights (`Trainable`); everything else is frozen.  Test:
// tests/distill/host_model_test.cpp.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "loaders/llama_model.h"
#include "runtime/compress/patch_spec.h"
#include "runtime/distill/host_ops.h"

namespace bcvk::distill {

enum class Kind { kBlockCirculant, kLowRank };

// One replaced projection and its trainable parameters: block-circulant first columns c [p][q][B],
// or low-rank factors u [rows][rank] then v [rank][cols] (one vector, in that order).
template <class R>
struct Trainable {
  uint32_t layer = 0;
  compress::Projection projection = compress::Projection::kGate;
  Kind kind = Kind::kBlockCirculant;
  uint32_t rows = 0, cols = 0, block = 0, rank = 0;
  std::vector<R> params, grad;
  std::vector<R> dense, dense_grad;  // the expanded matrix of this step and its gradient

  void materialize();  // dense <- W(params)
  void fold();         // grad += dW/dparams^T dense_grad
};

template <class R>
class HostModel {
 public:
  // Every weight of `file`, dequantized (a projection stored block-circulant has no dense weight:
  // it must be replaced by a Trainable before it runs).
  explicit HostModel(const loaders::LlamaModelFile& file);

  const loaders::LlamaConfig& config() const { return c_; }
  uint64_t host_bytes() const;

  // Residual stream after the token embeddings, [tokens][n_embd].
  std::vector<R> embed(std::span<const int32_t> tokens) const;

  // What the backward pass needs from one forward over layers [first, n_layers).
  struct LayerActs {
    std::vector<R> x_in, xn1, rstd1, q, k, v, probs, att, x_mid, xn2, rstd2, g, u, h;
  };
  struct Acts {
    Packing pk;
    uint32_t first = 0;
    std::vector<LayerActs> layers;
    std::vector<R> x_out, xf, rstd_f;  // final residual, its norm, 1/rms
  };

  // Runs layers [first, last) on x ([tokens][n_embd], updated in place) with `student`'s
  // projections where it has them; keeps activations in `acts` when given.
  void forward_layers(std::vector<R>& x, const Packing& pk, uint32_t first, uint32_t last,
                      const std::vector<Trainable<R>*>& student, Acts* acts) const;

  // Logits [tokens][n_vocab] of the final residual x (rows [row0, row0 + n) of x).
  void logits(const R* x, uint32_t n, R* out) const;

  // The distillation loss over every row of `acts` (its forward must have run to the last
  // layer): sum over rows of T^2 KL(p || softmax(z / T)).  With `dx` (sized like x_out), also
  // the gradient of loss * scale with respect to the final residual.
  double lm_head_loss(Acts& acts, const float* teacher_probs, const double* neg_entropy, double T,
                      double scale, std::vector<R>* dx) const;

  // Backward from the final residual's gradient to the input of acts.first, accumulating every
  // Trainable's dense_grad.  dx is consumed.
  void backward(Acts& acts, std::vector<R>& dx, const std::vector<Trainable<R>*>& student) const;

  // Incremental decoding of the dense model: one new token for each of several sequences, each
  // with its own KV cache (per layer, [length][n_kv_heads * head_dim] for K and for V).
  struct KvCache {
    std::vector<std::vector<R>> k, v;
    uint32_t length = 0;
  };
  // x: [S][n_embd] embeddings of the sequences' next tokens, turned into their final residuals;
  // caches[s] grows by one position.
  void decode_step(std::vector<R>& x, const std::vector<KvCache*>& caches) const;

 private:
  struct Layer {
    std::vector<R> attn_norm, ffn_norm, wq, wk, wv, wo;
    std::array<std::vector<R>, 3> mlp;  // gate, up, down (empty: stored block-circulant)
  };
  const R* mlp_weight(uint32_t layer, compress::Projection p,
                      const std::vector<Trainable<R>*>& student) const;

  loaders::LlamaConfig c_;
  std::unique_ptr<RopeTable> rope_;
  std::vector<R> token_embd_, output_norm_, output_;  // output_ empty when tied
  std::vector<Layer> layers_;
};

}  // namespace bcvk::distill
