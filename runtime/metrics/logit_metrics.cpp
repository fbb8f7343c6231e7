#include "runtime/metrics/logit_metrics.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <stdexcept>

namespace bcvk::metrics {

std::vector<int32_t> top_k(std::span<const float> logits, size_t k) {
  k = std::min(k, logits.size());
  std::vector<int32_t> idx(logits.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int32_t a, int32_t b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  });
  idx.resize(k);
  return idx;
}

double log_sum_exp(std::span<const float> z, double temperature) {
  if (z.empty()) throw std::invalid_argument("log_sum_exp of no values");
  double m = -INFINITY;
  for (float v : z) m = std::max(m, double(v) / temperature);
  double s = 0;
  for (float v : z) s += std::exp(double(v) / temperature - m);
  return m + std::log(s);
}

double kl_divergence(std::span<const float> t, std::span<const float> s, double temperature) {
  if (t.size() != s.size() || t.empty())
    throw std::invalid_argument("kl_divergence: logits of different sizes");
  if (!(temperature > 0))
    throw std::invalid_argument("kl_divergence: the temperature must be positive");
  const double lt = log_sum_exp(t, temperature), ls = log_sum_exp(s, temperature);
  double kl = 0;
  for (size_t i = 0; i < t.size(); ++i) {
    const double log_pt = double(t[i]) / temperature - lt;
    const double log_ps = double(s[i]) / temperature - ls;
    kl += std::exp(log_pt) * (log_pt - log_ps);
  }
  return std::max(kl, 0.0);  // rounding can leave -1e-17 for identical inputs
}

LogitComparison compare_logits(std::span<const float> t, std::span<const float> s,
                               double temperature) {
  if (t.size() != s.size() || t.empty())
    throw std::invalid_argument("compare_logits: logits of different sizes");
  LogitComparison c;
  double d2 = 0, tt = 0, ss = 0, ts = 0;
  for (size_t i = 0; i < t.size(); ++i) {
    const double d = double(t[i]) - s[i];
    d2 += d * d;
    tt += double(t[i]) * t[i];
    ss += double(s[i]) * s[i];
    ts += double(t[i]) * s[i];
  }
  c.mse = d2 / t.size();
  c.l2 = std::sqrt(d2);
  c.cosine = tt > 0 && ss > 0 ? ts / std::sqrt(tt * ss) : 0.0;
  c.kl = kl_divergence(t, s, temperature);
  const auto t10 = top_k(t, 10), s10 = top_k(s, 10);
  auto overlap = [&](size_t k) {
    size_t n = 0;
    for (size_t i = 0; i < k && i < t10.size(); ++i)
      n += std::find(s10.begin(), s10.begin() + std::min(k, s10.size()), t10[i]) !=
           s10.begin() + std::min(k, s10.size());
    return double(n) / double(k);
  };
  c.top1 = t10[0] == s10[0] ? 1.0 : 0.0;
  c.top5 = overlap(5);
  c.top10 = overlap(10);
  c.teacher_top1_in_student_top5 =
      std::find(s10.begin(), s10.begin() + std::min<size_t>(5, s10.size()), t10[0]) !=
              s10.begin() + std::min<size_t>(5, s10.size())
          ? 1.0
          : 0.0;
  return c;
}

Nll negative_log_likelihood(std::span<const float> logits, size_t vocab,
                            std::span<const int32_t> tokens) {
  const size_t n = tokens.size();
  if (n < 2) throw std::invalid_argument("perplexity needs at least two tokens");
  if (logits.size() < (n - 1) * vocab)
    throw std::invalid_argument("perplexity: too few logit rows");
  Nll r;
  for (size_t i = 0; i + 1 < n; ++i) {
    const auto row = logits.subspan(i * vocab, vocab);
    const int32_t next = tokens[i + 1];
    if (next < 0 || size_t(next) >= vocab)
      throw std::invalid_argument("perplexity: token outside the vocabulary");
    r.sum += log_sum_exp(row) - double(row[next]);
  }
  r.tokens = n - 1;
  return r;
}

double perplexity(std::span<const float> logits, size_t vocab, std::span<const int32_t> tokens) {
  const Nll r = negative_log_likelihood(logits, vocab, tokens);
  return std::exp(r.sum / double(r.tokens));
}

double argmax_agreement(std::span<const float> a, std::span<const float> b, size_t vocab) {
  if (a.size() != b.size() || vocab == 0 || a.size() % vocab)
    throw std::invalid_argument("argmax_agreement: shapes differ");
  const size_t rows = a.size() / vocab;
  if (rows == 0) return 0;
  size_t same = 0;
  for (size_t r = 0; r < rows; ++r)
    same += top_k(a.subspan(r * vocab, vocab), 1)[0] == top_k(b.subspan(r * vocab, vocab), 1)[0];
  return double(same) / double(rows);
}

double quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const double pos = q * double(v.size() - 1);
  const size_t lo = size_t(std::floor(pos)), hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - double(lo));
}

Aggregate aggregate(const std::vector<double>& v, uint64_t seed, int resamples) {
  Aggregate a;
  a.n = v.size();
  if (v.empty()) return a;
  a.mean = std::accumulate(v.begin(), v.end(), 0.0) / double(v.size());
  a.median = quantile(v, 0.5);
  a.p95 = quantile(v, 0.95);
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<size_t> pick(0, v.size() - 1);
  std::vector<double> means(resamples);
  for (int r = 0; r < resamples; ++r) {
    double s = 0;
    for (size_t i = 0; i < v.size(); ++i) s += v[pick(rng)];
    means[r] = s / double(v.size());
  }
  a.ci_low = quantile(means, 0.025);
  a.ci_high = quantile(means, 0.975);
  return a;
}

Aggregate corpus_perplexity(const std::vector<Nll>& v, uint64_t seed, int resamples) {
  Aggregate a;
  a.n = v.size();
  auto ppl = [](double nll, double tokens) { return tokens > 0 ? std::exp(nll / tokens) : 0.0; };
  double nll = 0, tokens = 0;
  for (const Nll& x : v) {
    nll += x.sum;
    tokens += double(x.tokens);
  }
  a.mean = a.median = ppl(nll, tokens);
  if (v.empty()) return a;
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<size_t> pick(0, v.size() - 1);
  std::vector<double> resampled(resamples);
  for (int r = 0; r < resamples; ++r) {
    double s = 0, t = 0;
    for (size_t i = 0; i < v.size(); ++i) {
      const Nll& x = v[pick(rng)];
      s += x.sum;
      t += double(x.tokens);
    }
    resampled[r] = ppl(s, t);
  }
  a.ci_low = quantile(resampled, 0.025);
  a.ci_high = quantile(resampled, 0.975);
  return a;
}

}  // namespace bcvk::metrics
