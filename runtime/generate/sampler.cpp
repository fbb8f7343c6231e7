#include "runtime/generate/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

namespace bcvk::generate {

Sampler::Sampler(SamplerOptions options) : o_(options), rng_(options.seed) {
  if (!(o_.temperature >= 0) || !std::isfinite(o_.temperature))
    throw std::invalid_argument("temperature must be a finite number >= 0");
  if (!(o_.top_p > 0 && o_.top_p <= 1)) throw std::invalid_argument("top-p must be in (0, 1]");
}

int32_t Sampler::sample(std::span<const float> logits) {
  if (logits.empty()) throw std::invalid_argument("no logits to sample from");
  // A NaN or +inf logit (a broken model or buffer) has no probability; all -inf leaves none.
  bool any_finite = false;
  for (size_t i = 0; i < logits.size(); ++i) {
    if (std::isnan(logits[i]) || logits[i] == INFINITY)
      throw std::invalid_argument("logit " + std::to_string(i) + " is " +
                                  (std::isnan(logits[i]) ? "NaN" : "+inf") +
                                  "; cannot sample from it");
    any_finite = any_finite || std::isfinite(logits[i]);
  }
  if (!any_finite) throw std::invalid_argument("every logit is -inf; no token can be sampled");
  if (o_.temperature == 0.0f)
    return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
  std::vector<int32_t> idx(logits.size());
  std::iota(idx.begin(), idx.end(), 0);
  const size_t k = o_.top_k ? std::min<size_t>(o_.top_k, idx.size()) : idx.size();
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(),
                    [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
  idx.resize(k);
  // Softmax over the candidates in double, max-subtracted for stability.
  std::vector<double> p(k);
  const double mx = logits[idx[0]];
  double z = 0;
  for (size_t i = 0; i < k; ++i) z += p[i] = std::exp((logits[idx[i]] - mx) / o_.temperature);
  double cum = 0;
  size_t keep = k;
  for (size_t i = 0; i < k; ++i) {
    cum += p[i] / z;
    if (cum >= o_.top_p) {
      keep = i + 1;
      break;
    }
  }
  std::discrete_distribution<size_t> pick(p.begin(), p.begin() + keep);
  return idx[pick(rng_)];
}

}  // namespace bcvk::generate
