// kv_store: f32 rows of K and V into an f16 KV cache.  Shader: shaders/kv_store.comp.  Test:
// tests/ops/kv_store_test.cpp.
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
  uint32_t pairs, word_offset;
};
static_assert(sizeof(KvStorePush) == 8);

struct KvStoreArgs {
  vk::BufferView k, v;              // `values` f32 each, contiguous
  vk::BufferView k_cache, v_cache;  // f16 caches, two values per 32-bit word
  uint32_t values = 0;              // even
  uint64_t value_offset = 0;        // first cache value written (even)
};
void kv_store(vk::Context& ctx, vk::Stream& stream, const KvStoreArgs& a,
              std::string_view label = "kv_store");

}  // namespace bcvk::ops
