// Which MLP projections of which layers become block-circulant, and at which block size:
// the value of `--patch`.  Test: tests/compress/patch_spec_test.cpp.
//
//   GROUP[;GROUP...]  each GROUP is LAYERS[:PROJECTIONS][:B]
//   LAYERS       all | firstN | lastN | a comma list of indices and ranges (0,3,5-9)
//   PROJECTIONS  all | a comma list of gate, up, down, each optionally with its own =B
//   B            block size for the projections listed without their own
// Examples: all:all:64   first4:up,down:32   0-5:gate=16,up=32,down=64   2,7:down:48
//           0-3:up:16;20-29:all:64   (groups; a projection may be named by one group only)
#pragma once

#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace bcvk::compress {

enum class Projection { kGate = 0, kUp = 1, kDown = 2 };
constexpr std::array<Projection, 3> kProjections = {Projection::kGate, Projection::kUp,
                                                    Projection::kDown};
const char* projection_name(Projection p);

class PatchSpecError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

using LayerBlocks = std::array<uint32_t, 3>;  // per Projection; 0 = stays dense

struct PatchSpec {
  std::vector<uint32_t> layers;     // sorted, unique: the layers with a patched projection
  std::vector<LayerBlocks> blocks;  // blocks[i]: the block sizes of layers[i]

  // Throws PatchSpecError naming the offending part when `text` is malformed or names a layer
  // outside [0, n_layers).
  static PatchSpec parse(std::string_view text, uint32_t n_layers);
  // Patches (layer, p) at block size B (0: makes it dense again).
  void set(uint32_t layer, Projection p, uint32_t B);
  uint32_t block(uint32_t layer, Projection p) const;  // 0: stays dense
  bool patched(uint32_t layer, Projection p) const { return block(layer, p) != 0; }
  bool empty() const { return layers.empty(); }
  size_t count() const;  // patched projections
  // For people, e.g. "layers 0-29, gate/up/down B=64" or "layers 0-3, up B=32 down B=64"
  // (groups of layers with other block sizes joined by "; ").
  std::string describe() const;
  // A --patch text that parses back to this spec, e.g. "0-3:all:64;7:up=16,down=8".
  std::string text() const;
};

}  // namespace bcvk::compress
