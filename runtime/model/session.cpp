#include "runtime/model/session.h"

#include <cmath>
#include <stdexcept>

#include "runtime/ops/elementwise.h"
#include "runtime/vk/transfer.h"

namespace bcvk::model {

namespace {
vk::Buffer activations(vk::Context& ctx, uint64_t floats, const char* name) {
  return vk::Buffer(ctx.allocator(), floats * 4, vk::MemoryUse::kDevice, name);
}
}  // namespace

Session::Session(Model& model, uint32_t max_batch, bool profile)
    : model_(model), ctx_(model.context()), max_batch_(max_batch), stream_(ctx_.device(), profile, 8192) {
  const auto& c = model.config();
  const uint64_t B = max_batch, E = c.n_embd, QD = uint64_t(c.n_heads) * c.head_dim, F = c.n_ff;
  ids_ = activations(ctx_, B, "token ids");
  x_ = activations(ctx_, B * E, "residual stream");
  xn_ = activations(ctx_, B * std::max(E, QD), "normed activations");
  q_ = activations(ctx_, B * QD, "queries");
  att_ = activations(ctx_, B * QD, "attention output");
  g_ = activations(ctx_, B * F, "MLP gate");
  u_ = activations(ctx_, B * F, "MLP up");
  h_ = activations(ctx_, B * F, "MLP hidden");
  logits_ = activations(ctx_, B * c.n_vocab, "logits");
  argmax_ = activations(ctx_, B, "argmax");
  const uint64_t kv = uint64_t(model.context_length()) * c.n_kv_heads * c.head_dim;
  for (uint32_t l = 0; l < c.n_layers; ++l) {
    k_cache_.push_back(activations(ctx_, kv, "KV cache (K)"));
    v_cache_.push_back(activations(ctx_, kv, "KV cache (V)"));
  }
}

std::vector<float> Session::prefill(std::span<const int32_t> tokens, bool all_logits) {
  const auto& c = model_.config();
  if (tokens.empty()) throw std::invalid_argument("no tokens to run (empty prompt?)");
  if (position_ + tokens.size() > model_.context_length())
    throw std::invalid_argument("context overflow: " + std::to_string(position_) + " + " +
                                std::to_string(tokens.size()) + " tokens exceed the context of " +
                                std::to_string(model_.context_length()));
  for (int32_t t : tokens)
    if (t < 0 || static_cast<uint32_t>(t) >= c.n_vocab)
      throw std::invalid_argument("token id " + std::to_string(t) + " is outside the vocabulary of " +
                                  std::to_string(c.n_vocab));
  std::vector<float> out;
  for (size_t done = 0; done < tokens.size(); done += max_batch_) {
    const uint32_t T = static_cast<uint32_t>(std::min<size_t>(max_batch_, tokens.size() - done));
    std::vector<uint32_t> ids(tokens.begin() + done, tokens.begin() + done + T);
    vk::upload(ctx_.allocator(), ids_, std::span<const uint32_t>(ids));
    const bool last_chunk = done + T == tokens.size();
    forward(T, all_logits);
    position_ += T;
    if (all_logits) {
      const size_t n = size_t(T) * c.n_vocab;
      out.resize(out.size() + n);
      vk::download(ctx_.allocator(), logits_, 0, std::as_writable_bytes(std::span<float>(out.data() + out.size() - n, n)));
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

void Session::forward(uint32_t T, bool all_logits) {
  const auto& c = model_.config();
  const uint32_t E = c.n_embd, F = c.n_ff, hd = c.head_dim;
  const uint32_t QD = c.n_heads * hd, KV = c.n_kv_heads * hd;
  const uint32_t pos0 = position_;
  vk::Stream& s = stream_;
  auto lin = [&](const DeviceWeight& w, const vk::Buffer& x, uint32_t x_stride, const vk::Buffer& y,
                 uint32_t y_stride, uint32_t y_offset, bool acc, uint32_t tokens, std::string_view label) {
    ops::LinearArgs a;
    a.w = w.view();
    a.type = w.type;
    a.N = w.rows;
    a.K = w.cols;
    a.x = x.view();
    a.x_stride = x_stride;
    a.y = y.view();
    a.y_stride = y_stride;
    a.y_offset = y_offset;
    a.T = tokens;
    a.accumulate = acc;
    ops::linear(ctx_, s, a, label);
  };

  // [T, E] residual stream from the token embeddings.
  ops::embed(ctx_, s, model_.token_embd().view(), model_.token_embd().type, c.n_vocab, E, ids_.view(), T, x_.view());
  s.barrier();
  const float scale = 1.0f / std::sqrt(float(hd));
  const uint32_t adjacent = model_.rope_layout() == loaders::RopeLayout::kAdjacentPairs ? 1 : 0;
  for (size_t l = 0; l < model_.layers().size(); ++l) {
    const DeviceLayer& L = model_.layers()[l];
    const vk::Buffer& kc = k_cache_[l];
    const vk::Buffer& vc = v_cache_[l];
    ops::rms_norm(ctx_, s, x_.view(), L.attn_norm.view(), xn_.view(), E, T, c.rms_eps);
    s.barrier();
    // Q into scratch; K and V straight into the cache rows of positions pos0 .. pos0 + T - 1.
    lin(L.wq, xn_, E, q_, QD, 0, false, T, "linear_q");
    lin(L.wk, xn_, E, kc, KV, pos0 * KV, false, T, "linear_k");
    lin(L.wv, xn_, E, vc, KV, pos0 * KV, false, T, "linear_v");
    s.barrier();
    ops::rope(ctx_, s, q_.view(), model_.rope_table().view(), {T, c.n_heads, hd, c.rope_dims, QD, 0, pos0, adjacent});
    ops::rope(ctx_, s, kc.view(), model_.rope_table().view(),
              {T, c.n_kv_heads, hd, c.rope_dims, KV, pos0 * KV, pos0, adjacent});
    s.barrier();
    ops::attention(ctx_, s, q_.view(), kc.view(), vc.view(), att_.view(), T, hd,
                   {c.n_heads, c.n_kv_heads, pos0, scale});
    s.barrier();
    lin(L.wo, att_, QD, x_, E, 0, true, T, "linear_o");  // x += Wo att
    s.barrier();
    ops::rms_norm(ctx_, s, x_.view(), L.ffn_norm.view(), xn_.view(), E, T, c.rms_eps);
    s.barrier();
    lin(L.gate, xn_, E, g_, F, 0, false, T, "linear_gate");
    lin(L.up, xn_, E, u_, F, 0, false, T, "linear_up");
    s.barrier();
    ops::silu_mul(ctx_, s, g_.view(), u_.view(), h_.view(), T * F);
    s.barrier();
    lin(L.down, h_, F, x_, E, 0, true, T, "linear_down");  // x += Wdown h
    s.barrier();
  }
  // Final norm, then the LM head over every token or only the last.
  const uint32_t first = all_logits ? 0 : T - 1, n = all_logits ? T : 1;
  ops::rms_norm(ctx_, s, x_.view(), model_.output_norm().view(), xn_.view(), E, n, c.rms_eps, first * E);
  s.barrier();
  lin(model_.output(), xn_, E, logits_, c.n_vocab, 0, false, n, "lm_head");
  s.barrier();
  ops::argmax(ctx_, s, logits_.view(), argmax_.view(), c.n_vocab, n, c.n_vocab);
  s.submit_and_wait();
  profile_.add(s.timings());
}

}  // namespace bcvk::model
