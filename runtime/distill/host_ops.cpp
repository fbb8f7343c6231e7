#include "runtime/distill/host_ops.h"

#include <algorithm>
#include <cmath>

#include "runtime/distill/gemm.h"
#include "runtime/distill/parallel.h"

namespace bcvk::distill {

template <class R>
void linear_forward(const R* x, uint32_t N, uint32_t in, const R* W, uint32_t out, R* y,
                    bool accumulate) {
  gemm<R>(false, true, int(N), int(out), int(in), R(1), x, int(in), W, int(in),
          accumulate ? R(1) : R(0), y, int(out));
}

template <class R>
void linear_backward(const R* dy, const R* x, uint32_t N, uint32_t in, const R* W, uint32_t out,
                     R* dx, R* dW) {
  if (dx)
    gemm<R>(false, false, int(N), int(in), int(out), R(1), dy, int(out), W, int(in), R(1), dx,
            int(in));
  if (dW)
    gemm<R>(true, false, int(out), int(in), int(N), R(1), dy, int(out), x, int(in), R(1), dW,
            int(in));
}

template <class R>
void rms_norm_forward(const R* x, const R* g, uint32_t N, uint32_t E, double eps, R* y, R* rstd) {
  for (uint32_t n = 0; n < N; ++n) {
    const R* xr = x + size_t(n) * E;
    double ss = 0;
    for (uint32_t i = 0; i < E; ++i) ss += double(xr[i]) * xr[i];
    const R r = R(1.0 / std::sqrt(ss / E + eps));
    rstd[n] = r;
    R* yr = y + size_t(n) * E;
    for (uint32_t i = 0; i < E; ++i) yr[i] = xr[i] * r * g[i];
  }
}

template <class R>
void rms_norm_backward(const R* dy, const R* x, const R* g, const R* rstd, uint32_t N, uint32_t E,
                       R* dx) {
  // y_i = x_i r g_i, r = (mean x^2 + eps)^(-1/2), dr/dx_j = -r^3 x_j / E.
  for (uint32_t n = 0; n < N; ++n) {
    const R *xr = x + size_t(n) * E, *dyr = dy + size_t(n) * E;
    R* dxr = dx + size_t(n) * E;
    const double r = rstd[n];
    double dot = 0;
    for (uint32_t i = 0; i < E; ++i) dot += double(dyr[i]) * g[i] * xr[i];
    const double c = r * r * r * dot / E;
    for (uint32_t i = 0; i < E; ++i) dxr[i] += R(r * dyr[i] * g[i] - c * xr[i]);
  }
}

RopeTable::RopeTable(uint32_t max_positions, uint32_t rope_dims, double base, bool adj)
    : pairs(rope_dims / 2), adjacent(adj) {
  cos.resize(size_t(max_positions) * pairs);
  sin.resize(cos.size());
  for (uint32_t p = 0; p < max_positions; ++p)
    for (uint32_t i = 0; i < pairs; ++i) {
      const double theta = p * std::pow(base, -2.0 * i / rope_dims);
      cos[size_t(p) * pairs + i] = std::cos(theta);
      sin[size_t(p) * pairs + i] = std::sin(theta);
    }
}

template <class R>
void rope_rotate(R* x, uint32_t heads, uint32_t hd, uint32_t pos, const RopeTable& t, int sign) {
  const double* c = t.cos.data() + size_t(pos) * t.pairs;
  const double* sn = t.sin.data() + size_t(pos) * t.pairs;
  for (uint32_t h = 0; h < heads; ++h) {
    R* head = x + size_t(h) * hd;
    for (uint32_t i = 0; i < t.pairs; ++i) {
      const uint32_t a = t.adjacent ? 2 * i : i, b = t.adjacent ? 2 * i + 1 : i + hd / 2;
      const double x0 = head[a], x1 = head[b], si = sign * sn[i];
      head[a] = R(x0 * c[i] - x1 * si);
      head[b] = R(x0 * si + x1 * c[i]);
    }
  }
}

template <class R>
void rope_apply(R* x, const Packing& pk, uint32_t heads, uint32_t hd, const RopeTable& t,
                int sign) {
  for (size_t s = 0; s < pk.sequences(); ++s)
    for (uint32_t n = pk.offset[s]; n < pk.offset[s + 1]; ++n)
      rope_rotate(x + size_t(n) * heads * hd, heads, hd, n - pk.offset[s], t, sign);
}

namespace {
size_t probs_size(const Packing& pk, uint32_t H) {
  size_t n = 0;
  for (size_t s = 0; s < pk.sequences(); ++s) {
    const size_t T = pk.offset[s + 1] - pk.offset[s];
    n += size_t(H) * T * T;
  }
  return n;
}
std::vector<size_t> probs_offsets(const Packing& pk, uint32_t H) {
  std::vector<size_t> o(pk.sequences() + 1, 0);
  for (size_t s = 0; s < pk.sequences(); ++s) {
    const size_t T = pk.offset[s + 1] - pk.offset[s];
    o[s + 1] = o[s] + size_t(H) * T * T;
  }
  return o;
}
}  // namespace

template <class R>
void attention_forward(const R* q, const R* k, const R* v, const Packing& pk, uint32_t H,
                       uint32_t KV, uint32_t hd, R* out, std::vector<R>& probs) {
  probs.assign(probs_size(pk, H), R(0));
  const auto po = probs_offsets(pk, H);
  const uint32_t QD = H * hd, KD = KV * hd, group = H / KV;
  const double scale = 1.0 / std::sqrt(double(hd));
  parallel_for(pk.sequences(), [&](size_t s0, size_t s1) {
    std::vector<double> row;
    for (size_t s = s0; s < s1; ++s) {
      const uint32_t o = pk.offset[s], T = pk.offset[s + 1] - o;
      row.resize(T);
      for (uint32_t h = 0; h < H; ++h) {
        const uint32_t g = h / group;
        R* P = probs.data() + po[s] + size_t(h) * T * T;
        for (uint32_t i = 0; i < T; ++i) {
          const R* qi = q + size_t(o + i) * QD + h * hd;
          double mx = -INFINITY;
          for (uint32_t j = 0; j <= i; ++j) {
            const R* kj = k + size_t(o + j) * KD + g * hd;
            double d = 0;
            for (uint32_t e = 0; e < hd; ++e) d += double(qi[e]) * kj[e];
            row[j] = d * scale;
            mx = std::max(mx, row[j]);
          }
          double z = 0;
          for (uint32_t j = 0; j <= i; ++j) z += (row[j] = std::exp(row[j] - mx));
          R* oi = out + size_t(o + i) * QD + h * hd;
          std::fill(oi, oi + hd, R(0));
          for (uint32_t j = 0; j <= i; ++j) {
            const R pij = R(row[j] / z);
            P[size_t(i) * T + j] = pij;
            const R* vj = v + size_t(o + j) * KD + g * hd;
            for (uint32_t e = 0; e < hd; ++e) oi[e] += pij * vj[e];
          }
        }
      }
    }
  });
}

template <class R>
void attention_backward(const R* dout, const R* q, const R* k, const R* v, const R* probs,
                        const Packing& pk, uint32_t H, uint32_t KV, uint32_t hd, R* dq, R* dk,
                        R* dv) {
  const auto po = probs_offsets(pk, H);
  const uint32_t QD = H * hd, KD = KV * hd, group = H / KV;
  const R scale = R(1.0 / std::sqrt(double(hd)));
  // Sequences own disjoint rows of dq, dk, dv: split over threads by sequence.
  parallel_for(pk.sequences(), [&](size_t s0, size_t s1) {
    std::vector<R> dP;
    for (size_t s = s0; s < s1; ++s) {
      const uint32_t o = pk.offset[s], T = pk.offset[s + 1] - o;
      dP.resize(T);
      for (uint32_t h = 0; h < H; ++h) {
        const uint32_t g = h / group;
        const R* P = probs + po[s] + size_t(h) * T * T;
        for (uint32_t i = 0; i < T; ++i) {
          const R* doi = dout + size_t(o + i) * QD + h * hd;
          const R* qi = q + size_t(o + i) * QD + h * hd;
          R* dqi = dq + size_t(o + i) * QD + h * hd;
          double dot = 0;  // sum_j P_ij dP_ij
          for (uint32_t j = 0; j <= i; ++j) {
            const R* vj = v + size_t(o + j) * KD + g * hd;
            R* dvj = dv + size_t(o + j) * KD + g * hd;
            const R pij = P[size_t(i) * T + j];
            R d = 0;
            for (uint32_t e = 0; e < hd; ++e) {
              d += doi[e] * vj[e];
              dvj[e] += pij * doi[e];
            }
            dP[j] = d;
            dot += double(pij) * d;
          }
          for (uint32_t j = 0; j <= i; ++j) {
            const R ds = P[size_t(i) * T + j] * (dP[j] - R(dot)) * scale;
            const R* kj = k + size_t(o + j) * KD + g * hd;
            R* dkj = dk + size_t(o + j) * KD + g * hd;
            for (uint32_t e = 0; e < hd; ++e) {
              dqi[e] += ds * kj[e];
              dkj[e] += ds * qi[e];
            }
          }
        }
      }
    }
  });
}

template <class R>
void silu_mul_forward(const R* g, const R* u, size_t n, R* h) {
  for (size_t i = 0; i < n; ++i) h[i] = g[i] / (R(1) + std::exp(-g[i])) * u[i];
}

template <class R>
void silu_mul_backward(const R* dh, const R* g, const R* u, size_t n, R* dg, R* du) {
  for (size_t i = 0; i < n; ++i) {
    const R sig = R(1) / (R(1) + std::exp(-g[i]));
    const R silu = g[i] * sig;
    du[i] += dh[i] * silu;
    dg[i] += dh[i] * u[i] * sig * (R(1) + g[i] * (R(1) - sig));
  }
}

template <class R>
void circulant_expand(const R* c, uint32_t rows, uint32_t cols, uint32_t B, R* W) {
  const uint32_t q = (cols + B - 1) / B;
  for (uint32_t r = 0; r < rows; ++r) {
    const uint32_t i = r / B, rr = r % B;
    R* wr = W + size_t(r) * cols;
    for (uint32_t s = 0; s < cols; ++s) {
      const uint32_t j = s / B, ss = s % B;
      wr[s] = c[(size_t(i) * q + j) * B + (rr + B - ss) % B];
    }
  }
}

template <class R>
void circulant_fold(const R* dW, uint32_t rows, uint32_t cols, uint32_t B, R* dc) {
  const uint32_t q = (cols + B - 1) / B;
  for (uint32_t r = 0; r < rows; ++r) {
    const uint32_t i = r / B, rr = r % B;
    const R* dwr = dW + size_t(r) * cols;
    for (uint32_t s = 0; s < cols; ++s) {
      const uint32_t j = s / B, ss = s % B;
      dc[(size_t(i) * q + j) * B + (rr + B - ss) % B] += dwr[s];
    }
  }
}

template <class R>
double kl_loss_and_grad(R* z, const float* p, const double* neg_entropy, uint32_t N, uint32_t V,
                        double T, double scale, bool want_grad) {
  std::vector<double> loss(N, 0.0);
  parallel_for(
      N,
      [&](size_t n0, size_t n1) {
        for (size_t n = n0; n < n1; ++n) {
          R* zr = z + n * V;
          const float* pr = p + n * V;
          double mx = -INFINITY;
          for (uint32_t v = 0; v < V; ++v) mx = std::max(mx, double(zr[v]) / T);
          double sum = 0;
          for (uint32_t v = 0; v < V; ++v) sum += std::exp(double(zr[v]) / T - mx);
          const double lse = mx + std::log(sum);
          // KL = sum p log p - sum p log q, log q = z/T - lse.
          double cross = 0;
          for (uint32_t v = 0; v < V; ++v)
            if (pr[v] > 0) cross += double(pr[v]) * (double(zr[v]) / T - lse);
          loss[n] = T * T * (neg_entropy[n] - cross);
          if (want_grad) {
            // d/dz of T^2 KL = T (q - p).
            for (uint32_t v = 0; v < V; ++v) {
              const double qv = std::exp(double(zr[v]) / T - lse);
              zr[v] = R(scale * T * (qv - pr[v]));
            }
          }
        }
      },
      4);
  double total = 0;
  for (double l : loss) total += l;
  return total;
}

#define BCVK_INSTANTIATE(R)                                                                        \
  template void linear_forward<R>(const R*, uint32_t, uint32_t, const R*, uint32_t, R*, bool);     \
  template void linear_backward<R>(const R*, const R*, uint32_t, uint32_t, const R*, uint32_t, R*, \
                                   R*);                                                            \
  template void rms_norm_forward<R>(const R*, const R*, uint32_t, uint32_t, double, R*, R*);       \
  template void rms_norm_backward<R>(const R*, const R*, const R*, const R*, uint32_t, uint32_t,   \
                                     R*);                                                          \
  template void rope_rotate<R>(R*, uint32_t, uint32_t, uint32_t, const RopeTable&, int);           \
  template void rope_apply<R>(R*, const Packing&, uint32_t, uint32_t, const RopeTable&, int);      \
  template void attention_forward<R>(const R*, const R*, const R*, const Packing&, uint32_t,       \
                                     uint32_t, uint32_t, R*, std::vector<R>&);                     \
  template void attention_backward<R>(const R*, const R*, const R*, const R*, const R*,            \
                                      const Packing&, uint32_t, uint32_t, uint32_t, R*, R*, R*);   \
  template void silu_mul_forward<R>(const R*, const R*, size_t, R*);                               \
  template void silu_mul_backward<R>(const R*, const R*, const R*, size_t, R*, R*);                \
  template void circulant_expand<R>(const R*, uint32_t, uint32_t, uint32_t, R*);                   \
  template void circulant_fold<R>(const R*, uint32_t, uint32_t, uint32_t, R*);                     \
  template double kl_loss_and_grad<R>(R*, const float*, const double*, uint32_t, uint32_t, double, \
                                      double, bool);
BCVK_INSTANTIATE(float)
BCVK_INSTANTIATE(double)
#undef BCVK_INSTANTIATE

}  // namespace bcvk::distill
