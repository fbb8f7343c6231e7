// Models compressed by `bcvk compress`: a GGUF in which every patched MLP projection is stored as
// its block-circulant parameters instead of the dense matrix; every other tensor and metadata
// value is the input's, unchanged.  Tensor names and metadata keys: docs/FORMATS.md
// ("Compressed models"); the reader is LlamaModelFile.  Test:
// tests/model/compressed_model_test.cpp.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "loaders/gguf/gguf_file.h"
#include "loaders/llama_model.h"
#include "runtime/compress/block_circulant.h"
#include "runtime/compress/patch_spec.h"

namespace bcvk::compress {

// One projection as the file stores it.
struct CirculantProjection {
  uint32_t layer = 0;
  Projection projection = Projection::kGate;
  BlockCirculant params;
};

// What a compressed file records about how it was made (metadata bcvk.compress.*).
struct CompressionRecord {
  std::string bcvk_version;
  std::string patch;              // the --patch text as given
  std::string patch_description;  // PatchSpec::describe()
  // --patch auto: the choice as JSON (the resolved patch text, its summed sensitivity, the
  // parameter ratio reached, the block sizes and tokens it was measured with).
  std::string patch_choice;
  std::string calibration = "none";  // none | ls | kd | ls+kd
  std::string calibration_sha256;    // of the calibration prompt file (not none)
  uint64_t calibration_prompts = 0;  // prompts used (not none)
  double lambda_rel = 0;             // ridge (ls, ls+kd)
  // kd, ls+kd: the distillation's settings and outcome as JSON (temperature, steps, lr, schedule,
  // tokens per step, seed, held-out share, best step and validation loss).
  std::string calibration_settings;
  std::string source;  // the input file's name
  std::string source_sha256;
  // Of the circulant tensors: F32 or F16 (the columns), or Q8_0 (each block row's packed
  // spectra, the fused kernel's 8-bit weights).
  gguf::GgmlType dtype = gguf::GgmlType::F32;
};

struct CompressedFileStats {
  uint64_t input_bytes = 0, output_bytes = 0;
  uint64_t dense_bytes_dropped = 0;    // the replaced dense tensors' bytes in the input
  uint64_t circulant_bytes_added = 0;  // the circulant tensors' bytes in the output
  uint64_t projections_replaced = 0;
};

// Why a rows x cols projection at block size B cannot be stored as Q8_0 (packed spectra need an
// even B, and a block row's q*B values must fill whole Q8_0 blocks of 32), or empty when it can.
std::string q8_problem(uint32_t rows, uint32_t cols, uint32_t B);

// Writes `in` with `projections` in place of their dense tensors (each at the dense tensor's
// position in the tensor list), atomically.  Throws std::invalid_argument when `out` is `in`
// itself, when `in` is already compressed, or when a projection's shape does not match the
// dense tensor it replaces; std::runtime_error on I/O errors (no output file is left behind).
CompressedFileStats write_compressed_gguf(const gguf::GgufFile& in,
                                          std::span<const CirculantProjection> projections,
                                          const CompressionRecord& record,
                                          const std::filesystem::path& out);

// The projections a compressed model file stores, with f32 parameters (Q8_0 spectra turned back
// into columns, in double), in layer order.
std::vector<CirculantProjection> stored_projections(const loaders::LlamaModelFile& file);

// The record of a compressed file, or nullopt for a file bcvk compress did not write.
std::optional<CompressionRecord> read_compression_record(const gguf::GgufFile& file);

}  // namespace bcvk::compress
