#version 450
// affine: y[i] = scale * x[i] + shift, f32.  Dispatch: runtime/ops/affine.cpp.
// The smallest op that uses both a specialization constant (workgroup size) and push constants.
layout(local_size_x_id = 0) in;
// Elements per invocation, unrolled; a specialization constant so it is per device.
layout(constant_id = 1) const uint kItemsPerInvocation = 1;

layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) writeonly buffer Y { float y[]; };

layout(push_constant) uniform Push {
  uint count;
  float scale;
  float shift;
} pc;

void main() {
  const uint base = gl_GlobalInvocationID.x * kItemsPerInvocation;
  for (uint k = 0; k < kItemsPerInvocation; ++k) {
    const uint i = base + k;
    if (i < pc.count) y[i] = fma(pc.scale, x[i], pc.shift);
  }
}
