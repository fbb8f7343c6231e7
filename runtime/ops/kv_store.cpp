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
  if (a.values % 2 || a.value_offset % 2 || a.values == 0)
    util::internal_error("kv_store needs an even, non-zero value count and offset");
  const uint64_t in = uint64_t(a.values) * 4, out = (a.value_offset + a.values) * 2;
  if (a.k.size < in || a.v.size < in || a.k_cache.size < out || a.v_cache.size < out ||
      a.value_offset / 2 > std::numeric_limits<uint32_t>::max())
    util::internal_error("kv_store views too small");
  const uint32_t wg = ctx.tuning().elementwise_workgroup, pairs = a.values / 2;
  vk::Kernel& k = ctx.kernel("kv_store", {{0, wg}}, sizeof(KvStorePush));
  stream.dispatch(k, {a.k, a.v, a.k_cache, a.v_cache},
                  KvStorePush{pairs, static_cast<uint32_t>(a.value_offset / 2)},
                  {(pairs + wg - 1) / wg, 1, 1}, label);
}

}  // namespace bcvk::ops
