// Weight types on the device and the row layout bcvk uploads them in (docs/FORMATS.md, "Device
// weight layout").  F32 and F16 rows are plain arrays.  GGUF block types keep the file's bytes,
// except that types whose block size is 2 mod 4 bytes (Q4_0, Q5_0, Q8_0, Q3_K, Q6_K) have each
// block's f16 scale moved to a head of packed halfs at the start of the row, so that every other
// field is 4-byte aligned for the shaders' 32-bit loads.  A row then holds the same bytes as in
// the file, plus 2 bytes of padding when its block count is odd.  Decoding: shaders/quant.glsl.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "loaders/gguf/ggml_type.h"

namespace bcvk::ops {

enum class WeightType {
  kF32,
  kF16,
  kBF16,
  kQ4_0,
  kQ4_1,
  kQ5_0,
  kQ5_1,
  kQ8_0,
  kQ2_K,
  kQ3_K,
  kQ4_K,
  kQ5_K,
  kQ6_K,
};

// Every type, in declaration order (tests iterate over it).
std::span<const WeightType> all_weight_types();

// Lower-case name as in shader variants and JSON ("f32", "q4_1", "q6_k").
std::string_view weight_type_name(WeightType t);

// True for the GGUF block types (decoded by shaders/quant.glsl), false for f32 and f16.
bool is_block_type(WeightType t);

// The device type that holds a GGUF tensor of `type` natively, or nullopt (e.g. Q8_1, IQ4_NL).
std::optional<WeightType> native_weight_type(gguf::GgmlType type);
gguf::GgmlType ggml_type_of(WeightType t);

// Values per block along a row (1 for f32/f16, 32 for BF16 rows as the shaders read them, 32 or
// 256 for block types).  A row of K values can be held natively when K is a multiple of it.
uint32_t row_granule(WeightType t);
bool holds_row(WeightType t, uint64_t cols);

// Bytes of one device row of `cols` values (a multiple of 4).  Throws std::invalid_argument when
// !holds_row(t, cols).
uint64_t device_row_bytes(WeightType t, uint64_t cols);

// Rearranges `rows` rows of `cols` values in GGUF type `t` (the file's bytes, rows contiguous)
// into the device layout: rows * device_row_bytes(t, cols) bytes.  F32/F16/BF16 are copied.
std::vector<std::byte> pack_rows(WeightType t, std::span<const std::byte> file_bytes, uint64_t rows,
                                 uint64_t cols);

}  // namespace bcvk::ops
