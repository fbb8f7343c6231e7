// A llama-family model file opened for loading: its config and every weight by role, as views
// into the mapped file (quantized weights stay quantized until the runtime converts them).
// GGUF files and Hugging Face directories (config.json + *.safetensors) give the same structure.
#pragma once

#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "loaders/gguf/gguf_file.h"
#include "loaders/llama_config.h"
#include "loaders/safetensors.h"

namespace bcvk::loaders {

// Which elements RoPE rotates together within each head of Q and K.  llama.cpp's converter
// permutes the Q and K rows of Hugging Face weights so GGUF files rotate adjacent pairs
// (x[2i], x[2i+1]); Hugging Face weights rotate x[i] with x[i + head_dim/2].  Both rotate pair
// i by the angle pos * base^(-2i/rope_dims).
enum class RopeLayout { kAdjacentPairs, kHalfSplit };
const char* rope_layout_name(RopeLayout layout);

struct WeightTensor {
  std::string name;  // as the file names it
  gguf::GgmlType type = gguf::GgmlType::F32;
  uint64_t rows = 1;  // output features
  uint64_t cols = 0;  // input features, contiguous
  std::span<const std::byte> data;
  uint64_t elements() const { return rows * cols; }
  std::vector<float> to_f32() const;  // dequantized, row-major
};

// An MLP projection that `bcvk compress` stored block-circulant instead of dense (see
// docs/FORMATS.md, "Compressed models"), p = ceil(rows/B), q = ceil(cols/B): either the first
// column of every B x B block of the rows x cols matrix, [p][q][B] in f32 or f16
// (blk.N.ffn_X.circulant), or, in Q8_0, every block row's packed spectra, [p][q*B] in the
// order of compress::packed_spectra (blk.N.ffn_X.circulant_spectra; B even).
struct CirculantTensor {
  std::string name;  // blk.N.ffn_{gate,up,down}.circulant or .circulant_spectra
  gguf::GgmlType type = gguf::GgmlType::F32;
  uint32_t rows = 0, cols = 0, block = 0;  // block == 0: not stored this way
  bool spectra = false;                    // the packed spectra (Q8_0), not the columns
  std::span<const std::byte> data;
  bool present() const { return block != 0; }
  uint64_t parameters() const;
  std::vector<float> to_f32() const;  // the stored values: [p][q][B] columns or packed spectra
};

struct LlamaLayer {
  WeightTensor attn_norm, wq, wk, wv, wo;
  // A projection stored block-circulant has no dense weight here (data empty, shape kept).
  WeightTensor ffn_norm, gate, up, down;
  struct {
    CirculantTensor gate, up, down;
  } circulant;
};

// Names of the compressed format, shared by the reader here and bcvk compress's writer.
// `projection` is "gate", "up" or "down".
std::string circulant_tensor_name(uint32_t layer, std::string_view projection);
// The Q8_0 packed-spectra form's tensor name (blk.N.ffn_X.circulant_spectra).
std::string circulant_spectra_tensor_name(uint32_t layer, std::string_view projection);
// Metadata key of one circulant projection's `field` ("block_size", "rows", "cols"); the same
// keys for either form.
std::string circulant_key(uint32_t layer, std::string_view projection, std::string_view field);
// The block sizes a rows x cols circulant tensor may have (1..max(rows, cols)): one rule for the
// reader here and for everything that makes such tensors.  Empty when B is fine, else why not.
std::string circulant_block_problem(uint64_t rows, uint64_t cols, uint64_t B);

class LlamaModelFile {
 public:
  // A .gguf file, or a directory with config.json and model.safetensors (or shards listed in
  // model.safetensors.index.json).  Throws FormatError for inconsistent files.
  static LlamaModelFile open(const std::filesystem::path& path);
  static LlamaModelFile from_gguf(gguf::GgufFile file);

  const LlamaConfig& config() const { return config_; }
  RopeLayout rope_layout() const { return rope_; }
  const WeightTensor& token_embd() const { return token_embd_; }
  const WeightTensor& output_norm() const { return output_norm_; }
  const WeightTensor& output() const { return config_.tied_embeddings ? token_embd_ : output_; }
  const std::vector<LlamaLayer>& layers() const { return layers_; }
  const gguf::GgufFile* gguf() const { return gguf_.get(); }  // null for safetensors models
  uint64_t file_bytes() const { return file_bytes_; }
  // True when some MLP projection is stored block-circulant (a file written by bcvk compress).
  bool compressed() const;
  const std::string& source() const { return source_; }

 private:
  LlamaModelFile() = default;
  void validate_shapes() const;

  std::unique_ptr<gguf::GgufFile> gguf_;
  std::vector<std::unique_ptr<SafetensorsFile>> shards_;
  std::string source_;
  uint64_t file_bytes_ = 0;
  LlamaConfig config_;
  RopeLayout rope_ = RopeLayout::kAdjacentPairs;
  WeightTensor token_embd_, output_norm_, output_;
  std::vector<LlamaLayer> layers_;
};

// Reorders the rows of a Hugging Face Q or K weight ([n_heads * head_dim, cols], row-major f32)
// into llama.cpp's GGUF order: within each head, row 2i + j takes HF row j * head_dim/2 + i.
std::vector<float> permute_hf_to_gguf_rope(std::span<const float> w, uint32_t n_heads,
                                           uint64_t cols);

}  // namespace bcvk::loaders
