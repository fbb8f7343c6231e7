#include "tests/support/cpu_reference.h"

#include "loaders/half.h"

#include <cmath>

namespace bcvk::test {

namespace {

struct Mat {
  std::vector<float> w;
  uint64_t rows, cols;
  explicit Mat(const loaders::WeightTensor& t) : w(t.to_f32()), rows(t.rows), cols(t.cols) {}
  std::vector<double> apply(const std::vector<double>& x) const {
    std::vector<double> y(rows, 0.0);
    for (uint64_t r = 0; r < rows; ++r) {
      double s = 0;
      for (uint64_t c = 0; c < cols; ++c) s += double(w[r * cols + c]) * x[c];
      y[r] = s;
    }
    return y;
  }
};

std::vector<double> norm(const std::vector<double>& x, const std::vector<float>& g, double eps) {
  double ss = 0;
  for (double v : x) ss += v * v;
  const double s = 1.0 / std::sqrt(ss / x.size() + eps);
  std::vector<double> y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] * s * g[i];
  return y;
}

}  // namespace

std::vector<double> cpu_rms_norm(const std::vector<float>& x, const std::vector<float>& g,
                                 double eps) {
  return norm(std::vector<double>(x.begin(), x.end()), g, eps);
}

void cpu_rope(double* head, uint32_t hd, uint32_t rope_dims, uint32_t pos, double base,
              bool adjacent) {
  for (uint32_t i = 0; i < rope_dims / 2; ++i) {
    const double theta = pos * std::pow(base, -2.0 * i / rope_dims);
    const uint32_t a = adjacent ? 2 * i : i, b = adjacent ? 2 * i + 1 : i + hd / 2;
    const double x0 = head[a], x1 = head[b];
    head[a] = x0 * std::cos(theta) - x1 * std::sin(theta);
    head[b] = x0 * std::sin(theta) + x1 * std::cos(theta);
  }
}

std::vector<double> cpu_attention(const std::vector<double>& q,
                                  const std::vector<std::vector<double>>& k,
                                  const std::vector<std::vector<double>>& v, uint32_t n_heads,
                                  uint32_t n_kv, uint32_t hd) {
  std::vector<double> out(size_t(n_heads) * hd, 0.0);
  for (uint32_t h = 0; h < n_heads; ++h) {
    const uint32_t kvh = h / (n_heads / n_kv);
    std::vector<double> s(k.size());
    double mx = -INFINITY;
    for (size_t j = 0; j < k.size(); ++j) {
      double d = 0;
      for (uint32_t e = 0; e < hd; ++e) d += q[h * hd + e] * k[j][kvh * hd + e];
      s[j] = d / std::sqrt(double(hd));
      mx = std::max(mx, s[j]);
    }
    double z = 0;
    for (double& x : s) z += (x = std::exp(x - mx));
    for (size_t j = 0; j < k.size(); ++j)
      for (uint32_t e = 0; e < hd; ++e) out[h * hd + e] += s[j] / z * v[j][kvh * hd + e];
  }
  return out;
}

std::vector<std::vector<double>> cpu_forward(const loaders::LlamaModelFile& m,
                                             const std::vector<int32_t>& tokens, bool f16_kv) {
  const auto& c = m.config();
  const bool adjacent = m.rope_layout() == loaders::RopeLayout::kAdjacentPairs;
  const auto embd = m.token_embd().to_f32();
  const Mat out_w(m.output());
  const auto out_norm = m.output_norm().to_f32();
  struct Layer {
    std::vector<float> an, fn;
    Mat q, k, v, o, g, u, d;
  };
  std::vector<Layer> layers;
  for (const auto& L : m.layers())
    layers.push_back({L.attn_norm.to_f32(), L.ffn_norm.to_f32(), Mat(L.wq), Mat(L.wk), Mat(L.wv),
                      Mat(L.wo), Mat(L.gate), Mat(L.up), Mat(L.down)});
  const uint32_t hd = c.head_dim;
  std::vector<std::vector<std::vector<double>>> kc(c.n_layers), vc(c.n_layers);
  std::vector<std::vector<double>> logits;
  for (size_t pos = 0; pos < tokens.size(); ++pos) {
    std::vector<double> x(c.n_embd);
    for (uint32_t i = 0; i < c.n_embd; ++i) x[i] = embd[size_t(tokens[pos]) * c.n_embd + i];
    for (uint32_t l = 0; l < c.n_layers; ++l) {
      const Layer& L = layers[l];
      const auto xn = norm(x, L.an, c.rms_eps);
      auto q = L.q.apply(xn), k = L.k.apply(xn), v = L.v.apply(xn);
      for (uint32_t h = 0; h < c.n_heads; ++h)
        cpu_rope(&q[h * hd], hd, c.rope_dims, pos, c.rope_base, adjacent);
      for (uint32_t h = 0; h < c.n_kv_heads; ++h)
        cpu_rope(&k[h * hd], hd, c.rope_dims, pos, c.rope_base, adjacent);
      if (f16_kv)
        for (auto* vec : {&k, &v})
          for (double& e : *vec) e = loaders::half_to_float(loaders::float_to_half(float(e)));
      kc[l].push_back(k);
      vc[l].push_back(v);
      const auto att = cpu_attention(q, kc[l], vc[l], c.n_heads, c.n_kv_heads, hd);
      const auto o = L.o.apply(att);
      for (uint32_t i = 0; i < c.n_embd; ++i) x[i] += o[i];
      const auto xn2 = norm(x, L.fn, c.rms_eps);
      const auto g = L.g.apply(xn2), u = L.u.apply(xn2);
      std::vector<double> hmid(g.size());
      for (size_t i = 0; i < g.size(); ++i) hmid[i] = g[i] / (1 + std::exp(-g[i])) * u[i];
      const auto dn = L.d.apply(hmid);
      for (uint32_t i = 0; i < c.n_embd; ++i) x[i] += dn[i];
    }
    logits.push_back(out_w.apply(norm(x, out_norm, c.rms_eps)));
  }
  return logits;
}

}  // namespace bcvk::test
