#version 450
// rms_norm: Y[t, :] = X[t, :] / sqrt(mean(X[t, :]^2) + eps) * G, one workgroup per token.
// Dispatch: runtime/ops/rms_norm.cpp.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer G { float g[]; };
layout(std430, binding = 2) writeonly buffer Y { float y[]; };

layout(push_constant) uniform Push {
  uint D;
  uint x_stride;
  uint y_stride;
  float eps;
  uint x_offset;  // first float of token 0 in X
} pc;

shared float partial[gl_WorkGroupSize.x];

void main() {
  const uint t = gl_WorkGroupID.x;
  const uint lid = gl_LocalInvocationID.x;
  const uint WG = gl_WorkGroupSize.x;
  float ss = 0.0;
  for (uint i = lid; i < pc.D; i += WG) {
    const float v = x[pc.x_offset + t * pc.x_stride + i];
    ss += v * v;
  }
  partial[lid] = ss;
  barrier();
  for (uint stride = WG / 2; stride > 0; stride /= 2) {
    if (lid < stride) partial[lid] += partial[lid + stride];
    barrier();
  }
  const float scale = inversesqrt(partial[0] / float(pc.D) + pc.eps);
  for (uint i = lid; i < pc.D; i += WG) y[t * pc.y_stride + i] = x[pc.x_offset + t * pc.x_stride + i] * scale * g[i];
}
