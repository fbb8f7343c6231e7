#include "loaders/llama_config.h"

namespace bcvk::loaders {

namespace {

uint32_t as_u32(const gguf::GgufFile& f, const std::string& key, uint64_t v) {
  if (v == 0 || v > (1u << 30))
    throw FormatError(f.name(), 0,
                      "metadata \"" + key + "\" = " + std::to_string(v) + " is out of range");
  return static_cast<uint32_t>(v);
}

}  // namespace

LlamaConfig LlamaConfig::from_gguf(const gguf::GgufFile& f) {
  LlamaConfig c;
  c.architecture = f.require_string("general.architecture");
  c.name = f.get_string("general.name").value_or("");
  if (c.architecture != "llama")
    throw FormatError(
        f.name(), 0,
        "architecture \"" + c.architecture + "\" is not supported (bcvk runs the llama family)");
  const std::string a = c.architecture + ".";
  auto req = [&](const std::string& k) { return as_u32(f, a + k, f.require_uint(a + k)); };
  c.n_layers = req("block_count");
  c.n_embd = req("embedding_length");
  c.n_ff = req("feed_forward_length");
  c.n_heads = req("attention.head_count");
  c.n_kv_heads =
      f.get_uint(a + "attention.head_count_kv") ? req("attention.head_count_kv") : c.n_heads;
  c.n_ctx = req("context_length");
  c.rope_base = static_cast<float>(f.get_float(a + "rope.freq_base").value_or(10000.0));
  c.rms_eps = static_cast<float>(f.require_float(a + "attention.layer_norm_rms_epsilon"));
  if (c.n_embd % c.n_heads != 0)
    throw FormatError(f.name(), 0,
                      "embedding_length " + std::to_string(c.n_embd) +
                          " is not a multiple of head_count " + std::to_string(c.n_heads));
  if (c.n_heads % c.n_kv_heads != 0)
    throw FormatError(f.name(), 0,
                      "head_count " + std::to_string(c.n_heads) +
                          " is not a multiple of head_count_kv " + std::to_string(c.n_kv_heads));
  c.head_dim = c.n_embd / c.n_heads;
  c.rope_dims = f.get_uint(a + "rope.dimension_count") ? req("rope.dimension_count") : c.head_dim;
  if (c.rope_dims > c.head_dim || c.rope_dims % 2)
    throw FormatError(f.name(), 0,
                      "rope.dimension_count " + std::to_string(c.rope_dims) +
                          " must be even and at most the head size " + std::to_string(c.head_dim));
  if (!(c.rms_eps > 0 && c.rms_eps < 1))
    throw FormatError(f.name(), 0, "layer_norm_rms_epsilon is out of range");
  if (const gguf::Value* tokens = f.find("tokenizer.ggml.tokens"); tokens && tokens->as_array())
    c.n_vocab = static_cast<uint32_t>(tokens->as_array()->size());
  else if (f.get_uint(a + "vocab_size"))
    c.n_vocab = req("vocab_size");
  else if (const gguf::TensorInfo* e = f.tensor("token_embd.weight"); e && e->dims.size() == 2)
    c.n_vocab = static_cast<uint32_t>(e->dims[1]);
  c.tied_embeddings = f.tensor("output.weight") == nullptr;
  return c;
}

}  // namespace bcvk::loaders
