// Tiny random llama models for tests, written as GGUF (llama.cpp's layout: Q/K rows permuted for
// adjacent-pair RoPE) and as a Hugging Face directory (config.json + model.safetensors).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "loaders/gguf/ggml_type.h"

namespace bcvk::test {

struct TinyConfig {
  uint32_t n_layers = 2, n_embd = 64, n_ff = 96, n_heads = 4, n_kv_heads = 2, n_vocab = 80,
           n_ctx = 64;
  float rope_base = 10000.0f, rms_eps = 1e-5f;
  bool tied = true;
  uint64_t seed = 1;
  std::string name = "bcvk tiny test model";  // general.name
  bool tokenizer = true;                      // write the tokenizer.ggml.* keys
  std::string omit_tensor;                    // a GGUF tensor name to leave out (broken files)
};

// Weights in Hugging Face names and layout ([out, in] row-major), f32.
struct TinyModel {
  TinyConfig config;
  std::map<std::string, std::vector<float>> hf;  // name -> values
  std::map<std::string, std::vector<uint64_t>> shapes;

  static TinyModel random(const TinyConfig& config);
  // Random tiny MLPs barely move the residual; scaled up (gate and up x2, down x4), replacing one
  // matters (KL ~0.1-1), which is what the distillation tests need.
  static TinyModel random_with_strong_mlps(const TinyConfig& config);
  // GGUF with weights stored as `type` (F32, F16 or Q8_0; norms stay F32).
  void write_gguf(const std::filesystem::path& path,
                  gguf::GgmlType type = gguf::GgmlType::F32) const;
  // config.json + model.safetensors in `dir`; dtype "F32", "F16" or "BF16".
  void write_hf(const std::filesystem::path& dir, const std::string& dtype = "F32") const;
};

// Rows of a HF Q/K weight reordered as llama.cpp's converter does: view the rows of each head as
// [2][head_dim/2], swap the two axes.  Written here independently of the loader's version.
std::vector<float> hf_to_gguf_rows(const std::vector<float>& w, uint32_t n_heads, uint64_t cols);

}  // namespace bcvk::test
