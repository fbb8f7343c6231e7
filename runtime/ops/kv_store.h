// kv_store: f32 rows of K and V into the KV cache (f16 or f32).  Shader: shaders/kv_store.comp.
// Test: tests/ops/kv_store_test.cpp.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "runtime/vk/context.h"
#include "runtime/vk/stream.h"

namespace bcvk::ops {

// What a KV cache holds: f16 halves its memory and the bytes attention reads per key; f32 keeps
// the values exactly as the projections computed them.
enum class KvType { kF16, kF32 };
std::string_view kv_type_name(KvType t);  // "f16", "f32"
std::optional<KvType> parse_kv_type(std::string_view name);
uint64_t kv_value_bytes(KvType t);  // 2 or 4

// Mirrors `Push` in shaders/kv_store.comp.
struct KvStorePush {
  uint32_t pairs, word_offset, row_pairs, src_stride, k_src, v_src;
};
static_assert(sizeof(KvStorePush) == 24);

// Rows of `width` K and V values (f32) into a cache: value i of the batch goes to cache value
// value_offset + i; it is read from k[k_src_offset + (i / width) * src_stride + i % width] (V
// alike).  Widths, strides and offsets even.
struct KvStoreArgs {
  vk::BufferView k, v;              // f32 sources (may be one buffer: a fused Q/K/V output)
  vk::BufferView k_cache, v_cache;  // f16 (two values per 32-bit word) or f32 caches
  uint32_t values = 0;              // even, a multiple of width
  uint64_t value_offset = 0;        // first cache value written (even)
  uint32_t width = 0;               // values per row; 0: `values` (one row)
  uint32_t src_stride = 0;          // floats between source rows; 0: width
  uint32_t k_src_offset = 0, v_src_offset = 0;  // first float of K and of V in their views
  KvType cache = KvType::kF16;
};
void kv_store(vk::Context& ctx, vk::Stream& stream, const KvStoreArgs& a,
              std::string_view label = "kv_store");

}  // namespace bcvk::ops
