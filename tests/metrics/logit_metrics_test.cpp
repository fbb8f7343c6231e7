// Logit metrics against values worked out by hand.
#include "runtime/metrics/logit_metrics.h"

#include <gtest/gtest.h>

#include <cmath>

namespace bcvk::metrics {
namespace {

using V = std::vector<float>;

TEST(LogitMetrics, KlByHand) {
  // p_t = (1/2, 1/2), p_s = (1/4, 3/4): KL = 1/2 ln 2 + 1/2 ln(2/3) = 1/2 ln(4/3).
  const double want = 0.5 * std::log(4.0 / 3.0);
  EXPECT_NEAR(kl_divergence(V{0, 0}, V{0, float(std::log(3.0))}), want, 1e-7);
  // The same distributions at T = 2 from logits twice as large.
  EXPECT_NEAR(kl_divergence(V{0, 0}, V{0, float(2 * std::log(3.0))}, 2.0), want, 1e-7);
  // Shifted by 1000: no overflow, same value (softmax is shift-invariant).
  EXPECT_NEAR(kl_divergence(V{1000, 1000}, V{1000, 1000 + float(std::log(3.0))}), want, 1e-4);
  EXPECT_EQ(kl_divergence(V{1, 2, 3}, V{1, 2, 3}), 0.0);
  // KL is not symmetric: KL(s||t) = 1/4 ln(1/2) + 3/4 ln(3/2).
  EXPECT_NEAR(kl_divergence(V{0, float(std::log(3.0))}, V{0, 0}),
              0.25 * std::log(0.5) + 0.75 * std::log(1.5), 1e-7);
  EXPECT_THROW(kl_divergence(V{1}, V{1, 2}), std::invalid_argument);
  EXPECT_THROW(kl_divergence(V{1}, V{1}, 0.0), std::invalid_argument);
}

TEST(LogitMetrics, DistancesByHand) {
  const auto c = compare_logits(V{1, 2, 3}, V{1, 2, 5});
  EXPECT_NEAR(c.mse, 4.0 / 3.0, 1e-12);
  EXPECT_NEAR(c.l2, 2.0, 1e-12);
  EXPECT_NEAR(c.cosine, 20.0 / std::sqrt(14.0 * 30.0), 1e-12);
  EXPECT_EQ(c.top1, 1.0);
}

TEST(LogitMetrics, TopKAgreementByHand) {
  // Teacher order: 9 8 7 ... 0 (id 9 largest).  Student: same but ids 9 and 0 swapped.
  V t(12), s(12);
  for (int i = 0; i < 12; ++i) t[i] = s[i] = float(i);
  std::swap(s[11], s[0]);
  const auto c = compare_logits(t, s);
  EXPECT_EQ(c.top1, 0.0);                                               // 11 vs 10
  EXPECT_NEAR(c.top5, 4.0 / 5.0, 1e-12);                                // {11..7} vs {10..6}
  EXPECT_NEAR(c.top10, 9.0 / 10.0, 1e-12);                              // {11..2} vs {10..1}
  EXPECT_EQ(c.teacher_top1_in_student_top5, 0.0);                       // 11 is the student's last
  EXPECT_EQ(top_k(V{1, 3, 3, 2}, 3), (std::vector<int32_t>{1, 2, 3}));  // tie: lower id first
}

TEST(LogitMetrics, PerplexityAndAgreementByHand) {
  // Uniform over 2 tokens at every position: perplexity 2.
  EXPECT_NEAR(perplexity(V{0, 0, 0, 0, 0, 0}, 2, std::vector<int32_t>{0, 1, 0}), 2.0, 1e-12);
  // Row 0 gives token 1 probability 3/4: NLL = ln(4/3), one prediction.
  EXPECT_NEAR(perplexity(V{0, float(std::log(3.0)), 9, 9}, 2, std::vector<int32_t>{0, 1}),
              4.0 / 3.0, 1e-6);
  EXPECT_THROW(perplexity(V{0, 0}, 2, std::vector<int32_t>{0}), std::invalid_argument);
  EXPECT_NEAR(argmax_agreement(V{0, 1, 1, 0, 5, 4}, V{0, 1, 0, 1, 9, 0}, 2), 2.0 / 3.0, 1e-12);
}

TEST(LogitMetrics, CorpusPerplexityWeightsEveryPredictedTokenEqually) {
  // Prompt A: uniform over 2 tokens, 2 predictions (NLL 2 ln 2). Prompt B: 1 prediction at
  // probability 3/4 (NLL ln 4/3).
  const Nll a = negative_log_likelihood(V{0, 0, 0, 0, 0, 0}, 2, std::vector<int32_t>{0, 1, 0});
  const Nll b =
      negative_log_likelihood(V{0, float(std::log(3.0)), 9, 9}, 2, std::vector<int32_t>{0, 1});
  EXPECT_EQ(a.tokens, 2u);
  EXPECT_EQ(b.tokens, 1u);
  EXPECT_NEAR(a.sum, 2 * std::log(2.0), 1e-12);
  const Aggregate c = corpus_perplexity({a, b});
  // exp((2 ln 2 + ln 4/3) / 3) = (16/3)^(1/3) = 1.7472..., not the per-prompt mean (2 + 4/3) / 2.
  EXPECT_NEAR(c.mean, std::cbrt(16.0 / 3.0), 1e-6);
  EXPECT_EQ(c.n, 2u);
  // Resampled sets are mixtures of the two prompts: the interval lies within their perplexities.
  EXPECT_GE(c.ci_low, 4.0 / 3.0 - 1e-6);
  EXPECT_LE(c.ci_high, 2.0 + 1e-6);
  EXPECT_LT(c.ci_low, c.mean);
  EXPECT_GT(c.ci_high, c.mean);
  // One prompt: the interval collapses onto the value.
  const Aggregate one = corpus_perplexity({a});
  EXPECT_NEAR(one.mean, 2.0, 1e-12);
  EXPECT_NEAR(one.ci_low, 2.0, 1e-12);
  EXPECT_NEAR(one.ci_high, 2.0, 1e-12);
}

TEST(LogitMetrics, AggregateByHand) {
  const auto a = aggregate({1, 2, 3, 4}, 7);
  EXPECT_EQ(a.n, 4u);
  EXPECT_DOUBLE_EQ(a.mean, 2.5);
  EXPECT_DOUBLE_EQ(a.median, 2.5);
  EXPECT_NEAR(a.p95, 3.85, 1e-12);  // position 0.95 * 3 = 2.85 between 3 and 4
  EXPECT_LT(a.ci_low, a.mean);
  EXPECT_GT(a.ci_high, a.mean);
  EXPECT_GE(a.ci_low, 1.0);
  EXPECT_LE(a.ci_high, 4.0);
  const auto again = aggregate({1, 2, 3, 4}, 7);
  EXPECT_EQ(a.ci_low, again.ci_low);  // seeded: reproducible
  const auto flat = aggregate({0.5, 0.5, 0.5}, 3);
  EXPECT_DOUBLE_EQ(flat.ci_low, 0.5);
  EXPECT_DOUBLE_EQ(flat.ci_high, 0.5);
}

}  // namespace
}  // namespace bcvk::metrics
