#include "runtime/ops/rms_norm.h"

#include "runtime/ops/dispatch.h"

namespace bcvk::ops {

void rms_norm(vk::Context& ctx, vk::Stream& s, const RmsNormArgs& a) {
  vk::Kernel& k = ctx.kernel("rms_norm", {{0, kRowWorkgroup}}, sizeof(RmsNormPush));
  s.dispatch(k, {a.x, a.gain, a.y}, RmsNormPush{a.D, a.D, a.D, a.eps, a.x_offset}, {a.T, 1, 1},
             "rms_norm");
}

}  // namespace bcvk::ops
