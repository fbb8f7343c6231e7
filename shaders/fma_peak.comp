#version 450
// fma_peak: the device's arithmetic roofline.  Eight independent vec4 FMA chains per invocation
// keep every lane busy without memory traffic; a and b arrive as push constants so the compiler
// cannot fold the loop.  FLOPs = invocations * kIterations * 8 chains * 4 lanes * 2.
// Dispatch: runtime/ops/fma_peak.cpp.
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint kIterations = 512;

layout(std430, binding = 0) writeonly buffer Out { vec4 result[]; };

layout(push_constant) uniform Push {
  float a;
  float b;
} pc;

void main() {
  const vec4 a = vec4(pc.a), b = vec4(pc.b);
  vec4 x0 = vec4(float(gl_GlobalInvocationID.x) * 1e-7);
  vec4 x1 = x0 + 0.1, x2 = x0 + 0.2, x3 = x0 + 0.3, x4 = x0 + 0.4, x5 = x0 + 0.5, x6 = x0 + 0.6,
       x7 = x0 + 0.7;
  for (uint i = 0; i < kIterations; ++i) {
    x0 = fma(x0, a, b); x1 = fma(x1, a, b); x2 = fma(x2, a, b); x3 = fma(x3, a, b);
    x4 = fma(x4, a, b); x5 = fma(x5, a, b); x6 = fma(x6, a, b); x7 = fma(x7, a, b);
  }
  result[gl_GlobalInvocationID.x] = x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7;
}
