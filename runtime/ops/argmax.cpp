#include "runtime/ops/argmax.h"

#include "runtime/ops/dispatch.h"

namespace bcvk::ops {

void argmax(vk::Context& ctx, vk::Stream& s, const ArgmaxArgs& a) {
  vk::Kernel& k = ctx.kernel("argmax", {{0, kRowWorkgroup}}, sizeof(ArgmaxPush));
  s.dispatch(k, {a.logits, a.result}, ArgmaxPush{a.n, a.stride}, {a.rows, 1, 1}, "argmax");
}

}  // namespace bcvk::ops
