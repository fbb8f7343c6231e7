// Launch-size helpers shared by the ops' dispatch code.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>

#include "runtime/util/check.h"
#include "runtime/vk/context.h"
#include "runtime/vk/error.h"

namespace bcvk::ops {

// Workgroups covering n invocations of size wg (at least one); more than the device allows in x
// is a bug in the caller's chunking.
inline uint32_t groups_for(uint64_t n, uint32_t wg, const vk::Context& ctx) {
  const uint64_t g = (n + wg - 1) / wg;
  if (g > ctx.tuning().max_groups_x)
    util::internal_error("dispatch of " + std::to_string(g) + " groups");
  return static_cast<uint32_t>(std::max<uint64_t>(g, 1));
}

// Reductions over a row use a power-of-two workgroup (the tree reduction halves it).
constexpr uint32_t kRowWorkgroup = 64;

}  // namespace bcvk::ops
