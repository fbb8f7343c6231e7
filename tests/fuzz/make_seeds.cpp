// Writes starting corpora for the fuzzers into the build tree: small valid GGUF and safetensors
// files (so the fuzzers start from deep inside the formats) and a few texts.
#include <filesystem>
#include <fstream>

#include "tests/support/tiny_model.h"

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  const std::filesystem::path dir = argv[1];
  for (const char* sub : {"gguf", "safetensors", "text"}) std::filesystem::create_directories(dir / sub);
  bcvk::test::TinyConfig c;
  c.n_layers = 1;
  c.n_embd = 32;
  c.n_ff = 32;
  c.n_heads = 2;
  c.n_kv_heads = 1;
  c.n_vocab = 8;
  const auto m = bcvk::test::TinyModel::random(c);
  m.write_gguf(dir / "gguf" / "tiny_f32.gguf");
  m.write_gguf(dir / "gguf" / "tiny_q8_0.gguf", bcvk::gguf::GgmlType::Q8_0);
  m.write_hf(dir / "hf", "F16");
  std::filesystem::copy_file(dir / "hf" / "model.safetensors", dir / "safetensors" / "tiny.safetensors",
                             std::filesystem::copy_options::overwrite_existing);
  const char* texts[] = {"Hello, world!", "Grüße 🦊 日本語 123", "<|im_start|>user\nHi<|im_end|>", "  \t\n x"};
  int i = 0;
  for (const char* t : texts) std::ofstream(dir / "text" / ("t" + std::to_string(i++))) << t;
  return 0;
}
