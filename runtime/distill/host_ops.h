// The transformer's ops on the host, each with its hand-written backward pass (llm.c's way), for
// distillation: the student's forward and backward run here in float (double in the tests, which
// check every backward against central finite differences).  Activations are row-major
// [tokens][features]; several sequences are packed one after another, each starting at position
// 0 and attending only to itself (`Packing`).  Backward functions *accumulate* into the
// gradients they are given.  Test: tests/distill/host_ops_test.cpp.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace bcvk::distill {

// Sequences packed into one [tokens][...] batch: sequence i is rows [offset[i], offset[i+1]).
struct Packing {
  std::vector<uint32_t> offset = {0};
  uint32_t tokens() const { return offset.back(); }
  size_t sequences() const { return offset.size() - 1; }
  void add(uint32_t length) { offset.push_back(offset.back() + length); }
};

// y = x W^T (+ y when accumulate); W is [out][in].
template <class R>
void linear_forward(const R* x, uint32_t N, uint32_t in, const R* W, uint32_t out, R* y,
                    bool accumulate = false);
// dx += dy W; dW (may be null) += dy^T x.
template <class R>
void linear_backward(const R* dy, const R* x, uint32_t N, uint32_t in, const R* W, uint32_t out,
                     R* dx, R* dW);

// y = x / sqrt(mean(x^2) + eps) * g per row; rstd[N] keeps 1/sqrt(...) for the backward.
template <class R>
void rms_norm_forward(const R* x, const R* g, uint32_t N, uint32_t E, double eps, R* y, R* rstd);
// dx += d(rms_norm)/dx^T dy (g is frozen).
template <class R>
void rms_norm_backward(const R* dy, const R* x, const R* g, const R* rstd, uint32_t N, uint32_t E,
                       R* dx);

// RoPE angles: cos/sin of pos * base^(-2i/rope_dims), [position][rope_dims/2], in double.
struct RopeTable {
  uint32_t pairs = 0;
  bool adjacent = true;  // pairs (2i, 2i+1) (GGUF) or (i, i + head_dim/2) (Hugging Face)
  std::vector<double> cos, sin;
  RopeTable(uint32_t max_positions, uint32_t rope_dims, double base, bool adjacent);
};
// Rotates the heads of one token (x: heads * head_dim values) at `pos`; sign as below.
template <class R>
void rope_rotate(R* x, uint32_t heads, uint32_t head_dim, uint32_t pos, const RopeTable& t,
                 int sign);
// Rotates every head of x [N][heads * head_dim] in place; sign = +1 forward, -1 backward (the
// transpose of a rotation is the rotation by the opposite angle).
template <class R>
void rope_apply(R* x, const Packing& pk, uint32_t heads, uint32_t head_dim, const RopeTable& t,
                int sign);

// Causal grouped-query attention per packed sequence.  q [N][H*hd], k, v [N][KV*hd] (after RoPE),
// out [N][H*hd]; probs keeps the softmax weights for the backward: per sequence of length T,
// [H][T][T] (lower triangle used), sequences one after another.
template <class R>
void attention_forward(const R* q, const R* k, const R* v, const Packing& pk, uint32_t H,
                       uint32_t KV, uint32_t hd, R* out, std::vector<R>& probs);
template <class R>
void attention_backward(const R* dout, const R* q, const R* k, const R* v, const R* probs,
                        const Packing& pk, uint32_t H, uint32_t KV, uint32_t hd, R* dq, R* dk,
                        R* dv);

// h = silu(g) * u elementwise.
template <class R>
void silu_mul_forward(const R* g, const R* u, size_t n, R* h);
template <class R>
void silu_mul_backward(const R* dh, const R* g, const R* u, size_t n, R* dg, R* du);

// Block-circulant weights: c [p][q][B] (first columns) to the dense rows x cols matrix, and the
// exact gradient of c from the dense gradient dW: every entry of block (i, j) on wrapped diagonal
// k = (r - s) mod B is c_ij[k], so dc_ij[k] sums dW over that diagonal (inside the matrix).
template <class R>
void circulant_expand(const R* c, uint32_t rows, uint32_t cols, uint32_t B, R* W);
template <class R>
void circulant_fold(const R* dW, uint32_t rows, uint32_t cols, uint32_t B, R* dc);

// Distillation loss over rows of student logits z [N][V] against teacher probabilities p at
// temperature T: sum_n T^2 KL(p_n || softmax(z_n / T)), returned with dz (overwriting z) scaled by
// `scale` (1 / tokens of the step).  neg_entropy[n] = sum_v p log p (precomputed once).
template <class R>
double kl_loss_and_grad(R* z, const float* p, const double* neg_entropy, uint32_t N, uint32_t V,
                        double T, double scale, bool want_grad);

}  // namespace bcvk::distill
