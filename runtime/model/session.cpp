#include "runtime/model/session.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <memory>
#include <stdexcept>

#include "runtime/ops/argmax.h"
#include "runtime/ops/attention.h"
#include "runtime/ops/embed.h"
#include "runtime/ops/rms_norm.h"
#include "runtime/ops/rope.h"
#include "runtime/ops/silu_mul.h"
#include "runtime/util/statistics.h"
#include "runtime/vk/transfer.h"

namespace bcvk::model {

namespace {
vk::Buffer activations(vk::Context& ctx, uint64_t floats, const char* name) {
  return vk::Buffer(ctx.allocator(), floats * 4, vk::MemoryUse::kDevice, name);
}
}  // namespace

Session::Session(Model& model, uint32_t max_batch, bool profile, const MlpPatch* patch,
                 uint32_t context)
    : model_(model),
      patch_(patch),
      ctx_(model.context()),
      max_batch_(max_batch),
      n_ctx_(context ? context : model.context_length()),
      stream_(ctx_.device(), profile, 8192) {
  if (n_ctx_ > model.context_length())
    throw std::invalid_argument("a session context of " + std::to_string(n_ctx_) +
                                " tokens exceeds the model's loaded context of " +
                                std::to_string(model.context_length()));
  const auto& c = model.config();
  // Every MLP projection must run somehow: block-circulant from the patch, or dense.
  for (uint32_t l = 0; l < model.layers().size(); ++l) {
    const DeviceLayer& L = model.layers()[l];
    for (auto p : compress::kProjections) {
      const DeviceWeight& w = p == compress::Projection::kGate ? L.gate
                              : p == compress::Projection::kUp ? L.up
                                                               : L.down;
      if (!w.present() && !(patch && patch->patched(l, p)))
        throw std::invalid_argument(
            "layer " + std::to_string(l) + " " + compress::projection_name(p) +
            ": the dense weight was not loaded (the model was loaded for a patched student "
            "only) and the patch does not replace it");
    }
  }
  const uint64_t B = max_batch, E = c.n_embd, QD = uint64_t(c.n_heads) * c.head_dim, F = c.n_ff;
  ids_ = activations(ctx_, B, "token ids");
  token_info_ = activations(ctx_, 2 * B, "token positions");
  x_ = activations(ctx_, B * E, "residual stream");
  xn_ = activations(ctx_, B * std::max(E, QD), "normed activations");

  att_ = activations(ctx_, B * QD, "attention output");
  g_ = activations(ctx_, B * F, "MLP gate");
  u_ = activations(ctx_, B * F, "MLP up");
  h_ = activations(ctx_, B * F, "MLP hidden");
  logits_ = activations(ctx_, B * c.n_vocab, "logits");
  argmax_ = activations(ctx_, B, "argmax");
  const uint64_t KV = uint64_t(c.n_kv_heads) * c.head_dim;
  const uint64_t kv_bytes = uint64_t(n_ctx_) * KV * ops::kv_value_bytes(model.kv_type());
  for (uint32_t l = 0; l < c.n_layers; ++l) {
    k_cache_.emplace_back(ctx_.allocator(), kv_bytes, vk::MemoryUse::kDevice, "KV cache (K)");
    v_cache_.emplace_back(ctx_.allocator(), kv_bytes, vk::MemoryUse::kDevice, "KV cache (V)");
  }
  // gu_ holds several tokens' [gate | up] rows, and one token's where silu_mul cannot be fused.
  bool any_qkv = false, any_apart = false, need_gu = false;
  for (const DeviceLayer& L : model.layers()) {
    (L.qkv.present() ? any_qkv : any_apart) = true;
    need_gu = need_gu || (L.gate_up.present() &&
                          (B > 1 || !ops::linear_glu_available(ctx_.info(), L.gate_up.type, 1)));
  }
  if (any_apart && model.kv_type() == ops::KvType::kF16) {  // K and V before they are stored
    k_new_ = activations(ctx_, B * KV, "new keys");
    v_new_ = activations(ctx_, B * KV, "new values");
  }
  if (any_apart) q_ = activations(ctx_, B * QD, "queries");
  if (any_qkv) qkv_ = activations(ctx_, B * (QD + 2 * KV), "fused Q, K, V");
  if (need_gu) gu_ = activations(ctx_, B * 2 * F, "fused MLP gate and up");
}

void Session::check_tokens(std::span<const int32_t> tokens, size_t limit) const {
  const auto& c = model_.config();
  if (tokens.empty()) throw std::invalid_argument("no tokens to run (empty prompt?)");
  if (tokens.size() > limit)
    throw std::invalid_argument(std::to_string(tokens.size()) + " tokens exceed the batch of " +
                                std::to_string(limit));
  if (position_ + tokens.size() > n_ctx_)
    throw std::invalid_argument("context overflow: " + std::to_string(position_) + " + " +
                                std::to_string(tokens.size()) + " tokens exceed the context of " +
                                std::to_string(n_ctx_));
  for (int32_t t : tokens)
    if (t < 0 || static_cast<uint32_t>(t) >= c.n_vocab)
      throw std::invalid_argument("token id " + std::to_string(t) +
                                  " is outside the vocabulary of " + std::to_string(c.n_vocab));
}

std::vector<float> Session::prefill(std::span<const int32_t> tokens, bool all_logits) {
  const auto& c = model_.config();
  check_tokens(tokens, SIZE_MAX);
  std::vector<float> out;
  for (size_t done = 0; done < tokens.size(); done += max_batch_) {
    const uint32_t T = static_cast<uint32_t>(std::min<size_t>(max_batch_, tokens.size() - done));
    std::vector<uint32_t> ids(tokens.begin() + done, tokens.begin() + done + T);
    vk::upload(ctx_.allocator(), ids_, std::span<const uint32_t>(ids));
    upload_token_info(T, position_);
    const bool last_chunk = done + T == tokens.size();
    forward(T, all_logits);
    position_ += T;
    if (all_logits) {
      const size_t n = size_t(T) * c.n_vocab;
      out.resize(out.size() + n);
      vk::download(ctx_.allocator(), logits_, 0,
                   std::as_writable_bytes(std::span<float>(out.data() + out.size() - n, n)));
    } else if (last_chunk) {
      out.resize(c.n_vocab);
      vk::download(ctx_.allocator(), logits_, 0, std::as_writable_bytes(std::span<float>(out)));
    }
    uint32_t am = 0;
    vk::download(ctx_.allocator(), argmax_, (all_logits ? T - 1 : 0) * 4ull,
                 std::as_writable_bytes(std::span<uint32_t>(&am, 1)));
    last_argmax_ = static_cast<int32_t>(am);
  }
  return out;
}

void Session::upload_token_info(uint32_t T, uint32_t pos0) {
  std::vector<uint32_t> info(2 * size_t(T));
  for (uint32_t t = 0; t < T; ++t) info[2 * t] = pos0 + t;  // first key row 0: one sequence
  vk::upload(ctx_.allocator(), token_info_, std::span<const uint32_t>(info));
}

std::vector<std::vector<float>> Session::prefill_packed(
    const std::vector<std::vector<int32_t>>& prompts) {
  const auto& c = model_.config();
  size_t total = 0;
  for (const auto& p : prompts) {
    if (p.empty()) throw std::invalid_argument("prefill_packed: an empty prompt");
    total += p.size();
  }
  if (total == 0 || total > max_batch_ || total > n_ctx_)
    throw std::invalid_argument("prefill_packed: " + std::to_string(total) +
                                " tokens exceed the batch of " + std::to_string(max_batch_) +
                                " (or the context)");
  position_ = 0;
  std::vector<uint32_t> ids, info;
  for (const auto& p : prompts) {
    check_tokens(p, max_batch_);
    const uint32_t first = static_cast<uint32_t>(ids.size());
    for (size_t i = 0; i < p.size(); ++i) {
      ids.push_back(static_cast<uint32_t>(p[i]));
      info.push_back(static_cast<uint32_t>(i));  // each prompt restarts at position 0 ...
      info.push_back(first);                     // ... and sees only its own key rows
    }
  }
  vk::upload(ctx_.allocator(), ids_, std::span<const uint32_t>(ids));
  vk::upload(ctx_.allocator(), token_info_, std::span<const uint32_t>(info));
  const uint32_t T = static_cast<uint32_t>(total);
  forward(T, true);
  std::vector<float> all(size_t(T) * c.n_vocab);
  vk::download(ctx_.allocator(), logits_, 0, std::as_writable_bytes(std::span<float>(all)));
  std::vector<std::vector<float>> out;
  size_t at = 0;
  for (const auto& p : prompts) {
    out.emplace_back(all.begin() + at * c.n_vocab, all.begin() + (at + p.size()) * c.n_vocab);
    at += p.size();
  }
  // The cache now holds several unrelated sequences: the next call must start afresh.
  position_ = n_ctx_;
  return out;
}

void Session::linear(const DeviceWeight& w, const vk::Buffer& x, uint32_t x_stride,
                     const vk::Buffer& y, uint32_t y_stride, uint32_t y_offset, bool acc,
                     uint32_t T, std::string_view label, bool glu) {
  ops::LinearArgs a;
  a.w = w.view();
  a.type = w.type;
  a.N = glu ? w.rows / 2 : w.rows;  // glu: gate rows then up rows, one output per pair
  a.glu = glu;
  a.K = w.cols;
  a.x = x.view();
  a.x_stride = x_stride;
  a.y = y.view();
  a.y_stride = y_stride;
  a.y_offset = y_offset;
  a.T = T;
  a.accumulate = acc;
  ops::linear(ctx_, stream_, a, label);
}

// An MLP projection: replaced (block-circulant or low-rank) when the patch has it, else dense.
void Session::mlp_projection(uint32_t layer, compress::Projection p, const DeviceWeight& w,
                             const vk::Buffer& x, uint32_t x_stride, const vk::Buffer& y,
                             uint32_t y_stride, bool acc, uint32_t T, std::string_view label,
                             bool reuse_input_spectrum) {
  if (patch_ &&
      patch_->record(ctx_, stream_, layer, p,
                     {x.view(), x_stride, y.view(), y_stride, 0, T, acc, reuse_input_spectrum},
                     label))
    return;
  linear(w, x, x_stride, y, y_stride, 0, acc, T, label);
}

void Session::record_layer(uint32_t l, uint32_t T, uint32_t pos0, const LayerCaptureBuffers* cap) {
  const auto& c = model_.config();
  const uint32_t E = c.n_embd, hd = c.head_dim;
  const uint32_t QD = c.n_heads * hd, KV = c.n_kv_heads * hd;
  const float scale = 1.0f / std::sqrt(float(hd));
  const bool adjacent = model_.rope_layout() == loaders::RopeLayout::kAdjacentPairs;
  vk::Stream& s = stream_;
  const DeviceLayer& L = model_.layers()[l];
  const vk::Buffer& kc = k_cache_[l];
  const vk::Buffer& vc = v_cache_[l];
  ops::rms_norm(ctx_, s,
                {.x = x_.view(),
                 .gain = L.attn_norm.view(),
                 .y = xn_.view(),
                 .D = E,
                 .T = T,
                 .eps = c.rms_eps});
  s.barrier();
  const ops::KvType kv = model_.kv_type();
  ops::RopeArgs rope{.table = model_.rope_table().view(),
                     .token_info = token_info_.view(),
                     .T = T,
                     .head_dim = hd,
                     .rope_dims = c.rope_dims,
                     .adjacent = adjacent};
  ops::AttentionArgs att{.k_cache = kc.view(),
                         .v_cache = vc.view(),
                         .out = att_.view(),
                         .token_info = token_info_.view(),
                         .T = T,
                         .head_dim = hd,
                         .n_heads = c.n_heads,
                         .n_kv_heads = c.n_kv_heads,
                         .pos0 = pos0,
                         .scale = scale,
                         .kv = kv};
  if (L.qkv.present()) {
    // One dispatch for Q, K and V into rows [Q | K | V]; Q and K rotated there, K and V stored
    // into the cache rows of positions pos0 .. pos0 + T - 1, attention reads Q in place.
    const uint32_t W = QD + 2 * KV;
    linear(L.qkv, xn_, E, qkv_, W, 0, false, T, "linear_qkv");
    s.barrier();
    // Q's heads and K's follow each other in a row: one rope over both.
    rope.x = qkv_.view();
    rope.stride = W;
    rope.n_heads = c.n_heads + c.n_kv_heads;
    ops::rope(ctx_, s, rope);
    s.barrier();
    ops::kv_store(ctx_, s,
                  {.k = qkv_.view(),
                   .v = qkv_.view(),
                   .k_cache = kc.view(),
                   .v_cache = vc.view(),
                   .values = T * KV,
                   .value_offset = uint64_t(pos0) * KV,
                   .width = KV,
                   .src_stride = W,
                   .k_src_offset = QD,
                   .v_src_offset = QD + KV,
                   .cache = kv});
    s.barrier();
    att.q = qkv_.view();
    att.q_stride = W;
  } else {
    record_qkv_apart(L, T, pos0, rope);
    att.q = q_.view();
  }
  ops::attention(ctx_, s, att);
  s.barrier();
  linear(L.wo, att_, QD, x_, E, 0, true, T, "linear_o");  // x += Wo att
  s.barrier();
  ops::rms_norm(ctx_, s,
                {.x = x_.view(),
                 .gain = L.ffn_norm.view(),
                 .y = xn_.view(),
                 .D = E,
                 .T = T,
                 .eps = c.rms_eps});
  s.barrier();
  if (cap) {
    s.copy(x_.view(0, uint64_t(T) * E * 4), cap->mid.view(0, uint64_t(T) * E * 4));
    s.copy(xn_.view(0, uint64_t(T) * E * 4), cap->input.view(0, uint64_t(T) * E * 4));
  }
  record_mlp(l, T, cap);
}

// Q, K and V of a layer whose projections are separate buffers (differing types).  Q into
// scratch.  K and V straight into the cache rows of positions pos0 .. pos0 + T - 1 when it holds
// f32; with an f16 cache into f32 staging rows first, K rotated there, then both rounded into the
// cache.
void Session::record_qkv_apart(const DeviceLayer& L, uint32_t T, uint32_t pos0,
                               ops::RopeArgs rope) {
  const auto& c = model_.config();
  const uint32_t E = c.n_embd, QD = c.n_heads * c.head_dim, KV = c.n_kv_heads * c.head_dim;
  vk::Stream& s = stream_;
  const uint32_t l = static_cast<uint32_t>(&L - model_.layers().data());
  const vk::Buffer& kc = k_cache_[l];
  const vk::Buffer& vc = v_cache_[l];
  const ops::KvType kv = model_.kv_type();
  const bool staged = kv == ops::KvType::kF16;
  const vk::Buffer& k_dst = staged ? k_new_ : kc;
  const vk::Buffer& v_dst = staged ? v_new_ : vc;
  const uint32_t kv_offset = staged ? 0 : pos0 * KV;
  linear(L.wq, xn_, E, q_, QD, 0, false, T, "linear_q");
  linear(L.wk, xn_, E, k_dst, KV, kv_offset, false, T, "linear_k");
  linear(L.wv, xn_, E, v_dst, KV, kv_offset, false, T, "linear_v");
  s.barrier();
  rope.x = q_.view();
  rope.n_heads = c.n_heads;
  rope.stride = QD;
  ops::rope(ctx_, s, rope);
  rope.x = k_dst.view();
  rope.n_heads = c.n_kv_heads;
  rope.stride = KV;
  rope.offset = kv_offset;
  ops::rope(ctx_, s, rope);
  if (staged) {
    s.barrier();
    ops::kv_store(
        ctx_, s, {k_new_.view(), v_new_.view(), kc.view(), vc.view(), T * KV, uint64_t(pos0) * KV});
  }
  s.barrier();
}

// x += down(silu(gate(xn)) * up(xn)); with `cap`, gate, up and the hidden activations are copied
// out too.  When gate and up are block-circulant on the FFT path with one block size, up reuses
// the input spectrum gate's call left in the workspace (one pack and forward FFT fewer).
void Session::record_mlp(uint32_t l, uint32_t T, const LayerCaptureBuffers* cap) {
  const auto& c = model_.config();
  const uint32_t E = c.n_embd, F = c.n_ff;
  vk::Stream& s = stream_;
  const DeviceLayer& L = model_.layers()[l];
  const bool patched = patch_ && (patch_->patched(l, compress::Projection::kGate) ||
                                  patch_->patched(l, compress::Projection::kUp));
  if (L.gate_up.present() && !patched && !cap) {
    // Gate and up as one matrix.  One token on the row-per-lane form: silu(gate) * up in the same
    // dispatch; else [gate | up] rows, then silu_mul over them.
    if (ops::linear_glu_available(ctx_.info(), L.gate_up.type, T)) {
      linear(L.gate_up, xn_, E, h_, F, 0, false, T, "mlp_gate_up", /*glu=*/true);
    } else {
      linear(L.gate_up, xn_, E, gu_, 2 * F, 0, false, T, "mlp_gate_up");
      s.barrier();
      ops::silu_mul(ctx_, s,
                    {.g = gu_.view(),
                     .u = gu_.view(),
                     .h = h_.view(),
                     .count = T * F,
                     .width = F,
                     .in_stride = 2 * F,
                     .u_offset = F});
    }
    s.barrier();
    mlp_projection(l, compress::Projection::kDown, L.down, h_, F, x_, E, true, T, "mlp_down");
    s.barrier();
    return;
  }
  // Gate and up block-circulant on the fused path: silu(gate) * up in one dispatch.
  if (patch_ && !cap && model_.fuse_projections() &&
      patch_->record_glu(ctx_, s, l, {xn_.view(), E, h_.view(), F, 0, T, false}, "mlp_gate_up")) {
    s.barrier();
    mlp_projection(l, compress::Projection::kDown, L.down, h_, F, x_, E, true, T, "mlp_down");
    s.barrier();
    return;
  }
  const bool shared_spectrum = patch_ && patch_->gate_and_up_share_input_spectrum(l);
  mlp_projection(l, compress::Projection::kGate, L.gate, xn_, E, g_, F, false, T, "mlp_gate");
  mlp_projection(l, compress::Projection::kUp, L.up, xn_, E, u_, F, false, T, "mlp_up",
                 shared_spectrum);
  s.barrier();
  ops::silu_mul(ctx_, s, {.g = g_.view(), .u = u_.view(), .h = h_.view(), .count = T * F});
  s.barrier();
  if (cap) {
    s.copy(g_.view(0, uint64_t(T) * F * 4), cap->gate.view(0, uint64_t(T) * F * 4));
    s.copy(u_.view(0, uint64_t(T) * F * 4), cap->up.view(0, uint64_t(T) * F * 4));
    s.copy(h_.view(0, uint64_t(T) * F * 4), cap->hidden.view(0, uint64_t(T) * F * 4));
  }
  mlp_projection(l, compress::Projection::kDown, L.down, h_, F, x_, E, true, T,
                 "mlp_down");  // x += Wdown h
  s.barrier();
}

// x = the token embeddings of ids_[0 .. T).
void Session::record_embed(uint32_t T) {
  const auto& c = model_.config();
  ops::embed(ctx_, stream_,
             {.table = model_.token_embd().view(),
              .type = model_.token_embd().type,
              .V = c.n_vocab,
              .D = c.n_embd,
              .ids = ids_.view(),
              .T = T,
              .y = x_.view()});
}

void Session::forward(uint32_t T, bool all_logits) {
  const auto& c = model_.config();
  const uint32_t E = c.n_embd;
  vk::Stream& s = stream_;
  // [T, E] residual stream from the token embeddings.
  record_embed(T);
  s.barrier();
  for (uint32_t l = 0; l < model_.layers().size(); ++l) record_layer(l, T, position_, nullptr);
  // Final norm, then the LM head over every token or only the last.
  const uint32_t first = all_logits ? 0 : T - 1, n = all_logits ? T : 1;
  ops::rms_norm(ctx_, s,
                {.x = x_.view(),
                 .gain = model_.output_norm().view(),
                 .y = xn_.view(),
                 .D = E,
                 .T = n,
                 .eps = c.rms_eps,
                 .x_offset = first * E});
  s.barrier();
  linear(model_.output(), xn_, E, logits_, c.n_vocab, 0, false, n, "lm_head");
  s.barrier();
  ops::argmax(ctx_, s,
              {.logits = logits_.view(),
               .result = argmax_.view(),
               .n = c.n_vocab,
               .rows = n,
               .stride = c.n_vocab});
  s.submit_and_wait();
  profile_.add(s.timings());
}

double Session::time_mlps(uint32_t T, int reps) {
  if (T == 0 || T > max_batch_) throw std::invalid_argument("time_mlps: bad token count");
  std::vector<double> samples;
  for (int rep = -1; rep < reps; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    for (uint32_t l = 0; l < model_.layers().size(); ++l) record_mlp(l, T, nullptr);
    stream_.submit_and_wait();
    if (rep >= 0)
      samples.push_back(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() * 1e3);
  }
  return util::median(samples);
}

std::vector<float> Session::embed(std::span<const int32_t> tokens) {
  const auto& c = model_.config();
  check_tokens(tokens, max_batch_);
  const uint32_t T = static_cast<uint32_t>(tokens.size());
  std::vector<uint32_t> ids(tokens.begin(), tokens.end());
  vk::upload(ctx_.allocator(), ids_, std::span<const uint32_t>(ids));
  record_embed(T);
  stream_.submit_and_wait();
  std::vector<float> out(size_t(T) * c.n_embd);
  vk::download(ctx_.allocator(), x_, 0, std::as_writable_bytes(std::span<float>(out)));
  return out;
}

void Session::run_layer(uint32_t layer, std::vector<float>& residual, uint32_t T,
                        MlpCapture* capture) {
  const auto& c = model_.config();
  const uint32_t E = c.n_embd, F = c.n_ff;
  if (layer >= model_.layers().size())
    throw std::invalid_argument("run_layer: no layer " + std::to_string(layer));
  if (T == 0 || T > max_batch_ || T > n_ctx_ || residual.size() != size_t(T) * E)
    throw std::invalid_argument("run_layer: " + std::to_string(T) + " tokens (max " +
                                std::to_string(max_batch_) + ") with a residual of " +
                                std::to_string(residual.size()) + " values");
  vk::upload(ctx_.allocator(), x_, std::span<const float>(residual));
  std::unique_ptr<LayerCaptureBuffers> cap;
  if (capture) {
    cap = std::make_unique<LayerCaptureBuffers>();
    const uint64_t te = uint64_t(max_batch_) * E * 4, tf = uint64_t(max_batch_) * F * 4;
    cap->mid = vk::Buffer(ctx_.allocator(), te, vk::MemoryUse::kDevice,
                          "capture: residual after attention");
    cap->input = vk::Buffer(ctx_.allocator(), te, vk::MemoryUse::kDevice, "capture: MLP input");
    cap->gate = vk::Buffer(ctx_.allocator(), tf, vk::MemoryUse::kDevice, "capture: gate");
    cap->up = vk::Buffer(ctx_.allocator(), tf, vk::MemoryUse::kDevice, "capture: up");
    cap->hidden = vk::Buffer(ctx_.allocator(), tf, vk::MemoryUse::kDevice, "capture: hidden");
  }
  upload_token_info(T, 0);
  record_layer(layer, T, 0, cap.get());  // a fresh sequence: positions 0 .. T-1
  stream_.submit_and_wait();
  profile_.add(stream_.timings());
  vk::download(ctx_.allocator(), x_, 0, std::as_writable_bytes(std::span<float>(residual)));
  if (capture) {
    auto get = [&](const vk::Buffer& b, std::vector<float>& v, size_t n) {
      v.resize(n);
      vk::download(ctx_.allocator(), b, 0, std::as_writable_bytes(std::span<float>(v)));
    };
    std::vector<float> mid;
    get(cap->mid, mid, size_t(T) * E);
    get(cap->input, capture->input, size_t(T) * E);
    get(cap->gate, capture->gate, size_t(T) * F);
    get(cap->up, capture->up, size_t(T) * F);
    get(cap->hidden, capture->hidden, size_t(T) * F);
    capture->output.resize(size_t(T) * E);
    for (size_t i = 0; i < capture->output.size(); ++i) capture->output[i] = residual[i] - mid[i];
  }
}

}  // namespace bcvk::model
