#include "runtime/ops/rms_norm.h"

#include <algorithm>

#include "runtime/ops/dispatch.h"

namespace bcvk::ops {

void rms_norm(vk::Context& ctx, vk::Stream& s, const RmsNormArgs& a) {
  // One subgroup per token where the device has subgroup sums (shaders/rms_norm.comp).
  const auto& info = ctx.info();
  const bool sub = info.subgroup_arithmetic && !a.shared_reduction;
  const uint32_t wg = a.workgroup                 ? a.workgroup
                      : sub && info.subgroup_size ? std::min(info.subgroup_size, kRowWorkgroup)
                                                  : kRowWorkgroup;
  vk::Kernel& k =
      ctx.kernel(sub ? "rms_norm_subgroup" : "rms_norm", {{0, wg}}, sizeof(RmsNormPush));
  s.dispatch(k, {a.x, a.gain, a.y}, RmsNormPush{a.D, a.D, a.D, a.eps, a.x_offset}, {a.T, 1, 1},
             "rms_norm");
}

}  // namespace bcvk::ops
