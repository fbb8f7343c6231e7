// libFuzzer target: arbitrary text through the default model's tokenizer.  Invalid UTF-8 must be
// refused with std::invalid_argument; valid UTF-8 must survive decode(encode(s)) unchanged.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>

#include "loaders/gguf/gguf_file.h"
#include "loaders/tokenizer/tokenizer.h"

namespace {
std::unique_ptr<bcvk::gguf::GgufFile> file;
std::unique_ptr<bcvk::loaders::Tokenizer> tok;
}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* path = std::getenv("BCVK_FUZZ_MODEL");
  file = std::make_unique<bcvk::gguf::GgufFile>(
      bcvk::gguf::GgufFile::open(path ? path : BCVK_DEFAULT_MODEL));
  tok = std::make_unique<bcvk::loaders::Tokenizer>(bcvk::loaders::Tokenizer::from_gguf(*file));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::vector<int32_t> ids;
  try {
    ids = tok->encode(text, false);
  } catch (const std::invalid_argument&) {
    if (bcvk::loaders::is_valid_utf8(text)) std::abort();  // refused valid text
    return 0;
  }
  if (!bcvk::loaders::is_valid_utf8(text)) std::abort();  // accepted invalid text
  for (unsigned char c : text)
    if (!tok->byte_has_token(c)) return 0;  // unrepresentable bytes are dropped by design
  if (tok->decode(ids) != text) {
    std::fprintf(stderr, "decode(encode(s)) != s\n");
    std::abort();
  }
  return 0;
}
