// ggml tensor types as GGUF stores them: id, name, and the block that quantization runs in.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace bcvk::gguf {

enum class GgmlType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ4_NL = 20,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  BF16 = 30,
};

struct GgmlTypeTraits {
  GgmlType type;
  std::string_view name;
  uint32_t block_elements;  // values per block, along dims[0]
  uint32_t block_bytes;
};

// Traits of type id `id`, or nullopt for ids bcvk does not know (it then refuses the file).
std::optional<GgmlTypeTraits> ggml_type_traits(uint32_t id);
std::string_view ggml_type_name(GgmlType type);

}  // namespace bcvk::gguf
