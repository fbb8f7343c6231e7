#include "runtime/model/model.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "loaders/half.h"
#include "runtime/vk/error.h"
#include "runtime/vk/transfer.h"

namespace bcvk::model {

Model::Model(vk::Context& ctx, const loaders::LlamaModelFile& file, ModelOptions options,
             const std::function<void(size_t, size_t)>& progress)
    : ctx_(ctx), config_(file.config()), rope_(file.rope_layout()), options_(options) {
  if (options.weights == WeightMode::kF16 && !ctx.info().storage_buffer_16bit)
    throw vk::Error(ctx.info().name +
                    " has no 16-bit storage: f16 weights are not possible, use f32");
  n_ctx_ = options.context ? std::min(options.context, config_.n_ctx) : config_.n_ctx;
  if (config_.n_embd % 4 || config_.n_ff % 4 || (config_.n_heads * config_.head_dim) % 4)
    throw std::invalid_argument("bcvk needs model widths that are multiples of 4");

  const size_t total = 3 + 9 * file.layers().size();
  size_t done = 0;
  auto step = [&] {
    if (progress) progress(++done, total);
  };
  token_embd_ = upload(file.token_embd(), false);
  step();
  output_norm_ = upload(file.output_norm(), true);
  step();
  if (!config_.tied_embeddings) output_ = upload(file.output(), false);
  step();
  for (const loaders::LlamaLayer& L : file.layers()) {
    const uint32_t l = static_cast<uint32_t>(layers_.size());
    // Projections a compressed file stores block-circulant have no dense weight to upload.
    auto skip = [&](compress::Projection p) {
      const loaders::CirculantTensor& c = p == compress::Projection::kGate ? L.circulant.gate
                                          : p == compress::Projection::kUp ? L.circulant.up
                                                                           : L.circulant.down;
      return c.present() || (options_.skip_mlp && options_.skip_mlp(l, p));
    };
    DeviceLayer d;
    d.attn_norm = upload(L.attn_norm, true);
    d.wq = upload(L.wq, false);
    d.wk = upload(L.wk, false);
    d.wv = upload(L.wv, false);
    d.wo = upload(L.wo, false);
    d.ffn_norm = upload(L.ffn_norm, true);
    d.gate = upload(L.gate, false, skip(compress::Projection::kGate));
    d.up = upload(L.up, false, skip(compress::Projection::kUp));
    d.down = upload(L.down, false, skip(compress::Projection::kDown));
    layers_.push_back(std::move(d));
    for (int i = 0; i < 9; ++i) step();
  }

  // RoPE angles: pair i at position p turns by p * base^(-2i / rope_dims).
  const uint32_t half_dims = config_.rope_dims / 2;
  std::vector<float> table(size_t(n_ctx_) * half_dims * 2);
  for (uint32_t p = 0; p < n_ctx_; ++p)
    for (uint32_t i = 0; i < half_dims; ++i) {
      const double theta = p * std::pow(double(config_.rope_base), -2.0 * i / config_.rope_dims);
      table[(size_t(p) * half_dims + i) * 2] = static_cast<float>(std::cos(theta));
      table[(size_t(p) * half_dims + i) * 2 + 1] = static_cast<float>(std::sin(theta));
    }
  rope_table_ = vk::Buffer(ctx.allocator(), table.size() * 4, vk::MemoryUse::kDevice, "RoPE table");
  vk::upload(ctx.allocator(), rope_table_, std::span<const float>(table));
}

DeviceWeight Model::upload(const loaders::WeightTensor& w, bool vector_f32, bool skip) {
  DeviceWeight d;
  d.rows = static_cast<uint32_t>(w.rows);
  d.cols = static_cast<uint32_t>(w.cols);
  d.type = ops::WeightType::kF32;
  if (!vector_f32) {
    if (options_.weights == WeightMode::kF16) {
      d.type = ops::WeightType::kF16;
    } else if (options_.weights == WeightMode::kNative) {
      const auto native = ops::native_weight_type(w.type);
      if (native && ops::holds_row(*native, w.cols) &&
          (*native != ops::WeightType::kF16 || ctx_.info().storage_buffer_16bit))
        d.type = *native;
    }
  }
  if (skip) return d;  // no buffer: Session refuses to run it dense
  parameters_ += w.elements();
  file_weight_bytes_ += w.data.size();
  std::vector<std::byte> bytes;
  if (d.type == ops::WeightType::kF32) {
    const std::vector<float> values = w.to_f32();
    bytes.resize(values.size() * 4);
    std::memcpy(bytes.data(), values.data(), bytes.size());
  } else if (d.type == ops::WeightType::kF16 && w.type != gguf::GgmlType::F16) {
    const std::vector<float> values = w.to_f32();
    bytes.resize(values.size() * 2);
    for (size_t i = 0; i < values.size(); ++i) {
      const uint16_t h = loaders::float_to_half(values[i]);
      std::memcpy(bytes.data() + 2 * i, &h, 2);
    }
  } else {
    bytes = ops::pack_rows(d.type, w.data, w.rows, w.cols);
  }
  d.buffer = vk::Buffer(ctx_.allocator(), bytes.size(), vk::MemoryUse::kDevice, w.name);
  vk::upload(ctx_.allocator(), d.buffer, std::span<const std::byte>(bytes));
  weight_bytes_ += d.buffer.size();
  if (!vector_f32) {
    auto it = std::find_if(type_bytes_.begin(), type_bytes_.end(),
                           [&](const auto& p) { return p.first == d.type; });
    if (it == type_bytes_.end())
      type_bytes_.emplace_back(d.type, d.buffer.size());
    else
      it->second += d.buffer.size();
  }
  return d;
}

std::string Model::weight_types() const {
  auto sorted = type_bytes_;
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  std::string s;
  for (const auto& [t, bytes] : sorted) {
    if (!s.empty()) s += "+";
    s += ops::weight_type_name(t);
  }
  return s.empty() ? "none" : s;
}

std::vector<std::pair<std::string, uint64_t>> Model::decode_weight_bytes() const {
  // The matrices a decode step streams, by the labels Session gives their dispatches.  The
  // embedding gather reads one row; a tied LM head reads the whole table as "lm_head".
  std::vector<std::pair<std::string, uint64_t>> out = {
      {"linear_q", 0}, {"linear_k", 0}, {"linear_v", 0}, {"linear_o", 0},
      {"mlp_gate", 0}, {"mlp_up", 0},   {"mlp_down", 0}};
  for (const DeviceLayer& L : layers_) {
    const DeviceWeight* w[] = {&L.wq, &L.wk, &L.wv, &L.wo, &L.gate, &L.up, &L.down};
    for (size_t i = 0; i < out.size(); ++i) out[i].second += w[i]->buffer.size();
  }
  out.emplace_back("lm_head", output().buffer.size());
  return out;
}

std::string_view weight_mode_name(WeightMode m) {
  switch (m) {
    case WeightMode::kNative:
      return "native";
    case WeightMode::kF16:
      return "f16";
    case WeightMode::kF32:
      return "f32";
  }
  return "?";
}

std::optional<WeightMode> parse_weight_mode(std::string_view s) {
  for (WeightMode m : {WeightMode::kNative, WeightMode::kF16, WeightMode::kF32})
    if (s == weight_mode_name(m)) return m;
  return std::nullopt;
}

}  // namespace bcvk::model
