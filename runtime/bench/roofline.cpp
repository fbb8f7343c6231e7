#include "runtime/bench/roofline.h"

#include <algorithm>

#include "runtime/ops/copy.h"
#include "runtime/ops/fma_peak.h"
#include "runtime/util/statistics.h"
#include "runtime/vk/stream.h"

namespace bcvk::bench {

double Roofline::bound_gflops(double flop_per_byte) const {
  return std::min(fma_gflops, bandwidth_gbs * flop_per_byte);
}

Roofline measure_roofline(vk::Context& ctx, int reps, vk::ProfileTable* profile) {
  Roofline r;
  // 64 MiB each way: far beyond any cache, and within one storage-buffer binding everywhere.
  r.copy_bytes = std::min<uint64_t>(64ull << 20, ctx.tuning().max_binding_bytes);
  const uint32_t wg = ctx.tuning().elementwise_workgroup;
  r.fma_invocations = std::max<uint32_t>(1, std::min<uint32_t>((1u << 16) / wg, 32768)) * wg;

  vk::Buffer src(ctx.allocator(), r.copy_bytes, vk::MemoryUse::kDevice, "roofline copy source");
  vk::Buffer dst(ctx.allocator(), r.copy_bytes, vk::MemoryUse::kDevice,
                 "roofline copy destination");
  vk::Buffer out(ctx.allocator(), r.fma_invocations * 16ull, vk::MemoryUse::kDevice,
                 "roofline fma output");
  vk::Stream stream(ctx.device(), /*profile=*/true);

  for (int rep = -1; rep < reps; ++rep) {  // rep -1 warms up (pipeline JIT, page faults)
    ops::copy(ctx, stream, {.src = src.view(), .dst = dst.view()}, "roofline_copy");
    stream.barrier();
    const double flops =
        ops::fma_peak(ctx, stream, {.out = out.view(), .invocations = r.fma_invocations});
    stream.submit_and_wait();
    const auto& t = stream.timings();
    if (rep < 0 || t.size() != 2) continue;
    r.bandwidth_samples_gbs.push_back(2.0 * r.copy_bytes / (t[0].ms() * 1e6));
    r.fma_samples_gflops.push_back(flops / (t[1].ms() * 1e6));
    if (profile) profile->add(t);
  }
  r.bandwidth_gbs = util::median(r.bandwidth_samples_gbs);
  r.fma_gflops = util::median(r.fma_samples_gflops);
  return r;
}

}  // namespace bcvk::bench
