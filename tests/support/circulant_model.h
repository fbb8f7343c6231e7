// Tiny models whose MLP weights are exactly block-circulant, for tests where projecting onto that
// structure must lose nothing (so the dense CPU reference is the exact answer for a student).
#pragma once

#include <filesystem>
#include <string>

#include "runtime/compress/block_circulant.h"
#include "tests/support/tiny_model.h"

namespace bcvk::test {

// A random 3-layer tiny model written as GGUF to `path`; with block > 0 every MLP weight is
// replaced by its block-circulant projection of that block size.
inline void write_tiny_model(const std::filesystem::path& path, uint32_t block) {
  TinyConfig c;
  c.n_layers = 3;
  TinyModel m = TinyModel::random(c);
  if (block)
    for (uint32_t l = 0; l < c.n_layers; ++l)
      for (const char* proj : {"gate_proj", "up_proj", "down_proj"}) {
        const std::string key = "model.layers." + std::to_string(l) + ".mlp." + proj + ".weight";
        const auto& shape = m.shapes.at(key);
        auto& w = m.hf.at(key);
        w = compress::expand(
            compress::project_block_circulant(w, uint32_t(shape[0]), uint32_t(shape[1]), block));
      }
  m.write_gguf(path);
}

}  // namespace bcvk::test
