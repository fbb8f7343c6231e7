#version 450
// attention: causal grouped-query attention of T query tokens over a KV cache.
// One workgroup per (query token, head).  Each invocation walks keys j = lid, lid + WG, ...
// up to the token's own position with an online softmax (running max m, sum l, weighted V sum),
// then the workgroup merges the partial states; so memory use does not grow with the context.
// Q [T, n_heads * hd] (already rotated), K/V cache [n_ctx, n_kv * hd], Out [T, n_heads * hd].
// KV_F16: the cache holds f16 pairs packed in 32-bit words (written by kv_store.comp).
// Dispatch: runtime/ops/attention.cpp.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "half.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint kHeadDim = 64;

layout(std430, binding = 0) readonly buffer Q { float q[]; };
#ifdef KV_F16
layout(std430, binding = 1) readonly buffer Kc { uint kc[]; };
layout(std430, binding = 2) readonly buffer Vc { uint vc[]; };
// Values i and i + 1 (i even) of the cache.
vec2 k_pair(uint i) { return unpack_half2(kc[i / 2]); }
vec2 v_pair(uint i) { return unpack_half2(vc[i / 2]); }
#else
layout(std430, binding = 1) readonly buffer Kc { float kc[]; };
layout(std430, binding = 2) readonly buffer Vc { float vc[]; };
vec2 k_pair(uint i) { return vec2(kc[i], kc[i + 1]); }
vec2 v_pair(uint i) { return vec2(vc[i], vc[i + 1]); }
#endif
layout(std430, binding = 3) writeonly buffer O { float o[]; };
// Per query token: (position, first key row).  One prompt: first row 0.  Several prompts packed
// into one batch: each token sees only its own prompt's rows, first .. pos0 + t.
layout(std430, binding = 4) readonly buffer TokenInfo { uvec2 info[]; };

layout(push_constant) uniform Push {
  uint n_heads;
  uint n_kv_heads;
  uint pos0;   // cache row of query token 0; token t attends to rows info[t].y .. pos0 + t
  float scale; // 1 / sqrt(head_dim)
  uint q_stride; // floats between tokens in Q (a fused Q/K/V output holds K and V after Q)
} pc;

shared float s_m[gl_WorkGroupSize.x];
shared float s_l[gl_WorkGroupSize.x];
shared float s_acc[gl_WorkGroupSize.x * kHeadDim];

void main() {
  const uint h = gl_WorkGroupID.x;
  const uint t = gl_WorkGroupID.y;
  const uint lid = gl_LocalInvocationID.x;
  const uint WG = gl_WorkGroupSize.x;
  const uint kvh = h / (pc.n_heads / pc.n_kv_heads);
  const uint q_dim = pc.n_heads * kHeadDim, kv_dim = pc.n_kv_heads * kHeadDim;
  const uint last = pc.pos0 + t;

  float qv[kHeadDim];
  for (uint d = 0; d < kHeadDim; ++d) qv[d] = q[t * pc.q_stride + h * kHeadDim + d] * pc.scale;

  float m = -1.0 / 0.0, l = 0.0;
  float acc[kHeadDim];
  for (uint d = 0; d < kHeadDim; ++d) acc[d] = 0.0;
  for (uint j = info[t].y + lid; j <= last; j += WG) {
    const uint kb = j * kv_dim + kvh * kHeadDim;
    float s = 0.0;
    for (uint d = 0; d < kHeadDim; d += 2) {  // head_dim is even
      const vec2 kv = k_pair(kb + d);
      s += qv[d] * kv.x + qv[d + 1] * kv.y;
    }
    const float m_new = max(m, s);
    const float corr = exp(m - m_new);  // exp(-inf) = 0 on the first key
    const float p = exp(s - m_new);
    l = l * corr + p;
    for (uint d = 0; d < kHeadDim; d += 2) {
      const vec2 vv = v_pair(kb + d);
      acc[d] = acc[d] * corr + p * vv.x;
      acc[d + 1] = acc[d + 1] * corr + p * vv.y;
    }
    m = m_new;
  }
  s_m[lid] = m;
  s_l[lid] = l;
  for (uint d = 0; d < kHeadDim; ++d) s_acc[lid * kHeadDim + d] = acc[d];
  barrier();

  float M = -1.0 / 0.0;
  for (uint w = 0; w < WG; ++w) M = max(M, s_m[w]);
  float L = 0.0;
  for (uint w = 0; w < WG; ++w) L += s_l[w] * (s_m[w] == -1.0 / 0.0 ? 0.0 : exp(s_m[w] - M));
  for (uint d = lid; d < kHeadDim; d += WG) {
    float sum = 0.0;
    for (uint w = 0; w < WG; ++w)
      if (s_m[w] != -1.0 / 0.0) sum += s_acc[w * kHeadDim + d] * exp(s_m[w] - M);
    o[t * q_dim + h * kHeadDim + d] = sum / L;
  }
}
