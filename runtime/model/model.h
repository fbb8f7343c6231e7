// A llama-family model on the device: its config and every weight uploaded once, in the file's own
// type (native) or inflated to f16 or f32.
#pragma once

#include <deque>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "loaders/llama_model.h"
#include "runtime/compress/patch_spec.h"
#include "runtime/ops/kv_store.h"
#include "runtime/ops/linear.h"
#include "runtime/vk/context.h"

namespace bcvk::model {

// How weight matrices are held on the device.  kNative keeps each tensor in its GGUF type (decoded
// in the shaders); a tensor whose type or row length has no native kernel, or an F16 tensor on a
// device without 16-bit storage, is inflated to f32.  kF16 / kF32 inflate every matrix.
enum class WeightMode { kNative, kF16, kF32 };
std::string_view weight_mode_name(WeightMode m);  // "native", "f16", "f32"
std::optional<WeightMode> parse_weight_mode(std::string_view s);

struct ModelOptions {
  // f16 weights halve memory and bandwidth; refused on devices without 16-bit storage.
  WeightMode weights = WeightMode::kNative;  // the file's own types, decoded in the shaders
  uint32_t context = 0;                      // 0: the model's context length
  ops::KvType kv = ops::KvType::kF16;        // what every Session's KV cache holds
  // Q/K/V (and gate/up) of a layer as one matrix each where their types agree, so one dispatch
  // computes them, and a fused block-circulant gate/up pair in one dispatch with the SiLU
  // product; false keeps every projection its own buffer and dispatch (tests).
  bool fuse_projections = true;
  // MLP projections not to upload (a patched student that never runs them dense), or empty.
  std::function<bool(uint32_t layer, compress::Projection)> skip_mlp;
};

// One weight matrix (or vector) on the device: a range of a buffer the Model owns.  Matrices
// read by one fused dispatch share a buffer, rows back to back.
class MlpPatch;

// One dispatch label's work per decoded token: the weight bytes it streams and its arithmetic.
struct KernelCost {
  std::string label;
  uint64_t bytes = 0;
  uint64_t flops = 0;  // nominal; see the producer
};

struct DeviceWeight {
  const vk::Buffer* buffer = nullptr;  // null: not uploaded
  uint64_t offset = 0, bytes = 0;
  ops::WeightType type = ops::WeightType::kF32;
  uint32_t rows = 0, cols = 0;
  bool present() const { return buffer != nullptr; }
  vk::BufferView view() const { return buffer->view(offset, bytes); }
};

struct DeviceLayer {
  DeviceWeight attn_norm, wq, wk, wv, wo, ffn_norm, gate, up, down;
  // When present, the rows of wq, wk, wv (and of gate, up) as one matrix in one buffer, so one
  // dispatch computes them all: on lavapipe a dispatch's fixed cost is as large as these
  // matrices' own time.  wq .. up stay usable alone (views at aligned offsets).
  DeviceWeight qkv, gate_up;
};

class Model {
 public:
  // Dequantizes and uploads every weight of `file`; `progress` (may be empty) is called with
  // (tensors done, tensors total).  Throws vk::Error when the device cannot hold the model.
  Model(vk::Context& ctx, const loaders::LlamaModelFile& file, ModelOptions options = {},
        const std::function<void(size_t, size_t)>& progress = {});

  vk::Context& context() const { return ctx_; }
  const loaders::LlamaConfig& config() const { return config_; }
  loaders::RopeLayout rope_layout() const { return rope_; }
  uint32_t context_length() const { return n_ctx_; }
  WeightMode weight_mode() const { return options_.weights; }
  ops::KvType kv_type() const { return options_.kv; }
  bool fuse_projections() const { return options_.fuse_projections; }
  // "q4_1+q8_0" style summary of the matrix types on the device, most bytes first.
  std::string weight_types() const;

  const DeviceWeight& token_embd() const { return token_embd_; }
  const DeviceWeight& output_norm() const { return output_norm_; }
  const DeviceWeight& output() const { return config_.tied_embeddings ? token_embd_ : output_; }
  const std::vector<DeviceLayer>& layers() const { return layers_; }
  // (cos, sin) per [position][rope_dims / 2], computed in double on the host.
  const vk::Buffer& rope_table() const { return rope_table_; }

  uint64_t weight_bytes() const { return weight_bytes_; }
  // What one decode step's weight kernels cost, per dispatch label of Session (linear_q ..
  // mlp_down summed over layers, lm_head): the device bytes of the matrices they read and 2
  // FLOPs per matrix element.  A projection not uploaded counts 0; with `patch`, its projections
  // are left out here and its own kernels (MlpPatch::decode_costs) added.
  std::vector<KernelCost> decode_costs(const MlpPatch* patch = nullptr) const;
  // Bytes of the uploaded tensors as the file stores them (the device holds weight_bytes()).
  uint64_t file_weight_bytes() const { return file_weight_bytes_; }
  uint64_t parameter_count() const { return parameters_; }

 private:
  // A tensor's device type and bytes, not yet uploaded.
  struct Staged {
    DeviceWeight weight;
    std::vector<std::byte> bytes;
    std::string name;
  };
  Staged stage(const loaders::WeightTensor& w, bool vector_f32, bool skip = false);
  DeviceWeight upload(const loaders::WeightTensor& w, bool vector_f32, bool skip = false);
  // Uploads `parts` into one buffer, back to back, when they can be one matrix (same type and
  // row length, each part's bytes a multiple of the binding alignment, the whole within one
  // binding): returns the fused weight and sets each part's view.  Else uploads them apart and
  // returns an empty weight.
  DeviceWeight upload_fused(std::vector<Staged> parts, std::initializer_list<DeviceWeight*> out,
                            const std::string& name);
  const vk::Buffer* place(std::vector<std::byte> bytes, const std::string& name);
  void count(const DeviceWeight& w, bool matrix);

  vk::Context& ctx_;
  loaders::LlamaConfig config_;
  loaders::RopeLayout rope_;
  ModelOptions options_;
  uint32_t n_ctx_ = 0;
  std::deque<vk::Buffer> buffers_;  // every weight's storage (a deque: addresses stay put)
  DeviceWeight token_embd_, output_norm_, output_;
  std::vector<DeviceLayer> layers_;
  vk::Buffer rope_table_;
  uint64_t weight_bytes_ = 0, file_weight_bytes_ = 0, parameters_ = 0;
  std::vector<std::pair<ops::WeightType, uint64_t>> type_bytes_;
};

}  // namespace bcvk::model
