// The default model's tokenizer and chat format for the text fuzzers (BCVK_FUZZ_MODEL overrides
// the path), loaded once in LLVMFuzzerInitialize.
#pragma once

#include <cstdlib>
#include <optional>

#include "loaders/gguf/gguf_file.h"
#include "loaders/tokenizer/tokenizer.h"
#include "runtime/generate/chat_template.h"

namespace bcvk::fuzz {

struct TextModel {
  gguf::GgufFile file;
  loaders::Tokenizer tokenizer;
  generate::ChatFormat chat;

  static TextModel load() {
    const char* path = std::getenv("BCVK_FUZZ_MODEL");
    auto file = gguf::GgufFile::open(path ? path : BCVK_DEFAULT_MODEL);
    auto tok = loaders::Tokenizer::from_gguf(file);
    auto chat = generate::chat_format_from_template(
        file.get_string("tokenizer.chat_template").value_or(""));
    return {std::move(file), std::move(tok), std::move(chat)};
  }
};

}  // namespace bcvk::fuzz
