#include "runtime/model/mlp_patch.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <optional>
#include <sstream>
#include <string>

#include "runtime/compress/compressed_gguf.h"
#include "runtime/ops/linear.h"
#include "runtime/vk/error.h"
#include "runtime/vk/pipeline_cache.h"
#include "runtime/vk/transfer.h"

namespace bcvk::model {

namespace {

// Path choices are measured, so two runs on a busy machine could pick differently (and a warm
// start could then build kernels the cold one did not).  The first choice for a shape is kept
// beside the pipeline cache, sealed like it (device identity, checksum); bump the revision when
// the kernels change what they cost.
constexpr int kChoiceRevision = 3;

std::string choice_kind(uint32_t B, uint32_t rows, uint32_t cols, ops::CirculantWeights w) {
  return "circulant path choice r" + std::to_string(kChoiceRevision) + " B=" + std::to_string(B) +
         " " + std::to_string(rows) + "x" + std::to_string(cols) + " " +
         ops::circulant_weights_name(w);
}

std::filesystem::path choice_file(const vk::Context& ctx, uint32_t B, uint32_t rows, uint32_t cols,
                                  ops::CirculantWeights w) {
  const auto& pipelines = const_cast<vk::Context&>(ctx).pipeline_cache().file();
  if (pipelines.empty()) return {};  // persistence off (tests) or no cache directory
  const std::string stem = pipelines.stem().string();  // pipelines-<vendor>-<device>-<uuid>
  return pipelines.parent_path() / "circulant-paths" /
         (stem.substr(stem.find('-') + 1) + "-B" + std::to_string(B) + "-" + std::to_string(rows) +
          "x" + std::to_string(cols) + "-" + ops::circulant_weights_name(w) + ".txt");
}

std::string format_choice(const MlpPatch::PathChoice& c) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "%s %.17g %.17g %.17g\n", ops::circulant_path_name(c.path),
                c.fft_ms, c.direct_ms, c.fused_ms);
  return buf;
}

// A saved choice, or nullopt when the payload is not one this shape can use.
std::optional<MlpPatch::PathChoice> parse_choice(const std::string& payload, uint32_t B,
                                                 uint32_t rows, uint32_t cols,
                                                 ops::CirculantWeights w) {
  std::istringstream in(payload);
  std::string name, f, d, u;
  if (!(in >> name >> f >> d >> u)) return std::nullopt;
  MlpPatch::PathChoice c{B, rows, cols, ops::CirculantPath::kFft, 0, 0, 0};
  try {
    c.fft_ms = std::stod(f);
    c.direct_ms = std::stod(d);
    c.fused_ms = std::stod(u);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  if (name == ops::circulant_path_name(ops::CirculantPath::kFused) && ops::fused_block_supported(B))
    c.path = ops::CirculantPath::kFused;
  else if (name == ops::circulant_path_name(ops::CirculantPath::kFft) &&
           w != ops::CirculantWeights::kQ8)
    c.path = ops::CirculantPath::kFft;
  else if (name == ops::circulant_path_name(ops::CirculantPath::kDirect) &&
           w != ops::CirculantWeights::kQ8)
    c.path = ops::CirculantPath::kDirect;
  else
    return std::nullopt;
  return c;
}

}  // namespace

// One patched projection on the device.  Low-rank factors are stored with the rank padded to a
// multiple of 4 (zero rows/columns), which the linear kernel needs.
struct MlpPatch::Entry {
  std::unique_ptr<ops::BlockCirculantLinear> circulant;
  vk::Buffer u, v;  // [rows][rank4], [rank4][cols]
  uint32_t rows = 0, cols = 0, rank4 = 0;
};

const loaders::WeightTensor& mlp_weight(const loaders::LlamaModelFile& file, uint32_t layer,
                                        compress::Projection p) {
  if (layer >= file.layers().size())
    throw compress::PatchSpecError("patch: layer " + std::to_string(layer) + " does not exist");
  const loaders::LlamaLayer& L = file.layers()[layer];
  const loaders::WeightTensor& w = p == compress::Projection::kGate ? L.gate
                                   : p == compress::Projection::kUp ? L.up
                                                                    : L.down;
  if (w.data.empty())
    throw compress::PatchSpecError("layer " + std::to_string(layer) + " " +
                                   compress::projection_name(p) + " of " + file.source() +
                                   " is stored block-circulant already (a compressed model); "
                                   "patch the dense model instead");
  return w;
}

std::vector<PatchedProjection> MlpPatch::stored(const loaders::LlamaModelFile& file) {
  std::vector<PatchedProjection> out;
  for (compress::CirculantProjection& cp : compress::stored_projections(file)) {
    PatchedProjection pp;
    pp.layer = cp.layer;
    pp.projection = cp.projection;
    pp.structure = Structure::kBlockCirculant;
    pp.circulant = std::move(cp.params);
    pp.relative_error = std::nan("");  // the dense weight it replaced is not in the file
    out.push_back(std::move(pp));
  }
  return out;
}

ops::CirculantWeights MlpPatch::stored_weights(const loaders::LlamaModelFile& file,
                                               WeightMode mode) {
  if (mode == WeightMode::kF32) return ops::CirculantWeights::kF32;
  if (mode == WeightMode::kF16) return ops::CirculantWeights::kF16;
  // Native: the file's own type when every circulant tensor has it (Q8_0 spectra are the fused
  // kernel's 8-bit weights), else f32.
  bool any = false, all_f16 = true, all_q8 = true;
  for (const loaders::LlamaLayer& l : file.layers())
    for (const loaders::CirculantTensor* t :
         {&l.circulant.gate, &l.circulant.up, &l.circulant.down})
      if (t->present()) {
        any = true;
        all_f16 = all_f16 && t->type == gguf::GgmlType::F16;
        all_q8 = all_q8 && t->spectra && t->type == gguf::GgmlType::Q8_0;
      }
  if (any && all_q8) return ops::CirculantWeights::kQ8;
  return any && all_f16 ? ops::CirculantWeights::kF16 : ops::CirculantWeights::kF32;
}

std::unique_ptr<MlpPatch> MlpPatch::load_stored(vk::Context& ctx,
                                                const loaders::LlamaModelFile& file,
                                                WeightMode mode) {
  if (!file.compressed()) return nullptr;
  return std::make_unique<MlpPatch>(ctx, file.config(), stored(file), ops::CirculantPath::kAuto, 64,
                                    stored_weights(file, mode));
}

void check_block_sizes(const loaders::LlamaConfig& c, const compress::PatchSpec& spec) {
  for (size_t i = 0; i < spec.layers.size(); ++i)
    for (auto p : compress::kProjections) {
      const uint32_t B = spec.blocks[i][size_t(p)];
      if (!B) continue;
      const bool down = p == compress::Projection::kDown;
      // The loader's rule, so nothing is made that bcvk could not read back.
      const std::string why =
          loaders::circulant_block_problem(down ? c.n_embd : c.n_ff, down ? c.n_ff : c.n_embd, B);
      if (!why.empty())
        throw compress::PatchSpecError("layer " + std::to_string(spec.layers[i]) + " " +
                                       compress::projection_name(p) + " " + why);
    }
}

std::vector<PatchedProjection> MlpPatch::project(
    const loaders::LlamaModelFile& file, const compress::PatchSpec& spec, Structure structure,
    const std::function<void(size_t, size_t)>& progress) {
  check_block_sizes(file.config(), spec);
  std::vector<PatchedProjection> out;
  size_t total = 0;
  for (uint32_t l : spec.layers)
    for (auto p : compress::kProjections) total += spec.patched(l, p);
  for (uint32_t l : spec.layers)
    for (auto p : compress::kProjections) {
      if (!spec.patched(l, p)) continue;
      const loaders::WeightTensor& w = mlp_weight(file, l, p);
      const std::vector<float> dense = w.to_f32();
      const uint32_t rows = uint32_t(w.rows), cols = uint32_t(w.cols), B = spec.block(l, p);
      PatchedProjection pp;
      pp.layer = l;
      pp.projection = p;
      pp.structure = structure;
      if (structure == Structure::kBlockCirculant) {
        pp.circulant = compress::project_block_circulant(dense, rows, cols, B);
        pp.relative_error = compress::relative_frobenius_error(dense, pp.circulant);
      } else {
        pp.low_rank = compress::truncated_svd(
            dense, rows, cols, compress::rank_matching_block_circulant(rows, cols, B));
        const auto approx = compress::expand(pp.low_rank);
        double d = 0, nrm = 0;
        for (size_t i = 0; i < dense.size(); ++i) {
          d += (double(dense[i]) - approx[i]) * (double(dense[i]) - approx[i]);
          nrm += double(dense[i]) * dense[i];
        }
        pp.relative_error = nrm > 0 ? std::sqrt(d / nrm) : 0.0;
      }
      out.push_back(std::move(pp));
      if (progress) progress(out.size(), total);
    }
  return out;
}

MlpPatch::MlpPatch(vk::Context& ctx, const loaders::LlamaConfig& config,
                   std::vector<PatchedProjection> projections, ops::CirculantPath path,
                   uint32_t max_tokens, ops::CirculantWeights weights)
    : ctx_(ctx),
      config_(config),
      path_(path),
      weights_(weights),
      max_tokens_(std::max(max_tokens, 1u)) {
  for (PatchedProjection& pp : projections) upload(pp);
  projections_ = std::move(projections);
}

MlpPatch::~MlpPatch() = default;

void MlpPatch::upload(const PatchedProjection& pp) {
  const auto& c = config_;
  if (pp.layer >= c.n_layers)
    throw std::invalid_argument("patch: layer " + std::to_string(pp.layer) + " does not exist");
  const bool down = pp.projection == compress::Projection::kDown;
  const uint32_t rows = down ? c.n_embd : c.n_ff, cols = down ? c.n_ff : c.n_embd;
  const bool circ = pp.structure == Structure::kBlockCirculant;
  const uint32_t r0 = circ ? pp.circulant.rows : pp.low_rank.rows,
                 c0 = circ ? pp.circulant.cols : pp.low_rank.cols;
  const std::string name =
      "layer " + std::to_string(pp.layer) + " " + compress::projection_name(pp.projection);
  if (r0 != rows || c0 != cols)
    throw std::invalid_argument("patch: " + name + " is " + std::to_string(r0) + "x" +
                                std::to_string(c0) + ", the model needs " + std::to_string(rows) +
                                "x" + std::to_string(cols));
  auto e = std::make_unique<Entry>();
  e->rows = rows;
  e->cols = cols;
  if (circ) {
    const ops::CirculantPath path =
        path_ == ops::CirculantPath::kAuto ? choose_path(pp.circulant) : path_;
    e->circulant = std::make_unique<ops::BlockCirculantLinear>(ctx_, pp.circulant, path, weights_);
    if (e->circulant->path() == ops::CirculantPath::kFft) {
      const uint32_t B = pp.circulant.block,
                     need = std::max(pp.circulant.row_blocks(), pp.circulant.col_blocks());
      auto it = workspaces_.find(B);
      if (it == workspaces_.end() ||
          it->second->max_blocks() < need)  // grown only when a shape needs more
        workspaces_[B] = std::make_unique<ops::CirculantWorkspace>(ctx_, B, need, max_tokens_);
    }
  } else {
    const auto& lr = pp.low_rank;
    e->rank4 = (lr.rank + 3) / 4 * 4;
    std::vector<float> u(size_t(rows) * e->rank4, 0.f), v(size_t(e->rank4) * cols, 0.f);
    for (uint32_t i = 0; i < rows; ++i)
      for (uint32_t k = 0; k < lr.rank; ++k)
        u[size_t(i) * e->rank4 + k] = lr.u[size_t(i) * lr.rank + k];
    std::copy(lr.v.begin(), lr.v.end(), v.begin());
    e->u = vk::Buffer(ctx_.allocator(), u.size() * 4, vk::MemoryUse::kDevice, name + " low-rank U");
    e->v = vk::Buffer(ctx_.allocator(), v.size() * 4, vk::MemoryUse::kDevice, name + " low-rank V");
    vk::upload(ctx_.allocator(), e->u, std::span<const float>(u));
    vk::upload(ctx_.allocator(), e->v, std::span<const float>(v));
    const uint64_t need = uint64_t(max_tokens_) * e->rank4 * 4;
    if (low_rank_scratch_.size() < need)
      low_rank_scratch_ =
          vk::Buffer(ctx_.allocator(), need, vk::MemoryUse::kDevice, "low-rank scratch");
  }
  auto& slot = entries_[{pp.layer, int(pp.projection)}];
  if (slot && slot->circulant) spectra_before_replace_ += slot->circulant->spectra_computed();
  slot = std::move(e);
}

// Times the FFT and the direct path for this shape (1 token and 8 tokens, median of 3 after a
// warm-up) and keeps the faster; the answer is cached per (B, rows, cols).
ops::CirculantPath MlpPatch::choose_path(const compress::BlockCirculant& params) {
  const uint32_t B = params.block;
  if (weights_ == ops::CirculantWeights::kQ8 && !ops::fused_block_supported(B))
    throw std::invalid_argument(
        "8-bit circulant weights need the fused kernel, which takes "
        "power-of-two block sizes from 2 to " +
        std::to_string(ops::kFusedMaxBlock) + ", not " + std::to_string(B));
  if (B < 2) return ops::CirculantPath::kDirect;  // no FFT of one point
  for (const PathChoice& c : choices_)
    if (c.block == B && c.rows == params.rows && c.cols == params.cols) return c.path;
  const auto file = choice_file(ctx_, B, params.rows, params.cols, weights_);
  const std::string kind = choice_kind(B, params.rows, params.cols, weights_);
  if (const auto saved = vk::load_cache_entry(file, kind, ctx_.info(), "circulant path choice")) {
    if (const auto c = parse_choice(*saved, B, params.rows, params.cols, weights_)) {
      choices_.push_back(*c);
      return c->path;
    }
    std::fprintf(stderr, "bcvk: warning: circulant path choice %s unusable; measuring again\n",
                 file.c_str());
  }
  // The FFT path's probe runs in the shared workspace when one fits, else in its own, dropped
  // afterwards (upload() makes the shared one only if a projection takes the FFT path).
  const uint32_t need = std::max(params.row_blocks(), params.col_blocks());
  auto it = workspaces_.find(B);
  std::unique_ptr<ops::CirculantWorkspace> probe_ws;
  ops::CirculantWorkspace* ws = nullptr;
  if (it != workspaces_.end() && it->second->max_blocks() >= need) {
    ws = it->second.get();
  } else if (weights_ != ops::CirculantWeights::kQ8) {
    probe_ws = std::make_unique<ops::CirculantWorkspace>(ctx_, B, need, max_tokens_);
    ws = probe_ws.get();
  }
  constexpr uint32_t kTokens = 8;
  vk::Buffer x(ctx_.allocator(), uint64_t(kTokens) * params.cols * 4, vk::MemoryUse::kDevice,
               "path probe input");
  vk::Buffer y(ctx_.allocator(), uint64_t(kTokens) * params.rows * 4, vk::MemoryUse::kDevice,
               "path probe output");
  vk::upload(ctx_.allocator(), x,
             std::span<const float>(std::vector<float>(size_t(kTokens) * params.cols, 0.5f)));
  // The score: one decoded token plus one token of an 8-token prefill (medians of 3 after a
  // warm-up), so a path that wins decode by far is not lost to a small prefill difference.
  auto time = [&](ops::CirculantPath path) {
    const ops::BlockCirculantLinear layer(ctx_, params, path, weights_);
    vk::Stream s(ctx_.device());
    double score = 0;
    for (uint32_t T : {1u, kTokens}) {
      std::vector<double> ms;
      for (int rep = -1; rep < 3; ++rep) {
        const auto t0 = std::chrono::steady_clock::now();
        layer.record(ctx_, s, ws, {x.view(), params.cols, y.view(), params.rows, 0, T, false},
                     "path probe");
        s.submit_and_wait();
        if (rep >= 0)
          ms.push_back(
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() * 1e3);
      }
      std::sort(ms.begin(), ms.end());
      score += ms[1] / T;
    }
    return score;
  };
  const double nan = std::nan("");
  const bool fused = ops::fused_block_supported(B);
  // 8-bit weights exist only on the fused path.
  const bool others = weights_ != ops::CirculantWeights::kQ8;
  PathChoice c{B,
               params.rows,
               params.cols,
               ops::CirculantPath::kFft,
               others ? time(ops::CirculantPath::kFft) : nan,
               others ? time(ops::CirculantPath::kDirect) : nan,
               fused ? time(ops::CirculantPath::kFused) : nan};
  double best = std::numeric_limits<double>::infinity();
  for (auto [path, ms] : {std::pair{ops::CirculantPath::kFused, c.fused_ms},
                          {ops::CirculantPath::kDirect, c.direct_ms},
                          {ops::CirculantPath::kFft, c.fft_ms}})
    if (!std::isnan(ms) && ms < best) {
      best = ms;
      c.path = path;
    }
  choices_.push_back(c);
  vk::store_cache_entry(file, kind, ctx_.info(), format_choice(c));
  return c.path;
}

void MlpPatch::replace(PatchedProjection pp) {
  upload(pp);
  for (PatchedProjection& old : projections_)
    if (old.layer == pp.layer && old.projection == pp.projection) {
      old = std::move(pp);
      return;
    }
  projections_.push_back(std::move(pp));
}

bool MlpPatch::patched(uint32_t layer, compress::Projection p) const {
  return entries_.count({layer, int(p)}) > 0;
}

const ops::BlockCirculantLinear* MlpPatch::circulant(uint32_t layer, compress::Projection p) const {
  auto it = entries_.find({layer, int(p)});
  return it == entries_.end() ? nullptr : it->second->circulant.get();
}

bool MlpPatch::record(vk::Context& ctx, vk::Stream& s, uint32_t layer, compress::Projection p,
                      const ops::CirculantCall& call, std::string_view label) const {
  auto it = entries_.find({layer, int(p)});
  if (it == entries_.end()) return false;
  const Entry& e = *it->second;
  // Patched projections share scratch (FFT workspaces, the low-rank intermediate) with the one
  // recorded just before, which no barrier separates from this one (gate and up write different
  // outputs): order them here.  The fused path has no scratch.
  if (e.circulant && e.circulant->path() == ops::CirculantPath::kFused) {
    e.circulant->record(ctx, s, nullptr, call, kernel_label(label, e.circulant->block()));
    return true;
  }
  s.barrier();
  if (e.circulant) {
    e.circulant->record(ctx, s, workspace(e.circulant->block()), call,
                        kernel_label(label, e.circulant->block()));
    return true;
  }
  // Low rank: h = V x into scratch, then y (+)= U h, in chunks of the scratch's tokens.
  const std::string l = std::string(label) + "_lr";
  for (uint32_t t0 = 0; t0 < call.T; t0 += max_tokens_) {
    const uint32_t T = std::min(max_tokens_, call.T - t0);
    if (t0) s.barrier();
    ops::LinearArgs a;
    a.w = e.v.view();
    a.N = e.rank4;
    a.K = e.cols;
    a.x = call.x.buffer->view(call.x.offset + uint64_t(t0) * call.x_stride * 4,
                              (uint64_t(T - 1) * call.x_stride + e.cols) * 4);
    a.x_stride = call.x_stride;
    a.y = low_rank_scratch_.view();
    a.y_stride = e.rank4;
    a.T = T;
    ops::linear(ctx, s, a, l + ".v");
    s.barrier();
    ops::LinearArgs b;
    b.w = e.u.view();
    b.N = e.rows;
    b.K = e.rank4;
    b.x = low_rank_scratch_.view();
    b.x_stride = e.rank4;
    b.y = call.y.buffer->view(
        call.y.offset + uint64_t(t0) * call.y_stride * 4,
        uint64_t(T - 1) * call.y_stride * 4 + uint64_t(call.y_offset + e.rows) * 4);
    b.y_stride = call.y_stride;
    b.y_offset = call.y_offset;
    b.T = T;
    b.accumulate = call.accumulate;
    ops::linear(ctx, s, b, l + ".u");
  }
  return true;
}

bool MlpPatch::gate_and_up_share_input_spectrum(uint32_t layer) const {
  const auto* g = circulant(layer, compress::Projection::kGate);
  const auto* u = circulant(layer, compress::Projection::kUp);
  return g && u && g->path() == ops::CirculantPath::kFft && u->path() == ops::CirculantPath::kFft &&
         g->block() == u->block() && g->cols() == u->cols();
}

bool MlpPatch::record_glu(vk::Context& ctx, vk::Stream& s, uint32_t layer,
                          const ops::CirculantCall& call, std::string_view label) const {
  const auto* g = circulant(layer, compress::Projection::kGate);
  const auto* u = circulant(layer, compress::Projection::kUp);
  if (!g || !u || !ops::fusable_glu(*g, *u)) return false;
  ops::record_circulant_glu(ctx, s, *g, *u, call, kernel_label(label, g->block()));
  return true;
}

std::string MlpPatch::kernel_label(std::string_view session_label, uint32_t block) {
  return std::string(session_label) + "_b" + std::to_string(block);
}

std::vector<KernelCost> MlpPatch::decode_costs(bool fused_pairs) const {
  std::vector<KernelCost> out;
  auto add = [&](const std::string& label, uint64_t bytes, double flops) {
    auto it = std::find_if(out.begin(), out.end(), [&](const auto& k) { return k.label == label; });
    if (it == out.end()) it = out.insert(out.end(), KernelCost{label, 0, 0});
    it->bytes += bytes;
    it->flops += uint64_t(std::llround(flops));
  };
  auto transform = [](uint32_t B) { return 2.5 * B * std::log2(double(B)); };
  // One projection's frequency products and output transforms; its input transforms unless
  // `shared_input`.
  auto circulant_flops = [&](const ops::BlockCirculantLinear& c, bool shared_input) {
    const uint32_t B = c.block(), p = (c.rows() + B - 1) / B, q = (c.cols() + B - 1) / B;
    if (c.path() == ops::CirculantPath::kDirect || B < 2) return 2.0 * p * q * B * B;
    return (shared_input ? 0.0 : q * transform(B)) + 8.0 * p * q * (B / 2 + 1) + p * transform(B);
  };
  const char* names[] = {"mlp_gate", "mlp_up", "mlp_down"};
  std::map<uint32_t, bool> layers;
  for (const auto& [key, e] : entries_) layers[key.first] = true;
  for (const auto& [layer, unused] : layers) {
    const auto* g = circulant(layer, compress::Projection::kGate);
    const auto* u = circulant(layer, compress::Projection::kUp);
    if (fused_pairs && g && u && ops::fusable_glu(*g, *u)) {
      add(kernel_label("mlp_gate_up", g->block()), g->device_bytes() + u->device_bytes(),
          circulant_flops(*g, false) + circulant_flops(*u, true));
    }
    for (auto p : compress::kProjections) {
      if (p != compress::Projection::kDown && fused_pairs && g && u && ops::fusable_glu(*g, *u))
        continue;
      auto it = entries_.find({layer, int(p)});
      if (it == entries_.end()) continue;
      const Entry& e = *it->second;
      const char* name = names[size_t(p)];
      if (e.circulant) {
        const bool shared =
            p == compress::Projection::kUp && gate_and_up_share_input_spectrum(layer);
        add(kernel_label(name, e.circulant->block()), e.circulant->device_bytes(),
            circulant_flops(*e.circulant, shared));
      } else {
        add(std::string(name) + "_lr", e.u.size() + e.v.size(),
            2.0 * e.rank4 * e.cols + 2.0 * e.rows * e.rank4);
      }
    }
  }
  return out;
}

uint32_t MlpPatch::dispatches(uint32_t layer, compress::Projection p, uint32_t T,
                              bool reuse_input_spectrum) const {
  auto it = entries_.find({layer, int(p)});
  if (it == entries_.end()) return 0;
  const Entry& e = *it->second;
  if (e.circulant)
    return e.circulant->dispatches(T, workspace(e.circulant->block()), reuse_input_spectrum);
  return 2 * ((T + max_tokens_ - 1) / max_tokens_);  // low rank: V then U per chunk
}

ops::CirculantWorkspace* MlpPatch::workspace(uint32_t block) const {
  auto it = workspaces_.find(block);
  return it == workspaces_.end() ? nullptr : it->second.get();
}

PatchStats MlpPatch::stats() const {
  PatchStats st;
  st.dense_mlp_parameters = 3ull * config_.n_embd * config_.n_ff * config_.n_layers;
  for (const PatchedProjection& pp : projections_) {
    st.replaced_parameters += uint64_t(config_.n_embd) * config_.n_ff;
    st.patch_parameters += pp.parameters();
  }
  return st;
}

uint64_t MlpPatch::device_bytes() const {
  uint64_t b = low_rank_scratch_.size();
  for (const auto& [k, e] : entries_)
    b += (e->circulant ? e->circulant->device_bytes() : 0) + e->u.size() + e->v.size();
  for (const auto& [k, w] : workspaces_) b += w->device_bytes();
  return b;
}

uint64_t MlpPatch::fft_plans_created() const {
  uint64_t n = 0;
  for (const auto& [k, w] : workspaces_) n += w->plans_created();
  return n;
}

uint64_t MlpPatch::spectra_computed() const {
  uint64_t n = spectra_before_replace_;
  for (const auto& [k, e] : entries_)
    if (e->circulant) n += e->circulant->spectra_computed();
  return n;
}

}  // namespace bcvk::model
