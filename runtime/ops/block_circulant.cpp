#include "runtime/ops/block_circulant.h"

#include <algorithm>
#include <bit>

#include "loaders/half.h"
#include "runtime/util/check.h"
#include "runtime/vk/error.h"
#include "runtime/vk/transfer.h"

namespace bcvk::ops {

namespace {

// Below this block size the direct kernel wins on lavapipe: the FFT path's five dispatches cost
// more than the B-fold arithmetic they save (docs/PERFORMANCE.md, bench --patch).
constexpr uint32_t kDirectBelow = 16;

uint32_t groups(uint64_t n, uint32_t wg) {
  return static_cast<uint32_t>(std::max<uint64_t>((n + wg - 1) / wg, 1));
}

// Uploads `values` as f32, or as f16 (round to nearest even) two to a word, low half first --
// the order unpackHalf2x16 reads.
vk::Buffer upload_weights(vk::Context& ctx, const std::vector<float>& values, CirculantWeights type,
                          const char* name) {
  if (type == CirculantWeights::kF32) {
    vk::Buffer b(ctx.allocator(), values.size() * 4, vk::MemoryUse::kDevice, name);
    vk::upload(ctx.allocator(), b, std::span<const float>(values));
    return b;
  }
  std::vector<uint32_t> packed((values.size() + 1) / 2, 0);
  for (size_t i = 0; i < values.size(); ++i)
    packed[i / 2] |= uint32_t(loaders::float_to_half(values[i])) << (16 * (i % 2));
  vk::Buffer b(ctx.allocator(), packed.size() * 4, vk::MemoryUse::kDevice, name);
  vk::upload(ctx.allocator(), b, std::span<const uint32_t>(packed));
  return b;
}

FusedCirculantArgs fused_args(const BlockCirculantLinear& l, const CirculantCall& c) {
  FusedCirculantArgs a;
  a.w = l.weight_buffer().view();
  a.type = l.weights();
  a.m = l.rows();
  a.n = l.cols();
  a.B = l.block();
  a.x = c.x;
  a.x_stride = c.x_stride;
  a.y = c.y;
  a.y_stride = c.y_stride;
  a.y_offset = c.y_offset;
  a.T = c.T;
  a.accumulate = c.accumulate;
  a.transform = c.transform;
  return a;
}

uint32_t tokens_per_group(uint32_t T) {
  return T >= 8 ? 8 : T >= 4 ? 4 : T >= 2 ? 2 : 1;
}

}  // namespace

const char* circulant_path_name(CirculantPath p) {
  switch (p) {
    case CirculantPath::kAuto:
      return "auto";
    case CirculantPath::kFft:
      return "FFT";
    case CirculantPath::kDirect:
      return "direct";
    case CirculantPath::kFused:
      return "fused";
  }
  return "?";
}

CirculantWorkspace::CirculantWorkspace(vk::Context& ctx, uint32_t block, uint32_t max_blocks,
                                       uint32_t max_tokens)
    : block_(block),
      max_blocks_(max_blocks),
      max_tokens_(std::bit_ceil(std::max(max_tokens, 1u))),
      real_in_(ctx.allocator(), fft_real_buffer_bytes(block, max_blocks_ * max_tokens_),
               vk::MemoryUse::kDevice, "circulant real input"),
      complex_in_(ctx.allocator(), fft_complex_buffer_bytes(block, max_blocks_ * max_tokens_),
                  vk::MemoryUse::kDevice, "circulant input spectra"),
      complex_out_(ctx.allocator(), fft_complex_buffer_bytes(block, max_blocks_ * max_tokens_),
                   vk::MemoryUse::kDevice, "circulant output spectra"),
      real_out_(ctx.allocator(), fft_real_buffer_bytes(block, max_blocks_ * max_tokens_),
                vk::MemoryUse::kDevice, "circulant real output"),
      forward_(ctx, real_in_, complex_in_),
      inverse_(ctx, real_out_, complex_out_) {
  if (block < 2) util::internal_error("the FFT path needs a block size of at least 2");
}

uint32_t CirculantWorkspace::token_bucket(uint32_t T) const {
  return std::min(std::bit_ceil(T), max_tokens_);
}

uint64_t CirculantWorkspace::device_bytes() const {
  return real_in_.size() + complex_in_.size() + complex_out_.size() + real_out_.size();
}

BlockCirculantLinear::BlockCirculantLinear(vk::Context& ctx, const compress::BlockCirculant& params,
                                           CirculantPath path, CirculantWeights weights)
    : m_(params.rows),
      n_(params.cols),
      B_(params.block),
      p_(params.row_blocks()),
      q_(params.col_blocks()),
      path_(path),
      weights_type_(weights),
      parameters_(params.parameters()) {
  if (params.c.size() != size_t(p_) * q_ * B_)
    util::internal_error("block-circulant parameters of the wrong size");
  if (path_ == CirculantPath::kAuto)
    path_ = fused_block_supported(B_) ? CirculantPath::kFused
            : B_ < kDirectBelow       ? CirculantPath::kDirect
                                      : CirculantPath::kFft;
  if (path_ == CirculantPath::kFft && B_ < 2)
    path_ = CirculantPath::kDirect;  // no FFT of one point
  if (path_ == CirculantPath::kFused && !fused_block_supported(B_))
    util::internal_error("the fused circulant path does not take B = " + std::to_string(B_));
  if (weights_type_ == CirculantWeights::kQ8 && path_ != CirculantPath::kFused)
    util::internal_error("8-bit circulant weights exist only on the fused path");
  if (path_ == CirculantPath::kFused) {
    weights_ = upload_fused_weights(ctx, params, weights_type_);
  } else if (path_ == CirculantPath::kFft) {
    const std::vector<float> spectra = compress::weight_spectra(params);
    ++spectra_computed_;
    weights_ = upload_weights(ctx, spectra, weights_type_, "circulant weight spectra");
  } else {
    weights_ = upload_weights(ctx, params.c, weights_type_, "circulant parameters");
  }
}

void BlockCirculantLinear::record(vk::Context& ctx, vk::Stream& s, CirculantWorkspace* ws,
                                  const CirculantCall& c, std::string_view label) const {
  if (c.T == 0) return;
  if (c.x.size < (uint64_t(c.T - 1) * c.x_stride + n_) * 4 ||
      c.y.size < (uint64_t(c.T - 1) * c.y_stride + c.y_offset + m_) * 4)
    util::internal_error("block-circulant views too small");
  if (path_ == CirculantPath::kFused) {
    block_circulant_fused(ctx, s, fused_args(*this, c), label);
    return;
  }
  if (path_ == CirculantPath::kDirect) {
    const uint32_t wg =
        ctx.info().subgroup_arithmetic ? std::clamp(ctx.info().subgroup_size, 8u, 64u) : 64u;
    const uint32_t kt = tokens_per_group(c.T);
    std::string name =
        ctx.info().subgroup_arithmetic ? "block_circulant_direct" : "block_circulant_direct_shared";
    if (weights_type_ == CirculantWeights::kF16) name += "_f16";
    vk::Kernel& k = ctx.kernel(name, {{0, wg}, {1, kt}}, sizeof(BlockCirculantPush));
    const BlockCirculantPush push{
        c.T, m_, n_, B_, p_, q_, c.x_stride, c.y_stride, c.y_offset, c.accumulate ? 1u : 0u, 0};
    s.dispatch(k, {weights_.view(), c.x, c.y}, push, {m_, groups(c.T, kt), 1}, label);
    return;
  }
  if (!ws || ws->block() != B_ || ws->max_blocks() < std::max(p_, q_))
    util::internal_error("block-circulant FFT path without a matching workspace");
  for (uint32_t t0 = 0; t0 < c.T; t0 += ws->max_tokens()) {
    if (t0) s.barrier();  // the next chunk reuses the workspace
    record_fft(ctx, s, *ws, c, t0, std::min(ws->max_tokens(), c.T - t0), label);
  }
}

void BlockCirculantLinear::record_fft(vk::Context& ctx, vk::Stream& s, CirculantWorkspace& ws,
                                      const CirculantCall& c, uint32_t t0, uint32_t T,
                                      std::string_view label) const {
  const uint32_t F = B_ / 2 + 1, Tb = ws.token_bucket(T);
  const uint32_t wg = ctx.tuning().elementwise_workgroup;
  BlockCirculantPush push{T,
                          m_,
                          n_,
                          B_,
                          p_,
                          q_,
                          c.x_stride,
                          c.y_stride,
                          c.y_offset + t0 * c.y_stride,
                          c.accumulate ? 1u : 0u,
                          t0 * c.x_stride,
                          Tb};
  const std::string l(label);

  // The FFTs transform Tb >= T tokens; pack zeroes the spare rows and freq covers them (zero in,
  // zero out), so every value either FFT reads was written by this call.
  if (!(c.reuse_input_spectrum && t0 == 0 && T == c.T)) {
    vk::Kernel& pack = ctx.kernel("block_circulant_pack", {{0, wg}}, sizeof(push));
    s.dispatch(pack, {c.x, ws.real_in_.view()}, push, {groups(uint64_t(Tb) * q_ * B_, wg), 1, 1},
               l + ".pack");
    s.barrier();
    ws.forward_.get({FftDirection::kForward, B_, Tb * q_}).record(s, l + ".fft");
    s.barrier();
  }
  const uint32_t kt = tokens_per_group(Tb);
  const uint32_t fwg = std::min<uint32_t>(64, std::max<uint32_t>(8, std::bit_ceil(F)));
  vk::Kernel& freq = ctx.kernel(
      weights_type_ == CirculantWeights::kF16 ? "block_circulant_freq_f16" : "block_circulant_freq",
      {{0, fwg}, {1, kt}}, sizeof(push));
  BlockCirculantPush freq_push = push;
  freq_push.T = Tb;
  s.dispatch(freq, {weights_.view(), ws.complex_in_.view(), ws.complex_out_.view()}, freq_push,
             {groups(F, fwg), p_, groups(Tb, kt)}, l + ".freq");
  s.barrier();
  ws.inverse_.get({FftDirection::kInverse, B_, Tb * p_}).record(s, l + ".ifft");
  s.barrier();
  vk::Kernel& unpack = ctx.kernel("block_circulant_unpack", {{0, wg}}, sizeof(push));
  s.dispatch(unpack, {ws.real_out_.view(), c.y}, push, {groups(uint64_t(T) * m_, wg), 1, 1},
             l + ".unpack");
}

uint32_t BlockCirculantLinear::dispatches(uint32_t T, const CirculantWorkspace* ws,
                                          bool reuse_input_spectrum) const {
  if (T == 0) return 0;
  if (path_ != CirculantPath::kFft) return 1;
  const uint32_t chunk = ws ? ws->max_tokens() : T;
  const uint32_t chunks = (T + chunk - 1) / chunk;
  // pack + FFT + freq + IFFT + unpack; the first chunk skips two with a reused spectrum.
  return 5 * chunks - (reuse_input_spectrum && chunks == 1 ? 2 : 0);
}

bool fusable_glu(const BlockCirculantLinear& gate, const BlockCirculantLinear& up) {
  return gate.path() == CirculantPath::kFused && up.path() == CirculantPath::kFused &&
         gate.block() == up.block() && gate.rows() == up.rows() && gate.cols() == up.cols() &&
         gate.weights() == up.weights();
}

void record_circulant_glu(vk::Context& ctx, vk::Stream& s, const BlockCirculantLinear& gate,
                          const BlockCirculantLinear& up, const CirculantCall& c,
                          std::string_view label) {
  if (!fusable_glu(gate, up) || c.accumulate)
    util::internal_error("record_circulant_glu: gate and up are not one fused pair");
  FusedCirculantArgs a = fused_args(gate, c);
  a.w2 = up.weight_buffer().view();
  a.glu = true;
  block_circulant_fused(ctx, s, a, label);
}

}  // namespace bcvk::ops
