// The sampler against hand-computed distributions: greedy is the argmax, draws follow
// softmax(z / T) restricted to top-k and the top-p nucleus, and a seed fixes the draws.
#include "runtime/generate/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

namespace bcvk::generate {
namespace {

std::vector<double> frequencies(SamplerOptions o, const std::vector<float>& z, int n) {
  Sampler s(o);
  std::vector<double> f(z.size(), 0.0);
  for (int i = 0; i < n; ++i) f[size_t(s.sample(z))] += 1.0 / n;
  return f;
}

// Logits whose softmax at T = 1 is {1, 2, 3, 4} / 10, in a shuffled order.
const std::vector<float> kZ = {float(std::log(3.0)), 0.0f, float(std::log(4.0)),
                               float(std::log(2.0))};

TEST(Sampler, GreedyIsTheArgmax) {
  Sampler s({0.0f, 40, 0.95f, 1});
  EXPECT_EQ(s.sample(kZ), 2);
  EXPECT_EQ(s.sample(std::vector<float>{1, 5, 5, 2}), 1);  // ties: the first
  SamplerOptions k1{1.0f, 1, 1.0f, 3};
  EXPECT_NEAR(frequencies(k1, kZ, 200)[2], 1.0, 1e-9);  // top-k 1 at T > 0 is greedy too
}

TEST(Sampler, DrawsFollowTheTemperedSoftmax) {
  constexpr int n = 200000;  // standard error ~0.001
  auto f = frequencies({1.0f, 0, 1.0f, 7}, kZ, n);
  const double p1[4] = {0.3, 0.1, 0.4, 0.2};
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(f[i], p1[i], 0.005) << i;
  // T = 1/2 squares the probabilities: {9, 1, 16, 4} / 30.
  f = frequencies({0.5f, 0, 1.0f, 7}, kZ, n);
  const double p2[4] = {9 / 30.0, 1 / 30.0, 16 / 30.0, 4 / 30.0};
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(f[i], p2[i], 0.005) << i;
}

TEST(Sampler, TopKAndTopPCutTheCandidates) {
  constexpr int n = 100000;
  // top-k 2: the two most likely (0.4, 0.3), renormalized to 4/7 and 3/7.
  auto f = frequencies({1.0f, 2, 1.0f, 5}, kZ, n);
  EXPECT_NEAR(f[2], 4 / 7.0, 0.006);
  EXPECT_NEAR(f[0], 3 / 7.0, 0.006);
  EXPECT_EQ(f[1] + f[3], 0.0);
  // top-p 0.5: the smallest set with mass >= 0.5 is {0.4, 0.3}.
  f = frequencies({1.0f, 0, 0.5f, 5}, kZ, n);
  EXPECT_NEAR(f[2], 4 / 7.0, 0.006);
  EXPECT_EQ(f[1] + f[3], 0.0);
  // top-p 0.35: the most likely alone.
  f = frequencies({1.0f, 0, 0.35f, 5}, kZ, 1000);
  EXPECT_NEAR(f[2], 1.0, 1e-9);
}

TEST(Sampler, ASeedFixesTheDraws) {
  auto draws = [](uint64_t seed) {
    Sampler s({1.0f, 0, 1.0f, seed});
    std::vector<int32_t> v;
    for (int i = 0; i < 64; ++i) v.push_back(s.sample(kZ));
    return v;
  };
  EXPECT_EQ(draws(42), draws(42));
  EXPECT_NE(draws(42), draws(43));
}

TEST(Sampler, NanInfiniteAndAllMinusInfLogitsAreRefused) {
  const float inf = INFINITY, nan = NAN;
  for (float t : {0.0f, 0.8f}) {
    Sampler s({t, 0, 1.0f, 1});
    EXPECT_THROW(s.sample(std::vector<float>{nan, nan, nan}), std::invalid_argument);
    EXPECT_THROW(s.sample(std::vector<float>{inf, inf}), std::invalid_argument);
    EXPECT_THROW(s.sample(std::vector<float>{0.5f, nan}), std::invalid_argument);
    EXPECT_THROW(s.sample(std::vector<float>{-inf, -inf}), std::invalid_argument);
    // -inf masks a token; the rest are sampled as usual.
    EXPECT_EQ(s.sample(std::vector<float>{-inf, 3.0f, -inf}), 1);
  }
  try {
    Sampler({0.0f, 0, 1.0f, 1}).sample(std::vector<float>{1.0f, 2.0f, nan});
    ADD_FAILURE() << "sampled from a NaN logit";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("logit 2 is NaN"), std::string::npos) << e.what();
  }
}

TEST(Sampler, BadOptionsAndEmptyLogitsAreRefused) {
  EXPECT_THROW(Sampler({-1.0f, 40, 0.9f, 0}), std::invalid_argument);
  EXPECT_THROW(Sampler({INFINITY, 40, 0.9f, 0}), std::invalid_argument);
  EXPECT_THROW(Sampler({1.0f, 40, 0.0f, 0}), std::invalid_argument);
  EXPECT_THROW(Sampler({1.0f, 40, 1.5f, 0}), std::invalid_argument);
  Sampler s({1.0f, 40, 0.9f, 0});
  EXPECT_THROW(s.sample(std::vector<float>{}), std::invalid_argument);
}

}  // namespace
}  // namespace bcvk::generate
