// Hyperparameters of a llama-family model (Llama, SmolLM, TinyLlama), read from GGUF metadata.
#pragma once

#include <cstdint>
#include <string>

#include "loaders/gguf/gguf_file.h"

namespace bcvk::loaders {

struct LlamaConfig {
  std::string architecture;  // general.architecture, "llama"
  std::string name;          // general.name, if present
  uint32_t n_layers = 0;     // block_count
  uint32_t n_embd = 0;       // embedding_length
  uint32_t n_ff = 0;         // feed_forward_length
  uint32_t n_heads = 0;
  uint32_t n_kv_heads = 0;
  uint32_t head_dim = 0;   // n_embd / n_heads
  uint32_t rope_dims = 0;  // rope.dimension_count (defaults to head_dim)
  uint32_t n_ctx = 0;      // context_length
  uint32_t n_vocab = 0;    // from the token list (or vocab_size)
  float rope_base = 10000.0f;
  float rms_eps = 1e-5f;
  bool tied_embeddings = false;  // no output.weight: token_embd serves as the LM head

  // Validates shapes against each other and against the tensors present; throws FormatError.
  static LlamaConfig from_gguf(const gguf::GgufFile& file);
};

}  // namespace bcvk::loaders
