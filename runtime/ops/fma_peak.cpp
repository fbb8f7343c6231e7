#include "runtime/ops/fma_peak.h"

#include "runtime/util/check.h"
#include "runtime/vk/error.h"

namespace bcvk::ops {

double fma_peak(vk::Context& ctx, vk::Stream& stream, const FmaPeakArgs& args) {
  const vk::BufferView& out = args.out;
  const uint32_t invocations = args.invocations;
  const uint32_t wg = ctx.tuning().elementwise_workgroup;
  if (invocations % wg != 0 || out.size < invocations * 16ull)
    util::internal_error("fma_peak needs a multiple of " + std::to_string(wg) +
                         " invocations and 16 bytes of output each");
  vk::Kernel& kernel =
      ctx.kernel("fma_peak", {{0, wg}, {1, kFmaPeakIterations}}, sizeof(FmaPeakPush));
  stream.dispatch(kernel, {out}, FmaPeakPush{args.a, args.b}, {invocations / wg, 1, 1}, "fma_peak");
  return double(invocations) * kFmaPeakIterations * 8 * 4 * 2;
}

}  // namespace bcvk::ops
