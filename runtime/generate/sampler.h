// Next-token choice from logits: greedy at temperature 0, otherwise softmax(z / T) restricted to
// the top-k and then the top-p nucleus, drawn with a seeded generator (reproducible runs).
#pragma once

#include <cstdint>
#include <random>
#include <span>

namespace bcvk::generate {

struct SamplerOptions {
  float temperature = 0.0f;  // 0: greedy
  uint32_t top_k = 40;       // 0: no limit
  float top_p = 0.95f;       // 1: no limit
  uint64_t seed = 0;
};

class Sampler {
 public:
  explicit Sampler(SamplerOptions options);
  int32_t sample(std::span<const float> logits);

 private:
  SamplerOptions o_;
  std::mt19937_64 rng_;
};

}  // namespace bcvk::generate
