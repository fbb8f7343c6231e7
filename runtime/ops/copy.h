// copy: dst = src ^ xor_key, 32-bit words.  Shader: shaders/copy.comp.  Test:
// tests/ops/copy_test.cpp.
#pragma once

#include <cstdint>
#include <string_view>

#include "runtime/vk/context.h"
#include "runtime/vk/stream.h"

namespace bcvk::ops {

// Mirrors `Push` in shaders/copy.comp.
struct CopyPush {
  uint32_t word_count;
  uint32_t xor_key;
  uint32_t last_word_mask;  // the bytes of the last word that belong to the view
};
static_assert(sizeof(CopyPush) == 12);

// Copies src.size bytes (a partial last word is merged into dst, so nothing past the view
// changes).  Views larger than the device's largest storage-buffer
// binding are split into several dispatches over sub-ranges.  Both offsets must be multiples
// of ctx.tuning().binding_alignment.
struct CopyArgs {
  vk::BufferView src, dst;  // of one size
  uint32_t xor_key = 0;     // every word is XORed with it (0: a plain copy)
};
void copy(vk::Context& ctx, vk::Stream& stream, const CopyArgs& a, std::string_view label = "copy");

}  // namespace bcvk::ops
