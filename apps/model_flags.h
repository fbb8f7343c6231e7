// Flags shared by the subcommands that load a model, declared once.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <string>

#include "loaders/llama_model.h"
#include "runtime/model/mlp_patch.h"
#include "runtime/model/model.h"

namespace bcvk::apps {

struct ModelFlags {
  std::string model = "models/SmolLM2-135M-Instruct.Q4_1.gguf";
  std::string weights = "native";  // --weights native|f16|f32
  bool f16 = false;                // --f16: the same as --weights f16
  std::string kv = "f16";          // --kv f16|f32: what the KV cache holds
  uint32_t context = 0;            // -c/--ctx-size; 0: min(the model's context, kDefaultContext)
};
constexpr uint32_t kDefaultContext = 4096;

// The context (KV cache length) the flags ask for on this model; throws when above the model's.
uint32_t context_length(const ModelFlags& flags, const loaders::LlamaConfig& config);

void add_model_flags(CLI::App& cmd, ModelFlags& flags);

// The weight mode the flags ask for (--f16 wins over --weights).
model::WeightMode weight_mode(const ModelFlags& flags);

// The KV cache type the flags ask for.
ops::KvType kv_type(const ModelFlags& flags);

// Opens the file and uploads the model, with progress on stderr.
// `skip_mlp` (may be empty) names MLP projections not to upload (a patched-only student).
std::unique_ptr<model::Model> load_model(
    vk::Context& ctx, const loaders::LlamaModelFile& file, const ModelFlags& flags,
    std::function<bool(uint32_t, compress::Projection)> skip_mlp = {});

// For a compressed file (bcvk compress): the patch of the MLP projections it stores
// block-circulant, on the device, with a line on stderr; null for a dense file.
// Its weights follow the flags' weight mode (MlpPatch::stored_weights).
std::unique_ptr<model::MlpPatch> load_stored_patch(vk::Context& ctx,
                                                   const loaders::LlamaModelFile& file,
                                                   const ModelFlags& flags);

}  // namespace bcvk::apps
