#include "runtime/ops/weight_layout.h"

#include <array>
#include <cstring>
#include <stdexcept>
#include <string>

namespace bcvk::ops {

namespace {

struct TypeRow {
  WeightType type;
  std::string_view name;
  gguf::GgmlType ggml;
  bool split_d;       // the f16 scale d moves to the row head
  uint32_t d_offset;  // byte offset of d inside a file block (split types)
};

constexpr std::array<TypeRow, 13> kTypes{{
    {WeightType::kF32, "f32", gguf::GgmlType::F32, false, 0},
    {WeightType::kF16, "f16", gguf::GgmlType::F16, false, 0},
    {WeightType::kBF16, "bf16", gguf::GgmlType::BF16, false, 0},
    {WeightType::kQ4_0, "q4_0", gguf::GgmlType::Q4_0, true, 0},
    {WeightType::kQ4_1, "q4_1", gguf::GgmlType::Q4_1, false, 0},
    {WeightType::kQ5_0, "q5_0", gguf::GgmlType::Q5_0, true, 0},
    {WeightType::kQ5_1, "q5_1", gguf::GgmlType::Q5_1, false, 0},
    {WeightType::kQ8_0, "q8_0", gguf::GgmlType::Q8_0, true, 0},
    {WeightType::kQ2_K, "q2_k", gguf::GgmlType::Q2_K, false, 0},
    {WeightType::kQ3_K, "q3_k", gguf::GgmlType::Q3_K, true, 108},
    {WeightType::kQ4_K, "q4_k", gguf::GgmlType::Q4_K, false, 0},
    {WeightType::kQ5_K, "q5_k", gguf::GgmlType::Q5_K, false, 0},
    {WeightType::kQ6_K, "q6_k", gguf::GgmlType::Q6_K, true, 208},
}};
constexpr std::array<WeightType, 13> kAll = {
    WeightType::kF32,  WeightType::kF16,  WeightType::kBF16, WeightType::kQ4_0, WeightType::kQ4_1,
    WeightType::kQ5_0, WeightType::kQ5_1, WeightType::kQ8_0, WeightType::kQ2_K, WeightType::kQ3_K,
    WeightType::kQ4_K, WeightType::kQ5_K, WeightType::kQ6_K};

const TypeRow& row_of(WeightType t) {
  return kTypes[static_cast<size_t>(t)];
}

gguf::GgmlTypeTraits traits(WeightType t) {
  return *gguf::ggml_type_traits(static_cast<uint32_t>(row_of(t).ggml));
}

}  // namespace

std::span<const WeightType> all_weight_types() {
  return kAll;
}
std::string_view weight_type_name(WeightType t) {
  return row_of(t).name;
}
bool is_block_type(WeightType t) {
  return t != WeightType::kF32 && t != WeightType::kF16;
}
gguf::GgmlType ggml_type_of(WeightType t) {
  return row_of(t).ggml;
}

std::optional<WeightType> native_weight_type(gguf::GgmlType type) {
  for (const TypeRow& r : kTypes)
    if (r.ggml == type) return r.type;
  return std::nullopt;
}

uint32_t row_granule(WeightType t) {
  if (t == WeightType::kF32 || t == WeightType::kF16) return 4;  // linear.comp's vec4 loads
  if (t == WeightType::kBF16) return 32;
  return traits(t).block_elements;
}

bool holds_row(WeightType t, uint64_t cols) {
  return cols > 0 && cols % row_granule(t) == 0;
}

uint64_t device_row_bytes(WeightType t, uint64_t cols) {
  if (!holds_row(t, cols))
    throw std::invalid_argument("a row of " + std::to_string(cols) + " values cannot be held as " +
                                std::string(weight_type_name(t)) + " (needs a multiple of " +
                                std::to_string(row_granule(t)) + ")");
  const auto tr = traits(t);
  const uint64_t blocks = cols / tr.block_elements;
  if (!row_of(t).split_d) return blocks * tr.block_bytes;
  return (blocks + 1) / 2 * 4 + blocks * (tr.block_bytes - 2);
}

std::vector<std::byte> pack_rows(WeightType t, std::span<const std::byte> file_bytes, uint64_t rows,
                                 uint64_t cols) {
  const auto tr = traits(t);
  const uint64_t out_row = device_row_bytes(t, cols);
  const uint64_t blocks = cols / tr.block_elements;
  const uint64_t in_row = blocks * tr.block_bytes;
  if (file_bytes.size() != rows * in_row)
    throw std::invalid_argument("pack_rows: " + std::to_string(file_bytes.size()) +
                                " bytes are not " + std::to_string(rows) + " rows of " +
                                std::to_string(cols) + " " + std::string(weight_type_name(t)));
  std::vector<std::byte> out(rows * out_row);
  const TypeRow& info = row_of(t);
  if (!info.split_d) {
    std::memcpy(out.data(), file_bytes.data(), file_bytes.size());
    return out;
  }
  const uint64_t head = (blocks + 1) / 2 * 4, body = tr.block_bytes - 2;
  for (uint64_t r = 0; r < rows; ++r) {
    const std::byte* src = file_bytes.data() + r * in_row;
    std::byte* dst = out.data() + r * out_row;
    for (uint64_t b = 0; b < blocks; ++b) {
      const std::byte* blk = src + b * tr.block_bytes;
      std::memcpy(dst + 2 * b, blk + info.d_offset, 2);
      std::byte* body_dst = dst + head + b * body;
      // The block minus its two d bytes, in order.
      std::memcpy(body_dst, blk, info.d_offset);
      std::memcpy(body_dst + info.d_offset, blk + info.d_offset + 2,
                  tr.block_bytes - info.d_offset - 2);
    }
  }
  return out;
}

}  // namespace bcvk::ops
