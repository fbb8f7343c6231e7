#include "runtime/model/model.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "loaders/half.h"
#include "runtime/model/mlp_patch.h"
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
    {
      std::vector<Staged> qkv;
      qkv.push_back(stage(L.wq, false));
      qkv.push_back(stage(L.wk, false));
      qkv.push_back(stage(L.wv, false));
      d.qkv = upload_fused(std::move(qkv), {&d.wq, &d.wk, &d.wv},
                           "blk." + std::to_string(l) + ".attn_qkv (fused)");
    }
    d.wo = upload(L.wo, false);
    d.ffn_norm = upload(L.ffn_norm, true);
    {
      std::vector<Staged> gu;
      gu.push_back(stage(L.gate, false, skip(compress::Projection::kGate)));
      gu.push_back(stage(L.up, false, skip(compress::Projection::kUp)));
      d.gate_up = upload_fused(std::move(gu), {&d.gate, &d.up},
                               "blk." + std::to_string(l) + ".ffn_gate_up (fused)");
    }
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

Model::Staged Model::stage(const loaders::WeightTensor& w, bool vector_f32, bool skip) {
  Staged st;
  st.name = w.name;
  DeviceWeight& d = st.weight;
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
  if (skip) return st;  // no buffer: Session refuses to run it dense
  parameters_ += w.elements();
  file_weight_bytes_ += w.data.size();
  std::vector<std::byte>& bytes = st.bytes;
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
  d.bytes = bytes.size();
  return st;
}

const vk::Buffer* Model::place(std::vector<std::byte> bytes, const std::string& name) {
  vk::Buffer& b =
      buffers_.emplace_back(ctx_.allocator(), bytes.size(), vk::MemoryUse::kDevice, name);
  vk::upload(ctx_.allocator(), b, std::span<const std::byte>(bytes));
  weight_bytes_ += b.size();
  return &b;
}

void Model::count(const DeviceWeight& w, bool matrix) {
  if (!matrix) return;
  auto it = std::find_if(type_bytes_.begin(), type_bytes_.end(),
                         [&](const auto& p) { return p.first == w.type; });
  if (it == type_bytes_.end())
    type_bytes_.emplace_back(w.type, w.bytes);
  else
    it->second += w.bytes;
}

DeviceWeight Model::upload(const loaders::WeightTensor& w, bool vector_f32, bool skip) {
  Staged st = stage(w, vector_f32, skip);
  if (skip) return st.weight;
  st.weight.buffer = place(std::move(st.bytes), st.name);
  count(st.weight, !vector_f32);
  return st.weight;
}

DeviceWeight Model::upload_fused(std::vector<Staged> parts,
                                 std::initializer_list<DeviceWeight*> out,
                                 const std::string& name) {
  const uint64_t align = ctx_.tuning().binding_alignment;
  bool fuse = options_.fuse_projections;
  uint64_t total = 0;
  for (const Staged& p : parts) {
    const DeviceWeight& w = p.weight;
    fuse = fuse && !p.bytes.empty() && w.type == parts[0].weight.type &&
           w.cols == parts[0].weight.cols && w.bytes % align == 0 &&
           w.bytes == uint64_t(w.rows) * ops::device_row_bytes(w.type, w.cols);
    total += w.bytes;
  }
  auto part = out.begin();
  if (!fuse || total > ctx_.tuning().max_binding_bytes) {
    for (Staged& p : parts) {
      if (!p.bytes.empty()) {
        p.weight.buffer = place(std::move(p.bytes), p.name);
        count(p.weight, true);
      }
      **part++ = p.weight;
    }
    return {};
  }
  DeviceWeight f = parts[0].weight;
  f.rows = 0;
  f.bytes = total;
  std::vector<std::byte> bytes;
  bytes.reserve(total);
  for (const Staged& p : parts) {
    bytes.insert(bytes.end(), p.bytes.begin(), p.bytes.end());
    f.rows += p.weight.rows;
  }
  f.buffer = place(std::move(bytes), name);
  count(f, true);
  uint64_t at = 0;
  for (Staged& p : parts) {
    p.weight.buffer = f.buffer;
    p.weight.offset = at;
    at += p.weight.bytes;
    **part++ = p.weight;
  }
  return f;
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

std::vector<KernelCost> Model::decode_costs(const MlpPatch* patch) const {
  // The matrices a decode step streams, by the labels Session gives their dispatches.  The
  // embedding gather reads one row; a tied LM head reads the whole table as "lm_head".
  // Fused matrices run as one dispatch under the fused label.
  std::vector<KernelCost> out;
  auto add = [&](const char* label, const DeviceWeight& w) {
    auto it = std::find_if(out.begin(), out.end(), [&](const auto& k) { return k.label == label; });
    if (it == out.end()) it = out.insert(out.end(), KernelCost{label, 0, 0});
    if (!w.present()) return;
    it->bytes += w.bytes;
    it->flops += 2ull * w.rows * w.cols;
  };
  using compress::Projection;
  for (uint32_t l = 0; l < layers_.size(); ++l) {
    const DeviceLayer& L = layers_[l];
    if (L.qkv.present()) {
      add("linear_qkv", L.qkv);
    } else {
      add("linear_q", L.wq);
      add("linear_k", L.wk);
      add("linear_v", L.wv);
    }
    add("linear_o", L.wo);
    auto patched = [&](Projection p) { return patch && patch->patched(l, p); };
    const bool gate = patched(Projection::kGate), up = patched(Projection::kUp);
    if (L.gate_up.present() && !gate && !up) {
      add("mlp_gate_up", L.gate_up);
    } else {
      if (!gate) add("mlp_gate", L.gate);
      if (!up) add("mlp_up", L.up);
    }
    if (!patched(Projection::kDown)) add("mlp_down", L.down);
  }
  add("lm_head", output());
  if (patch)
    for (KernelCost& k : patch->decode_costs(fuse_projections())) out.push_back(std::move(k));
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
