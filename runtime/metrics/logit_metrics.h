// How close a student's logits stay to its teacher's: distances, KL, top-k agreement,
// perplexity, and aggregation with a bootstrap interval.  Everything in double.
// Test: tests/metrics/logit_metrics_test.cpp.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace bcvk::metrics {

// The k largest logits' ids, largest first; ties go to the lower id.
std::vector<int32_t> top_k(std::span<const float> logits, size_t k);

// log(sum exp(z / T)) computed stably (max subtracted first).
double log_sum_exp(std::span<const float> z, double temperature = 1.0);

// KL(p_teacher || p_student), p = softmax(z / T): sum_i p_t,i (log p_t,i - log p_s,i).
double kl_divergence(std::span<const float> teacher, std::span<const float> student,
                     double temperature = 1.0);

// Metrics of one prompt's last-position logits.
struct LogitComparison {
  double mse = 0;     // mean over the vocabulary of (t - s)^2
  double l2 = 0;      // ||t - s||
  double cosine = 0;  // <t, s> / (||t|| ||s||)
  double kl = 0;      // KL(p_t || p_s) at the temperature
  double top1 = 0;    // 1 when the argmaxes agree
  double top5 = 0;    // |top5_t ∩ top5_s| / 5
  double top10 = 0;   // |top10_t ∩ top10_s| / 10
  double teacher_top1_in_student_top5 = 0;
};
LogitComparison compare_logits(std::span<const float> teacher, std::span<const float> student,
                               double temperature = 1.0);

// Perplexity of a sequence under the model: logits is [n][vocab] for tokens[0..n-1]; row i predicts
// tokens[i + 1].  exp(mean over i < n-1 of -log softmax(row i)[tokens[i+1]]).  Needs n >= 2.
double perplexity(std::span<const float> logits, size_t vocab, std::span<const int32_t> tokens);

// The summed negative log-likelihood of tokens[1..n) under logits rows [0, n-1), and how many
// tokens that is (the first token has no prediction).
struct Nll {
  double sum = 0;
  uint64_t tokens = 0;
};
Nll negative_log_likelihood(std::span<const float> logits, size_t vocab,
                            std::span<const int32_t> tokens);

// Share of rows (positions) whose argmax agrees between two [n][vocab] logit matrices.
double argmax_agreement(std::span<const float> a, std::span<const float> b, size_t vocab);

struct Aggregate {
  double mean = 0, median = 0, p95 = 0;
  double ci_low = 0, ci_high = 0;  // 95% percentile bootstrap interval on the mean
  size_t n = 0;
};
// `resamples` bootstrap resamples drawn with a generator seeded by `seed` (reproducible).
Aggregate aggregate(const std::vector<double>& values, uint64_t seed = 1, int resamples = 2000);

// Perplexity of a whole set as the field reports it: exp(total NLL / total predicted tokens) over
// every prompt (`mean`), with a 95% percentile bootstrap interval over prompts; `n` = prompts.
Aggregate corpus_perplexity(const std::vector<Nll>& prompts, uint64_t seed = 1,
                            int resamples = 2000);

// The q-quantile (0..1) by linear interpolation between order statistics.
double quantile(std::vector<double> values, double q);

}  // namespace bcvk::metrics
