#include "runtime/distill/calib_generate.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>
#include <string>

namespace bcvk::distill {

std::vector<std::vector<int32_t>> generate_continuations(
    const HostModel<float>& model, const std::vector<std::vector<int32_t>>& prompts,
    const GenerateOptions& o, const std::function<void(size_t, size_t)>& progress) {
  const auto& c = model.config();
  if (!(o.temperature > 0) || !std::isfinite(o.temperature))
    throw std::invalid_argument("generation: the temperature must be a positive finite number");
  std::vector<std::vector<int32_t>> seqs = prompts;
  size_t longest = 0;
  for (size_t i = 0; i < prompts.size(); ++i) {
    if (prompts[i].empty()) throw std::invalid_argument("generation: an empty prompt");
    if (prompts[i].size() + o.tokens > c.n_ctx)
      throw std::invalid_argument(
          "generation: prompt " + std::to_string(i + 1) + " has " +
          std::to_string(prompts[i].size()) + " tokens; with " + std::to_string(o.tokens) +
          " generated ones it exceeds the model's context of " + std::to_string(c.n_ctx));
    longest = std::max(longest, prompts[i].size());
  }
  if (o.tokens == 0 || prompts.empty()) return seqs;
  // One generator per sequence: what a sequence samples does not depend on the others.
  std::vector<std::mt19937_64> rng;
  for (size_t i = 0; i < prompts.size(); ++i) rng.emplace_back(o.seed * 0x9E3779B97F4A7C15ull + i);
  std::vector<HostModel<float>::KvCache> caches(prompts.size());
  std::vector<bool> done(prompts.size(), false);
  const size_t steps = longest + o.tokens - 1;
  std::vector<float> logits;
  for (size_t step = 0; step < steps; ++step) {
    // Active sequences feed their token at position `step`: a prompt token, or one they sampled.
    std::vector<size_t> active;
    std::vector<int32_t> ids;
    for (size_t i = 0; i < seqs.size(); ++i)
      if (!done[i] && step < seqs[i].size()) {
        active.push_back(i);
        ids.push_back(seqs[i][step]);
      }
    if (active.empty()) break;
    std::vector<float> x = model.embed(ids);
    std::vector<HostModel<float>::KvCache*> kc;
    for (size_t i : active) kc.push_back(&caches[i]);
    model.decode_step(x, kc);
    // Rows at the last token of their sequence sample the next one.
    std::vector<size_t> rows;
    for (size_t r = 0; r < active.size(); ++r)
      if (step + 1 == seqs[active[r]].size()) rows.push_back(r);
    if (rows.empty()) continue;
    std::vector<float> xs(rows.size() * c.n_embd);
    for (size_t k = 0; k < rows.size(); ++k)
      std::copy_n(x.data() + rows[k] * c.n_embd, c.n_embd, xs.data() + k * c.n_embd);
    logits.resize(rows.size() * c.n_vocab);
    model.logits(xs.data(), uint32_t(rows.size()), logits.data());
    for (size_t k = 0; k < rows.size(); ++k) {
      const size_t i = active[rows[k]];
      const float* z = logits.data() + k * c.n_vocab;
      double mx = -INFINITY;
      for (uint32_t v = 0; v < c.n_vocab; ++v) mx = std::max(mx, double(z[v]) / o.temperature);
      double sum = 0;
      for (uint32_t v = 0; v < c.n_vocab; ++v) sum += std::exp(double(z[v]) / o.temperature - mx);
      // Inverse CDF with a 53-bit uniform.
      const double u = double(rng[i]() >> 11) * 0x1p-53 * sum;
      double acc = 0;
      int32_t pick = int32_t(c.n_vocab) - 1;
      for (uint32_t v = 0; v < c.n_vocab; ++v) {
        acc += std::exp(double(z[v]) / o.temperature - mx);
        if (acc > u) {
          pick = int32_t(v);
          break;
        }
      }
      seqs[i].push_back(pick);
      if (pick == o.eos || seqs[i].size() == prompts[i].size() + o.tokens) done[i] = true;
    }
    if (progress) progress(step + 1, steps);
  }
  return seqs;
}

}  // namespace bcvk::distill
