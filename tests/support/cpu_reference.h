// A plain C++ llama forward pass in double precision, no Vulkan: the reference every GPU op and
// the whole-model tests are checked against.  Deliberately simple loops, written from the math.
#pragma once

#include <cstdint>
#include <vector>

#include "loaders/llama_model.h"

namespace bcvk::test {

// Logits [tokens.size()][n_vocab] for a fresh sequence.  f16_kv: keys (after RoPE) and values
// are rounded to f16 before they are cached, as an f16 KV cache holds them.
std::vector<std::vector<double>> cpu_forward(const loaders::LlamaModelFile& model,
                                             const std::vector<int32_t>& tokens,
                                             bool f16_kv = false);

// Single ops, for the op tests.
std::vector<double> cpu_rms_norm(const std::vector<float>& x, const std::vector<float>& g,
                                 double eps);
// Rotates one head (head_dim values) at `pos` with `adjacent` or half-split pairing.
void cpu_rope(double* head, uint32_t head_dim, uint32_t rope_dims, uint32_t pos, double base,
              bool adjacent);
// out[h*hd..] for one query against keys/values [n_keys][n_kv*hd].
std::vector<double> cpu_attention(const std::vector<double>& q,
                                  const std::vector<std::vector<double>>& k,
                                  const std::vector<std::vector<double>>& v, uint32_t n_heads,
                                  uint32_t n_kv, uint32_t hd);

}  // namespace bcvk::test
