#include "runtime/ops/kv_store.h"

#include <limits>

#include "runtime/util/check.h"
#include "runtime/vk/error.h"

namespace bcvk::ops {

std::string_view kv_type_name(KvType t) {
  return t == KvType::kF16 ? "f16" : "f32";
}

std::optional<KvType> parse_kv_type(std::string_view name) {
  if (name == "f16") return KvType::kF16;
  if (name == "f32") return KvType::kF32;
  return std::nullopt;
}

uint64_t kv_value_bytes(KvType t) {
  return t == KvType::kF16 ? 2 : 4;
}

void kv_store(vk::Context& ctx, vk::Stream& stream, const KvStoreArgs& a, std::string_view label) {
  const uint32_t width = a.width ? a.width : a.values;
  const uint32_t stride = a.src_stride ? a.src_stride : width;
  if (a.values % 2 || a.value_offset % 2 || a.values == 0 || width % 2 || a.values % width ||
      stride % 2 || stride < width || a.k_src_offset % 2 || a.v_src_offset % 2)
    util::internal_error(
        "kv_store needs even, non-zero counts, widths, strides and offsets (rows of width)");
  const uint64_t rows = a.values / width, vb = kv_value_bytes(a.cache);
  const uint64_t span = ((rows - 1) * stride + width) * 4;
  const uint64_t out = (a.value_offset + a.values) * vb;
  if (a.k.size < a.k_src_offset * 4ull + span || a.v.size < a.v_src_offset * 4ull + span ||
      a.k_cache.size < out || a.v_cache.size < out ||
      a.value_offset / 2 > std::numeric_limits<uint32_t>::max())
    util::internal_error("kv_store views too small");
  const uint32_t wg = ctx.tuning().elementwise_workgroup, pairs = a.values / 2;
  vk::Kernel& k = ctx.kernel(a.cache == KvType::kF16 ? "kv_store" : "kv_store_f32", {{0, wg}},
                             sizeof(KvStorePush));
  stream.dispatch(k, {a.k, a.v, a.k_cache, a.v_cache},
                  KvStorePush{pairs, static_cast<uint32_t>(a.value_offset / 2), width / 2,
                              stride / 2, a.k_src_offset / 2, a.v_src_offset / 2},
                  {(pairs + wg - 1) / wg, 1, 1}, label);
}

}  // namespace bcvk::ops
