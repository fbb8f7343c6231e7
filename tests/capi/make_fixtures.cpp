// Writes the tiny models the C API test needs into DIR: tiny.gguf (a tokenizer but no chat
// template), tiny-hf/ (a Hugging Face directory: no tokenizer at all).
#include <cstdio>
#include <filesystem>

#include "tests/support/tiny_model.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: capi_make_fixtures DIR\n");
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  std::filesystem::create_directories(dir / "tiny-hf");
  const auto m = bcvk::test::TinyModel::random({});
  m.write_gguf(dir / "tiny.gguf");
  m.write_hf(dir / "tiny-hf");
  return 0;
}
