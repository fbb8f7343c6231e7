// A model's hyperparameters as JSON: one shape for every place that reports them (bcvk info for
// GGUF files and Hugging Face directories alike).
#pragma once

#include <nlohmann/json.hpp>

#include "loaders/llama_config.h"

namespace bcvk::model {

// n_layers, n_embd, n_ff, n_heads, n_kv_heads, head_dim, rope_dims, n_ctx, n_vocab, rope_base,
// rms_eps, tied_embeddings.
nlohmann::json hyperparameters_json(const loaders::LlamaConfig& c);

}  // namespace bcvk::model
