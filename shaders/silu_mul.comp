#version 450
// silu_mul: H = silu(G) * U element-wise, the SiLU-gated MLP's nonlinearity; G and U may be
// strided rows of one buffer (a fused gate/up projection's [gate | up] output).
// Dispatch: runtime/ops/silu_mul.cpp.
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer G { float g[]; };
layout(std430, binding = 1) readonly buffer U { float u[]; };
layout(std430, binding = 2) writeonly buffer H { float h[]; };

layout(push_constant) uniform Push {
  uint count;      // outputs: T rows of `width`
  uint width;      // outputs per row
  uint in_stride;  // floats between rows of G and of U
  uint u_offset;   // first float of U in its binding (G and U may be one buffer, [gate | up] rows)
} pc;

void main() {
  const uint i = gl_GlobalInvocationID.x;
  if (i >= pc.count) return;
  const uint j = (i / pc.width) * pc.in_stride + i % pc.width;
  const float v = g[j];
  h[i] = v / (1.0 + exp(-v)) * u[pc.u_offset + j];
}
