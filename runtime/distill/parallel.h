// A static split of [0, n) over the host threads (set_host_threads): each range is processed by
// one thread, so results do not depend on scheduling.  Small n runs inline.
#pragma once

#include <algorithm>
#include <cstddef>
#include <thread>
#include <vector>

#include "runtime/distill/gemm.h"

namespace bcvk::distill {

template <class F>
void parallel_for(size_t n, F&& body, size_t min_per_thread = 1) {
  const size_t threads = std::min<size_t>(host_threads(), std::max<size_t>(1, n / min_per_thread));
  if (threads <= 1) {
    if (n) body(size_t(0), n);
    return;
  }
  std::vector<std::thread> pool;
  const size_t chunk = (n + threads - 1) / threads;
  for (size_t t = 1; t < threads; ++t) {
    const size_t b = t * chunk, e = std::min(n, b + chunk);
    if (b < e) pool.emplace_back([&body, b, e] { body(b, e); });
  }
  body(size_t(0), std::min(n, chunk));
  for (auto& th : pool) th.join();
}

}  // namespace bcvk::distill
