#include "shaders/registry.h"

namespace bcvk::shaders {

const ShaderBinary* find(std::string_view name) {
  for (const ShaderBinary& s : all())
    if (s.name == name) return &s;
  return nullptr;
}

}  // namespace bcvk::shaders
