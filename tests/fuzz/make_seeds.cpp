// Writes starting corpora for the fuzzers into the build tree: small valid GGUF and safetensors
// files (so the fuzzers start from deep inside the formats) and a few texts.
#include <filesystem>
#include <fstream>

#include "tests/support/tiny_model.h"

// A string literal with its embedded NULs.
template <size_t N>
std::string lit(const char (&s)[N]) {
  return std::string(s, N - 1);
}

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  const std::filesystem::path dir = argv[1];
  for (const char* sub : {"gguf", "safetensors", "text", "http", "capi"})
    std::filesystem::create_directories(dir / sub);
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
  std::filesystem::copy_file(dir / "hf" / "model.safetensors",
                             dir / "safetensors" / "tiny.safetensors",
                             std::filesystem::copy_options::overwrite_existing);
  const char* texts[] = {"Hello, world!", "Grüße 🦊 日本語 123",
                         "<|im_start|>user\nHi<|im_end|>", "  \t\n x"};
  int i = 0;
  for (const char* t : texts) std::ofstream(dir / "text" / ("t" + std::to_string(i++))) << t;
  // Request bodies (first byte: route and options, see http_request_fuzzer.cpp).
  const std::string bodies[] = {
      lit("\x01{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}], \"max_tokens\": 4}"),
      lit("\x03{\"messages\": [{\"role\": \"system\", \"content\": \"<|im_start|>\"}, {\"role\": "
          "\"user\", \"content\": [{\"type\": \"text\", \"text\": \"x\"}]}], \"stream\": true, "
          "\"stream_options\": {\"include_usage\": true}, \"stop\": [\"a\", \"b\"]}"),
      lit("\x00{\"prompt\": \"Count: one,\", \"temperature\": 0.5, \"top_p\": 0.9, \"top_k\": 40, "
          "\"seed\": -3, \"max_tokens\": 12}"),
      lit("\x02{\"prompt\": [\"<|im_end|>\"], \"logprobs\": 0, \"echo\": false, \"n\": 1}"),
      lit("\x01{\"messages\": [], \"tools\": [], \"temperature\": 1e-40}")};
  i = 0;
  for (const auto& b : bodies)
    std::ofstream(dir / "http" / ("b" + std::to_string(i++)), std::ios::binary) << b;
  // C API calls (first byte: entry point, see capi_text_fuzzer.cpp).
  const std::string calls[] = {lit("\x00\x01\x40Hello <|im_end|> world"),
                               lit("\x01\x00\x40\x05\x00\x00\x00\x02\x00\x00\x00"),
                               lit("\x02\x01\x40user\0Hi\0assistant\0Hello."),
                               lit("\x03\x01\x40system\0<|im_start|>\0user\0x"),
                               lit("\x04\x00\x00\x00\x00\x80\x3f\x00\x00\xc0\x7f")};
  i = 0;
  for (const auto& c : calls)
    std::ofstream(dir / "capi" / ("c" + std::to_string(i++)), std::ios::binary) << c;
  return 0;
}
