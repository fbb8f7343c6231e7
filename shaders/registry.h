// The SPIR-V of every compute shader in shaders/, embedded at build time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace bcvk::shaders {

struct ShaderBinary {
  std::string_view name;  // the variant name given to bcvk_shader() in shaders/CMakeLists.txt
  std::span<const uint32_t> words;
};

// Every embedded shader, in declaration order.
std::span<const ShaderBinary> all();

// The shader called `name`, or nullptr.
const ShaderBinary* find(std::string_view name);

}  // namespace bcvk::shaders
