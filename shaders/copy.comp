#version 450
// copy: dst = src ^ xor_key over 32-bit words, moved as 16-byte units.  With xor_key = 0 it is
// the streaming-bandwidth probe of `bcvk bench`; with a key, tests can tell a copy from a no-op.
// Dispatch: runtime/ops/copy.cpp.  A grid-stride loop lets a few hundred workgroups cover any
// size: on CPU devices (lavapipe) per-workgroup overhead dominates short invocations.
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer Src { uvec4 src[]; };
layout(std430, binding = 1) writeonly buffer Dst { uvec4 dst[]; };

layout(push_constant) uniform Push {
  uint word_count;  // words to write; the last unit may be partial
  uint xor_key;
} pc;

void main() {
  const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  const uint full_units = pc.word_count / 4;
  for (uint i = gl_GlobalInvocationID.x; i < full_units; i += stride) {
    dst[i] = src[i] ^ uvec4(pc.xor_key);
  }
  // The partial last unit, word by word, so nothing past word_count is written.
  const uint tail = pc.word_count % 4;
  if (gl_GlobalInvocationID.x == 0 && tail != 0) {
    const uvec4 v = src[full_units] ^ uvec4(pc.xor_key);
    dst[full_units].x = v.x;
    if (tail > 1) dst[full_units].y = v.y;
    if (tail > 2) dst[full_units].z = v.z;
  }
}
