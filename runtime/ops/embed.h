// embed: y[t, :] = table[ids[t], :].  Shaders: shaders/embed.comp (f32, f16),
// shaders/embed_q.comp (GGUF block types).  Tests: tests/ops/embed_test.cpp,
// tests/ops/embed_q_test.cpp.
#pragma once

#include <cstdint>

#include "runtime/ops/linear.h"
#include "runtime/vk/context.h"
#include "runtime/vk/stream.h"

namespace bcvk::ops {

// Mirrors `Push` in shaders/embed.comp.
struct EmbedPush {
  uint32_t D, T, V, row0, rows;
};
static_assert(sizeof(EmbedPush) == 20);
// Mirrors `Push` in shaders/embed_q.comp (block types).
struct EmbedQPush {
  uint32_t D, T, V, row_words, row0, rows;
};
static_assert(sizeof(EmbedQPush) == 24);

struct EmbedArgs {
  vk::BufferView table;                // [V, D] in the device layout of `type`
  WeightType type = WeightType::kF32;  // of the table
  uint32_t V = 0, D = 0;
  vk::BufferView ids;  // [T] uint32; ids >= V give zero rows
  uint32_t T = 0;
  vk::BufferView y;  // [T, D] f32
};
// A table larger than one storage-buffer binding is gathered in row chunks, one dispatch each.
void embed(vk::Context& ctx, vk::Stream& s, const EmbedArgs& a);

}  // namespace bcvk::ops
