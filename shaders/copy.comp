#version 450
// copy: dst = src ^ xor_key over 32-bit words, moved as 16-byte units.  With xor_key = 0 it is
// the streaming-bandwidth probe of `bcvk bench`; with a key, tests can tell a copy from a no-op.
// Dispatch: runtime/ops/copy.cpp.  A grid-stride loop lets a few hundred workgroups cover any
// size: on CPU devices (lavapipe) per-workgroup overhead dominates short invocations.
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer Src { uvec4 src[]; };
layout(std430, binding = 1) buffer Dst { uvec4 dst[]; };  // read: a partial last word is merged
layout(push_constant) uniform Push {
  uint word_count;      // words to write; the last one may be partial
  uint xor_key;
  uint last_word_mask;  // bytes of the last word inside the view (0xffffffff: all)
} pc;

void main() {
  const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  const bool partial_last = pc.last_word_mask != 0xffffffffu;
  const uint full_units = (pc.word_count - (partial_last ? 1u : 0u)) / 4;
  for (uint i = gl_GlobalInvocationID.x; i < full_units; i += stride) {
    dst[i] = src[i] ^ uvec4(pc.xor_key);
  }
  // The words after the last whole unit, one by one, so nothing past the view is written; the
  // last word keeps dst's bytes outside the view.
  if (gl_GlobalInvocationID.x == 0) {
    for (uint w = full_units * 4; w < pc.word_count; ++w) {
      uint v = src[w / 4][w % 4] ^ pc.xor_key;
      if (w + 1 == pc.word_count && partial_last)
        v = (dst[w / 4][w % 4] & ~pc.last_word_mask) | (v & pc.last_word_mask);
      dst[w / 4][w % 4] = v;
    }
  }
}
