// libFuzzer target: arbitrary bytes through the safetensors parser.
#include <cstddef>
#include <cstdint>

#include "loaders/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    bcvk::loaders::SafetensorsFile::parse({reinterpret_cast<const std::byte*>(data), size},
                                          "fuzz.safetensors");
  } catch (const bcvk::loaders::FormatError&) {
  }
  return 0;
}
