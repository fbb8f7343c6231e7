// libFuzzer target: arbitrary bytes through the GGUF parser, the llama config, the tokenizer
// loader and dequantization.  Any crash, sanitizer report or exception other than the loaders'
// documented errors is a bug.
#include <cstddef>
#include <cstdint>
#include <stdexcept>

#include "loaders/gguf/dequantize.h"
#include "loaders/gguf/gguf_file.h"
#include "loaders/llama_config.h"
#include "loaders/tokenizer/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bcvk;
  try {
    const auto f =
        gguf::GgufFile::parse({reinterpret_cast<const std::byte*>(data), size}, "fuzz.gguf");
    for (const auto& t : f.tensors()) {
      if (gguf::can_dequantize(t.type) && t.elements <= (1u << 16)) {
        std::vector<float> out(t.elements);
        gguf::dequantize(t.type, f.tensor_data(t), out);
      }
    }
    try {
      loaders::LlamaConfig::from_gguf(f);
    } catch (const loaders::FormatError&) {
    }
    try {
      const auto tok = loaders::Tokenizer::from_gguf(f);
      (void)tok.encode("Hello world 123 <|im_start|>");
    } catch (const loaders::FormatError&) {
    }
  } catch (const loaders::FormatError&) {
  }
  return 0;
}
