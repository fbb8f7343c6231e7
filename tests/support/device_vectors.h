// Small helpers for op tests: host vectors to device buffers and back.
#pragma once

#include <span>
#include <vector>

#include "runtime/vk/context.h"
#include "runtime/vk/transfer.h"

namespace bcvk::test {

template <class T>
vk::Buffer to_device(vk::Context& ctx, const std::vector<T>& v) {
  vk::Buffer b(ctx.allocator(), std::max<size_t>(v.size(), 1) * sizeof(T));
  if (!v.empty()) vk::upload(ctx.allocator(), b, std::span<const T>(v));
  return b;
}

template <class T>
std::vector<T> from_device(vk::Context& ctx, const vk::Buffer& b, size_t n) {
  std::vector<T> v(n);
  vk::download(ctx.allocator(), b, std::span<T>(v));
  return v;
}

}  // namespace bcvk::test
