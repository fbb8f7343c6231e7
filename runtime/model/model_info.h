// What `bcvk info` reports about a model file: its size, parameters and tensor types, the
// tokenizer, whether generate could run it (the same validation the loaders do before a run) and,
// for a file bcvk compress wrote, what it stores block-circulant and how it was made.  The app
// prints it; the JSON shape lives here.  Test: tests/model/model_info_test.cpp.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "loaders/gguf/gguf_file.h"
#include "loaders/llama_config.h"
#include "loaders/llama_model.h"
#include "runtime/compress/compressed_gguf.h"

namespace bcvk::model {

struct CompressionInfo {
  uint64_t projections = 0;                           // MLP projections stored block-circulant
  uint64_t parameters = 0;                            // their parameters
  std::string block_sizes;                            // "B=16 x4, B=64 x12"
  std::optional<compress::CompressionRecord> record;  // absent: not written by bcvk compress
};

struct GgufInfo {
  loaders::LlamaConfig config;
  uint64_t parameters = 0, tensor_bytes = 0;
  std::map<std::string, uint64_t> tensor_types;  // type name -> tensors
  std::string tokenizer_model, tokenizer_pre;    // "" when absent
  bool chat_template = false;
  // What keeps generate from running the file (a missing tensor, a broken tokenizer, ...); empty
  // when it is ready to run.
  std::vector<std::string> problems;
  std::optional<CompressionInfo> compression;
};

// Reads the header's facts and runs the loaders' whole-model and tokenizer validation on `path`
// (problems are collected, not thrown).  Throws what GgufFile/LlamaConfig throw when the file is
// not a readable llama GGUF at all.
GgufInfo inspect_gguf(const gguf::GgufFile& file, const std::string& path);

// `bcvk info --json` of a GGUF file; metadata arrays in full with `full_metadata`, else their
// first 8 values.
nlohmann::json info_json(const gguf::GgufFile& file, const GgufInfo& info, const std::string& path,
                         bool full_metadata);

// `bcvk info --json` of a Hugging Face directory (config.json + safetensors).
nlohmann::json info_json(const loaders::LlamaModelFile& model, const std::string& path);

// Every weight tensor of an open model in role order (embeddings, final norm, output head when
// separate, then each layer's nine), and their parameter count.
std::vector<const loaders::WeightTensor*> weight_tensors(const loaders::LlamaModelFile& model);

}  // namespace bcvk::model
