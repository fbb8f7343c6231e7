// Every backward op of the host training code against central finite differences in double:
// for a random linear functional L = sum w . f(x), the analytic gradient from the backward pass
// must match (L(x + h e_i) - L(x - h e_i)) / 2h at every input (every parameter of the
// block-circulant fold).
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <vector>

#include "runtime/compress/block_circulant.h"
#include "runtime/distill/gemm.h"
#include "runtime/distill/host_ops.h"
#include "tests/support/random.h"

namespace bcvk::distill {
namespace {

std::vector<double> random_vec(size_t n, uint64_t seed, double scale = 1.0) {
  test::Rng r(seed);
  std::vector<double> v(n);
  for (auto& x : v) x = scale * r.uniform(-1.f, 1.f);
  return v;
}

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// Max |analytic - numeric| / max(1, |numeric|) over every coordinate of x.
double fd_error(std::vector<double> x, const std::function<double(const std::vector<double>&)>& L,
                const std::vector<double>& analytic, double h = 1e-5) {
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double x0 = x[i];
    x[i] = x0 + h;
    const double lp = L(x);
    x[i] = x0 - h;
    const double lm = L(x);
    x[i] = x0;
    const double num = (lp - lm) / (2 * h);
    worst = std::max(worst, std::abs(analytic[i] - num) / std::max(1.0, std::abs(num)));
  }
  return worst;
}

Packing packing(std::initializer_list<uint32_t> lengths) {
  Packing pk;
  for (uint32_t l : lengths) pk.add(l);
  return pk;
}

TEST(HostOps, GemmMatchesLoopsInEveryTransposition) {
  const int M = 7, N = 5, K = 9;
  const auto a = random_vec(M * K, 1), b = random_vec(K * N, 2), c0 = random_vec(M * N, 3);
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb) {
      std::vector<double> c = c0;
      // A stored [M][K] or [K][M]; B [K][N] or [N][K].
      gemm<double>(ta, tb, M, N, K, 2.0, a.data(), ta ? M : K, b.data(), tb ? K : N, 0.5, c.data(),
                   N);
      for (int i = 0; i < M; ++i)
        for (int j = 0; j < N; ++j) {
          double s = 0;
          for (int k = 0; k < K; ++k)
            s += (ta ? a[k * M + i] : a[i * K + k]) * (tb ? b[j * K + k] : b[k * N + j]);
          EXPECT_NEAR(c[i * N + j], 2.0 * s + 0.5 * c0[i * N + j], 1e-12)
              << "ta=" << ta << " tb=" << tb;
        }
    }
}

TEST(HostOps, LinearBackwardMatchesFiniteDifferences) {
  const uint32_t N = 3, in = 6, out = 5;
  const auto x = random_vec(N * in, 4), W = random_vec(out * in, 5), w = random_vec(N * out, 6);
  auto L_x = [&](const std::vector<double>& xx) {
    std::vector<double> y(N * out);
    linear_forward(xx.data(), N, in, W.data(), out, y.data());
    return dot(y, w);
  };
  auto L_W = [&](const std::vector<double>& WW) {
    std::vector<double> y(N * out);
    linear_forward(x.data(), N, in, WW.data(), out, y.data());
    return dot(y, w);
  };
  std::vector<double> dx(N * in, 0.0), dW(out * in, 0.0);
  linear_backward(w.data(), x.data(), N, in, W.data(), out, dx.data(), dW.data());
  EXPECT_LT(fd_error(x, L_x, dx), 1e-8);
  EXPECT_LT(fd_error(W, L_W, dW), 1e-8);
}

TEST(HostOps, RmsNormBackwardMatchesFiniteDifferences) {
  const uint32_t N = 3, E = 8;
  const auto x = random_vec(N * E, 7), g = random_vec(E, 8), w = random_vec(N * E, 9);
  auto L = [&](const std::vector<double>& xx) {
    std::vector<double> y(N * E), r(N);
    rms_norm_forward(xx.data(), g.data(), N, E, 1e-5, y.data(), r.data());
    return dot(y, w);
  };
  std::vector<double> y(N * E), r(N), dx(N * E, 0.0);
  rms_norm_forward(x.data(), g.data(), N, E, 1e-5, y.data(), r.data());
  rms_norm_backward(w.data(), x.data(), g.data(), r.data(), N, E, dx.data());
  EXPECT_LT(fd_error(x, L, dx), 1e-8);
}

TEST(HostOps, RopeBackwardMatchesFiniteDifferencesInBothPairings) {
  const uint32_t heads = 2, hd = 8;
  const Packing pk = packing({3, 2});
  for (bool adjacent : {true, false}) {
    const RopeTable t(8, hd, 10000.0, adjacent);
    const auto x = random_vec(pk.tokens() * heads * hd, 10), w = random_vec(x.size(), 11);
    auto L = [&](const std::vector<double>& xx) {
      std::vector<double> y = xx;
      rope_apply(y.data(), pk, heads, hd, t, +1);
      return dot(y, w);
    };
    std::vector<double> dx = w;
    rope_apply(dx.data(), pk, heads, hd, t, -1);
    EXPECT_LT(fd_error(x, L, dx), 1e-8) << (adjacent ? "adjacent" : "half-split");
    // Position 0 of every sequence is not rotated (each sequence restarts at position 0).
    std::vector<double> y = x;
    rope_apply(y.data(), pk, heads, hd, t, +1);
    for (uint32_t e = 0; e < heads * hd; ++e) {
      EXPECT_DOUBLE_EQ(y[e], x[e]);
      EXPECT_DOUBLE_EQ(y[3 * heads * hd + e], x[3 * heads * hd + e]);
    }
  }
}

TEST(HostOps, AttentionBackwardMatchesFiniteDifferencesWithGroupedHeads) {
  const uint32_t H = 4, KV = 2, hd = 3;
  const Packing pk = packing({4, 1, 3});
  const uint32_t N = pk.tokens();
  const auto q = random_vec(N * H * hd, 12), k = random_vec(N * KV * hd, 13),
             v = random_vec(N * KV * hd, 14), w = random_vec(N * H * hd, 15);
  auto run = [&](const std::vector<double>& qq, const std::vector<double>& kk,
                 const std::vector<double>& vv) {
    std::vector<double> out(N * H * hd);
    std::vector<double> probs;
    attention_forward(qq.data(), kk.data(), vv.data(), pk, H, KV, hd, out.data(), probs);
    return dot(out, w);
  };
  std::vector<double> out(N * H * hd), probs, dq(q.size(), 0.0), dk(k.size(), 0.0),
      dv(v.size(), 0.0);
  attention_forward(q.data(), k.data(), v.data(), pk, H, KV, hd, out.data(), probs);
  attention_backward(w.data(), q.data(), k.data(), v.data(), probs.data(), pk, H, KV, hd, dq.data(),
                     dk.data(), dv.data());
  EXPECT_LT(fd_error(
                q, [&](const auto& x) { return run(x, k, v); }, dq),
            1e-8);
  EXPECT_LT(fd_error(
                k, [&](const auto& x) { return run(q, x, v); }, dk),
            1e-8);
  EXPECT_LT(fd_error(
                v, [&](const auto& x) { return run(q, k, x); }, dv),
            1e-8);
  // The one-token sequence attends only to itself: its output is its value, per head group.
  for (uint32_t h = 0; h < H; ++h)
    for (uint32_t e = 0; e < hd; ++e)
      EXPECT_NEAR(out[(4 * H + h) * hd + e], v[(4 * KV + h / 2) * hd + e], 1e-15);
}

TEST(HostOps, SiluMulBackwardMatchesFiniteDifferences) {
  const size_t n = 12;
  const auto g = random_vec(n, 16, 4.0), u = random_vec(n, 17), w = random_vec(n, 18);
  auto run = [&](const std::vector<double>& gg, const std::vector<double>& uu) {
    std::vector<double> h(n);
    silu_mul_forward(gg.data(), uu.data(), n, h.data());
    return dot(h, w);
  };
  std::vector<double> dg(n, 0.0), du(n, 0.0);
  silu_mul_backward(w.data(), g.data(), u.data(), n, dg.data(), du.data());
  EXPECT_LT(fd_error(
                g, [&](const auto& x) { return run(x, u); }, dg),
            1e-8);
  EXPECT_LT(fd_error(
                u, [&](const auto& x) { return run(g, x); }, du),
            1e-8);
}

TEST(HostOps, CirculantExpandMatchesTheCompressLibraryAndFoldIsItsGradient) {
  // Padded on both axes (10 x 7 at B = 4) and exact (8 x 12 at B = 4).
  for (auto [rows, cols] : {std::pair<uint32_t, uint32_t>{10, 7}, {8, 12}}) {
    const uint32_t B = 4;
    compress::BlockCirculant bc = compress::zero_block_circulant(rows, cols, B);
    const auto c = random_vec(bc.c.size(), 19);
    for (size_t i = 0; i < c.size(); ++i) bc.c[i] = float(c[i]);
    std::vector<double> W(rows * cols);
    circulant_expand(c.data(), rows, cols, B, W.data());
    const auto ref = compress::expand(bc);  // an independent implementation of C[r][s]
    for (size_t i = 0; i < W.size(); ++i) EXPECT_NEAR(W[i], ref[i], 1e-6);
    const auto w = random_vec(W.size(), 20);
    auto L = [&](const std::vector<double>& cc) {
      std::vector<double> WW(rows * cols);
      circulant_expand(cc.data(), rows, cols, B, WW.data());
      return dot(WW, w);
    };
    std::vector<double> dc(c.size(), 0.0);
    circulant_fold(w.data(), rows, cols, B, dc.data());
    EXPECT_LT(fd_error(c, L, dc), 1e-8) << rows << "x" << cols;
  }
}

TEST(HostOps, KlLossIsZeroAtTheTeacherAndItsGradientMatchesFiniteDifferences) {
  const uint32_t N = 3, V = 7;
  for (double T : {1.0, 2.0}) {
    const auto zt = random_vec(N * V, 21, 3.0);
    // Teacher probabilities at temperature T and sum p log p, computed here from the definition.
    std::vector<float> p(N * V);
    std::vector<double> ne(N, 0.0);
    for (uint32_t n = 0; n < N; ++n) {
      double s = 0;
      for (uint32_t v = 0; v < V; ++v) s += std::exp(zt[n * V + v] / T);
      for (uint32_t v = 0; v < V; ++v) {
        p[n * V + v] = float(std::exp(zt[n * V + v] / T) / s);
        ne[n] += double(p[n * V + v]) * std::log(double(p[n * V + v]));
      }
    }
    std::vector<double> z = zt;
    EXPECT_NEAR(kl_loss_and_grad(z.data(), p.data(), ne.data(), N, V, T, 1.0, false), 0.0, 1e-6);
    const auto zs = random_vec(N * V, 22, 3.0);
    auto L = [&](const std::vector<double>& zz) {
      std::vector<double> c = zz;
      return kl_loss_and_grad(c.data(), p.data(), ne.data(), N, V, T, 1.0, false);
    };
    // Hand-computed KL for row 0 against the same definition.
    double kl0 = 0, s = 0;
    for (uint32_t v = 0; v < V; ++v) s += std::exp(zs[v] / T);
    for (uint32_t v = 0; v < V; ++v)
      kl0 += p[v] * (std::log(double(p[v])) - (zs[v] / T - std::log(s)));
    std::vector<double> row0(zs.begin(), zs.begin() + V);
    EXPECT_NEAR(kl_loss_and_grad(row0.data(), p.data(), ne.data(), 1, V, T, 1.0, false),
                T * T * kl0, 1e-9);
    std::vector<double> g = zs;
    kl_loss_and_grad(g.data(), p.data(), ne.data(), N, V, T, 1.0, true);
    EXPECT_LT(fd_error(zs, L, g), 1e-7) << "T=" << T;
  }
}

}  // namespace
}  // namespace bcvk::distill
