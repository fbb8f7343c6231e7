#version 450
// copy: dst[i] = src[i] ^ xor_key over 32-bit words.  With xor_key = 0 it is the streaming-
// bandwidth probe of `bcvk bench`; with a key it lets tests tell a real copy from a no-op.
// Dispatch: runtime/ops/copy.cpp.  Grid-stride loop, so any word count fits in the
// device's maximum group count.
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer Src { uint src[]; };
layout(std430, binding = 1) writeonly buffer Dst { uint dst[]; };

layout(push_constant) uniform Push {
  uint word_count;
  uint xor_key;
} pc;

void main() {
  const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  for (uint i = gl_GlobalInvocationID.x; i < pc.word_count; i += stride) {
    dst[i] = src[i] ^ pc.xor_key;
  }
}
