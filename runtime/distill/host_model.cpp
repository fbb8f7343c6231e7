#include "runtime/distill/host_model.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "runtime/distill/gemm.h"

namespace bcvk::distill {

namespace {
template <class R>
std::vector<R> convert(const loaders::WeightTensor& w) {
  if (w.data.empty()) return {};
  const std::vector<float> f = w.to_f32();
  return std::vector<R>(f.begin(), f.end());
}
size_t mlp_index(compress::Projection p) {
  return static_cast<size_t>(p);
}
}  // namespace

template <class R>
void Trainable<R>::materialize() {
  dense.resize(size_t(rows) * cols);
  if (kind == Kind::kBlockCirculant) {
    circulant_expand(params.data(), rows, cols, block, dense.data());
  } else {  // W = U V
    gemm<R>(false, false, int(rows), int(cols), int(rank), R(1), params.data(), int(rank),
            params.data() + size_t(rows) * rank, int(cols), R(0), dense.data(), int(cols));
  }
}

template <class R>
void Trainable<R>::fold() {
  grad.resize(params.size(), R(0));
  if (kind == Kind::kBlockCirculant) {
    circulant_fold(dense_grad.data(), rows, cols, block, grad.data());
  } else {
    const R* u = params.data();
    const R* v = params.data() + size_t(rows) * rank;
    // dU = dW V^T, dV = U^T dW.
    gemm<R>(false, true, int(rows), int(rank), int(cols), R(1), dense_grad.data(), int(cols), v,
            int(cols), R(1), grad.data(), int(rank));
    gemm<R>(true, false, int(rank), int(cols), int(rows), R(1), u, int(rank), dense_grad.data(),
            int(cols), R(1), grad.data() + size_t(rows) * rank, int(cols));
  }
}

template <class R>
HostModel<R>::HostModel(const loaders::LlamaModelFile& file) : c_(file.config()) {
  token_embd_ = convert<R>(file.token_embd());
  output_norm_ = convert<R>(file.output_norm());
  if (!c_.tied_embeddings) output_ = convert<R>(file.output());
  for (const loaders::LlamaLayer& L : file.layers()) {
    Layer l;
    l.attn_norm = convert<R>(L.attn_norm);
    l.ffn_norm = convert<R>(L.ffn_norm);
    l.wq = convert<R>(L.wq);
    l.wk = convert<R>(L.wk);
    l.wv = convert<R>(L.wv);
    l.wo = convert<R>(L.wo);
    l.mlp[0] = convert<R>(L.gate);
    l.mlp[1] = convert<R>(L.up);
    l.mlp[2] = convert<R>(L.down);
    layers_.push_back(std::move(l));
  }
  rope_ = std::make_unique<RopeTable>(c_.n_ctx, c_.rope_dims, c_.rope_base,
                                      file.rope_layout() == loaders::RopeLayout::kAdjacentPairs);
}

template <class R>
uint64_t HostModel<R>::host_bytes() const {
  uint64_t n = token_embd_.size() + output_norm_.size() + output_.size();
  for (const Layer& l : layers_) {
    n += l.attn_norm.size() + l.ffn_norm.size() + l.wq.size() + l.wk.size() + l.wv.size() +
         l.wo.size();
    for (const auto& m : l.mlp) n += m.size();
  }
  return n * sizeof(R);
}

template <class R>
std::vector<R> HostModel<R>::embed(std::span<const int32_t> tokens) const {
  const uint32_t E = c_.n_embd;
  std::vector<R> x(tokens.size() * E);
  for (size_t n = 0; n < tokens.size(); ++n) {
    if (tokens[n] < 0 || uint32_t(tokens[n]) >= c_.n_vocab)
      throw std::invalid_argument("token id " + std::to_string(tokens[n]) + " is not in the " +
                                  std::to_string(c_.n_vocab) + "-token vocabulary");
    std::copy_n(token_embd_.data() + size_t(tokens[n]) * E, E, x.data() + n * E);
  }
  return x;
}

template <class R>
const R* HostModel<R>::mlp_weight(uint32_t l, compress::Projection p,
                                  const std::vector<Trainable<R>*>& student) const {
  for (const Trainable<R>* t : student)
    if (t->layer == l && t->projection == p) return t->dense.data();
  const auto& w = layers_[l].mlp[mlp_index(p)];
  if (w.empty())
    throw std::invalid_argument("layer " + std::to_string(l) + " " + compress::projection_name(p) +
                                " has no dense weight (stored block-circulant) and no student "
                                "replaces it");
  return w.data();
}

template <class R>
void HostModel<R>::forward_layers(std::vector<R>& x, const Packing& pk, uint32_t first,
                                  uint32_t last, const std::vector<Trainable<R>*>& student,
                                  Acts* acts) const {
  const uint32_t N = pk.tokens(), E = c_.n_embd, F = c_.n_ff, H = c_.n_heads, KV = c_.n_kv_heads,
                 hd = c_.head_dim, QD = H * hd, KD = KV * hd;
  if (x.size() != size_t(N) * E) throw std::invalid_argument("forward_layers: residual size");
  for (size_t s = 0; s < pk.sequences(); ++s)
    if (pk.offset[s + 1] - pk.offset[s] > c_.n_ctx)
      throw std::invalid_argument(
          "a sequence of " + std::to_string(pk.offset[s + 1] - pk.offset[s]) +
          " tokens exceeds the model's context of " + std::to_string(c_.n_ctx));
  if (acts) {
    acts->pk = pk;
    acts->first = first;
    acts->layers.assign(last - first, {});
  }
  LayerActs scratch;
  for (uint32_t l = first; l < last; ++l) {
    const Layer& W = layers_[l];
    LayerActs& a = acts ? acts->layers[l - first] : scratch;
    a.x_in = x;
    a.xn1.resize(size_t(N) * E);
    a.rstd1.resize(N);
    rms_norm_forward(x.data(), W.attn_norm.data(), N, E, c_.rms_eps, a.xn1.data(), a.rstd1.data());
    a.q.resize(size_t(N) * QD);
    a.k.resize(size_t(N) * KD);
    a.v.resize(size_t(N) * KD);
    linear_forward(a.xn1.data(), N, E, W.wq.data(), QD, a.q.data());
    linear_forward(a.xn1.data(), N, E, W.wk.data(), KD, a.k.data());
    linear_forward(a.xn1.data(), N, E, W.wv.data(), KD, a.v.data());
    rope_apply(a.q.data(), pk, H, hd, *rope_, +1);
    rope_apply(a.k.data(), pk, KV, hd, *rope_, +1);
    a.att.resize(size_t(N) * QD);
    attention_forward(a.q.data(), a.k.data(), a.v.data(), pk, H, KV, hd, a.att.data(), a.probs);
    linear_forward(a.att.data(), N, QD, W.wo.data(), E, x.data(), true);
    a.x_mid = x;
    a.xn2.resize(size_t(N) * E);
    a.rstd2.resize(N);
    rms_norm_forward(x.data(), W.ffn_norm.data(), N, E, c_.rms_eps, a.xn2.data(), a.rstd2.data());
    a.g.resize(size_t(N) * F);
    a.u.resize(size_t(N) * F);
    a.h.resize(size_t(N) * F);
    linear_forward(a.xn2.data(), N, E, mlp_weight(l, compress::Projection::kGate, student), F,
                   a.g.data());
    linear_forward(a.xn2.data(), N, E, mlp_weight(l, compress::Projection::kUp, student), F,
                   a.u.data());
    silu_mul_forward(a.g.data(), a.u.data(), a.h.size(), a.h.data());
    linear_forward(a.h.data(), N, F, mlp_weight(l, compress::Projection::kDown, student), E,
                   x.data(), true);
  }
  if (acts) acts->x_out = x;
}

template <class R>
void HostModel<R>::logits(const R* x, uint32_t n, R* out) const {
  const uint32_t E = c_.n_embd, V = c_.n_vocab;
  std::vector<R> xf(size_t(n) * E), rstd(n);
  rms_norm_forward(x, output_norm_.data(), n, E, c_.rms_eps, xf.data(), rstd.data());
  const R* head = output_.empty() ? token_embd_.data() : output_.data();
  linear_forward(xf.data(), n, E, head, V, out);
}

template <class R>
double HostModel<R>::lm_head_loss(Acts& acts, const float* p, const double* neg_entropy, double T,
                                  double scale, std::vector<R>* dx) const {
  const uint32_t N = acts.pk.tokens(), E = c_.n_embd, V = c_.n_vocab;
  acts.xf.resize(size_t(N) * E);
  acts.rstd_f.resize(N);
  rms_norm_forward(acts.x_out.data(), output_norm_.data(), N, E, c_.rms_eps, acts.xf.data(),
                   acts.rstd_f.data());
  const R* head = output_.empty() ? token_embd_.data() : output_.data();
  std::vector<R> dxf;
  if (dx) dxf.assign(size_t(N) * E, R(0));
  // Rows in chunks: the [chunk][vocab] logits never exist for the whole batch at once.
  constexpr uint32_t kChunk = 256;
  std::vector<R> z(size_t(std::min(N, kChunk)) * V);
  double loss = 0;
  for (uint32_t n0 = 0; n0 < N; n0 += kChunk) {
    const uint32_t n = std::min(kChunk, N - n0);
    linear_forward(acts.xf.data() + size_t(n0) * E, n, E, head, V, z.data());
    loss += kl_loss_and_grad(z.data(), p + size_t(n0) * V, neg_entropy + n0, n, V, T, scale,
                             dx != nullptr);
    if (dx)
      linear_backward(z.data(), acts.xf.data() + size_t(n0) * E, n, E, head, V,
                      dxf.data() + size_t(n0) * E, static_cast<R*>(nullptr));
  }
  if (dx) {
    dx->assign(size_t(N) * E, R(0));
    rms_norm_backward(dxf.data(), acts.x_out.data(), output_norm_.data(), acts.rstd_f.data(), N, E,
                      dx->data());
  }
  return loss;
}

template <class R>
void HostModel<R>::backward(Acts& acts, std::vector<R>& dx,
                            const std::vector<Trainable<R>*>& student) const {
  const Packing& pk = acts.pk;
  const uint32_t N = pk.tokens(), E = c_.n_embd, F = c_.n_ff, H = c_.n_heads, KV = c_.n_kv_heads,
                 hd = c_.head_dim, QD = H * hd, KD = KV * hd;
  auto dense_grad = [&](uint32_t l, compress::Projection p) -> R* {
    for (Trainable<R>* t : student)
      if (t->layer == l && t->projection == p) {
        if (t->dense_grad.size() != t->dense.size()) t->dense_grad.assign(t->dense.size(), R(0));
        return t->dense_grad.data();
      }
    return nullptr;  // frozen: no weight gradient
  };
  std::vector<R> dh, dg, du, dxn, datt, dq, dk, dv;
  for (uint32_t li = uint32_t(acts.layers.size()); li-- > 0;) {
    const uint32_t l = acts.first + li;
    const Layer& W = layers_[l];
    LayerActs& a = acts.layers[li];
    // MLP: x_out = x_mid + down(silu(gate(xn2)) * up(xn2)).
    dh.assign(size_t(N) * F, R(0));
    linear_backward(dx.data(), a.h.data(), N, F,
                    mlp_weight(l, compress::Projection::kDown, student), E, dh.data(),
                    dense_grad(l, compress::Projection::kDown));
    dg.assign(dh.size(), R(0));
    du.assign(dh.size(), R(0));
    silu_mul_backward(dh.data(), a.g.data(), a.u.data(), dh.size(), dg.data(), du.data());
    dxn.assign(size_t(N) * E, R(0));
    linear_backward(dg.data(), a.xn2.data(), N, E,
                    mlp_weight(l, compress::Projection::kGate, student), F, dxn.data(),
                    dense_grad(l, compress::Projection::kGate));
    linear_backward(du.data(), a.xn2.data(), N, E,
                    mlp_weight(l, compress::Projection::kUp, student), F, dxn.data(),
                    dense_grad(l, compress::Projection::kUp));
    rms_norm_backward(dxn.data(), a.x_mid.data(), W.ffn_norm.data(), a.rstd2.data(), N, E,
                      dx.data());  // dx is now d x_mid
    // Attention: x_mid = x_in + wo(attn(rope(wq xn1), rope(wk xn1), wv xn1)).
    datt.assign(size_t(N) * QD, R(0));
    linear_backward(dx.data(), a.att.data(), N, QD, W.wo.data(), E, datt.data(),
                    static_cast<R*>(nullptr));
    dq.assign(size_t(N) * QD, R(0));
    dk.assign(size_t(N) * KD, R(0));
    dv.assign(size_t(N) * KD, R(0));
    attention_backward(datt.data(), a.q.data(), a.k.data(), a.v.data(), a.probs.data(), pk, H, KV,
                       hd, dq.data(), dk.data(), dv.data());
    rope_apply(dq.data(), pk, H, hd, *rope_, -1);
    rope_apply(dk.data(), pk, KV, hd, *rope_, -1);
    dxn.assign(size_t(N) * E, R(0));
    linear_backward(dq.data(), a.xn1.data(), N, E, W.wq.data(), QD, dxn.data(),
                    static_cast<R*>(nullptr));
    linear_backward(dk.data(), a.xn1.data(), N, E, W.wk.data(), KD, dxn.data(),
                    static_cast<R*>(nullptr));
    linear_backward(dv.data(), a.xn1.data(), N, E, W.wv.data(), KD, dxn.data(),
                    static_cast<R*>(nullptr));
    rms_norm_backward(dxn.data(), a.x_in.data(), W.attn_norm.data(), a.rstd1.data(), N, E,
                      dx.data());  // dx is now d x_in
    a = LayerActs{};               // free as we go
  }
}

template <class R>
void HostModel<R>::decode_step(std::vector<R>& x, const std::vector<KvCache*>& caches) const {
  const uint32_t S = uint32_t(caches.size()), E = c_.n_embd, F = c_.n_ff, H = c_.n_heads,
                 KV = c_.n_kv_heads, hd = c_.head_dim, QD = H * hd, KD = KV * hd, group = H / KV;
  if (x.size() != size_t(S) * E) throw std::invalid_argument("decode_step: residual size");
  for (KvCache* kc : caches) {
    if (kc->length >= c_.n_ctx)
      throw std::invalid_argument("decode_step: a sequence reached the model's context of " +
                                  std::to_string(c_.n_ctx) + " tokens");
    kc->k.resize(c_.n_layers);
    kc->v.resize(c_.n_layers);
  }
  std::vector<R> xn(size_t(S) * E), rstd(S), q(size_t(S) * QD), k(size_t(S) * KD),
      v(size_t(S) * KD), att(size_t(S) * QD), g(size_t(S) * F), u(size_t(S) * F), h(size_t(S) * F);
  const double scale = 1.0 / std::sqrt(double(hd));
  for (uint32_t l = 0; l < c_.n_layers; ++l) {
    const Layer& W = layers_[l];
    rms_norm_forward(x.data(), W.attn_norm.data(), S, E, c_.rms_eps, xn.data(), rstd.data());
    linear_forward(xn.data(), S, E, W.wq.data(), QD, q.data());
    linear_forward(xn.data(), S, E, W.wk.data(), KD, k.data());
    linear_forward(xn.data(), S, E, W.wv.data(), KD, v.data());
    for (uint32_t s = 0; s < S; ++s) {
      KvCache& kc = *caches[s];
      std::vector<R> qs(q.data() + size_t(s) * QD, q.data() + size_t(s + 1) * QD);
      std::vector<R> ks(k.data() + size_t(s) * KD, k.data() + size_t(s + 1) * KD);
      rope_rotate(qs.data(), H, hd, kc.length, *rope_, +1);
      rope_rotate(ks.data(), KV, hd, kc.length, *rope_, +1);
      auto& K = kc.k[l];
      auto& V = kc.v[l];
      K.insert(K.end(), ks.data(), ks.data() + KD);
      V.insert(V.end(), v.data() + size_t(s) * KD, v.data() + size_t(s + 1) * KD);
      const uint32_t T = kc.length + 1;
      std::vector<double> w(T);
      for (uint32_t hh = 0; hh < H; ++hh) {
        const uint32_t gg = hh / group;
        const R* qh = qs.data() + size_t(hh) * hd;
        double mx = -INFINITY;
        for (uint32_t j = 0; j < T; ++j) {
          double d = 0;
          for (uint32_t e = 0; e < hd; ++e) d += double(qh[e]) * K[size_t(j) * KD + gg * hd + e];
          w[j] = d * scale;
          mx = std::max(mx, w[j]);
        }
        double z = 0;
        for (double& wj : w) z += (wj = std::exp(wj - mx));
        R* o = att.data() + size_t(s) * QD + hh * hd;
        for (uint32_t e = 0; e < hd; ++e) {
          double acc = 0;
          for (uint32_t j = 0; j < T; ++j) acc += w[j] * V[size_t(j) * KD + gg * hd + e];
          o[e] = R(acc / z);
        }
      }
    }
    linear_forward(att.data(), S, QD, W.wo.data(), E, x.data(), true);
    rms_norm_forward(x.data(), W.ffn_norm.data(), S, E, c_.rms_eps, xn.data(), rstd.data());
    linear_forward(xn.data(), S, E, mlp_weight(l, compress::Projection::kGate, {}), F, g.data());
    linear_forward(xn.data(), S, E, mlp_weight(l, compress::Projection::kUp, {}), F, u.data());
    silu_mul_forward(g.data(), u.data(), h.size(), h.data());
    linear_forward(h.data(), S, F, mlp_weight(l, compress::Projection::kDown, {}), E, x.data(),
                   true);
  }
  for (KvCache* kc : caches) ++kc->length;
}

template struct Trainable<float>;
template struct Trainable<double>;
template class HostModel<float>;
template class HostModel<double>;

}  // namespace bcvk::distill
