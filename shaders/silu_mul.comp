#version 450
// silu_mul: H = silu(G) * U element-wise, the SiLU-gated MLP's nonlinearity.
// Dispatch: runtime/ops/silu_mul.cpp.
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer G { float g[]; };
layout(std430, binding = 1) readonly buffer U { float u[]; };
layout(std430, binding = 2) writeonly buffer H { float h[]; };

layout(push_constant) uniform Push {
  uint count;
} pc;

void main() {
  const uint i = gl_GlobalInvocationID.x;
  if (i >= pc.count) return;
  const float v = g[i];
  h[i] = v / (1.0 + exp(-v)) * u[i];
}
