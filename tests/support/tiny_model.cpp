#include "tests/support/tiny_model.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "loaders/gguf/gguf_writer.h"
#include "loaders/half.h"
#include "tests/support/random.h"

namespace bcvk::test {

std::vector<float> hf_to_gguf_rows(const std::vector<float>& w, uint32_t n_heads, uint64_t cols) {
  const uint64_t rows = w.size() / cols, hd = rows / n_heads, half = hd / 2;
  std::vector<float> out;
  out.reserve(w.size());
  for (uint64_t h = 0; h < n_heads; ++h)
    for (uint64_t a = 0; a < half; ++a)   // new axis 0: position within the half
      for (uint64_t b = 0; b < 2; ++b) {  // new axis 1: which half
        const float* row = &w[(h * hd + b * half + a) * cols];
        out.insert(out.end(), row, row + cols);
      }
  return out;
}

TinyModel TinyModel::random(const TinyConfig& c) {
  TinyModel m;
  m.config = c;
  Rng rng(c.seed);
  const uint64_t hd = c.n_embd / c.n_heads;
  auto add = [&](const std::string& name, std::vector<uint64_t> shape, float scale,
                 float offset = 0) {
    uint64_t n = 1;
    for (auto d : shape) n *= d;
    std::vector<float> v(n);
    for (float& x : v) x = offset + rng.uniform(-scale, scale);
    m.hf[name] = std::move(v);
    m.shapes[name] = std::move(shape);
  };
  add("model.embed_tokens.weight", {c.n_vocab, c.n_embd}, 1.0f);
  for (uint32_t l = 0; l < c.n_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    const float s = 1.0f / std::sqrt(float(c.n_embd));
    add(p + "input_layernorm.weight", {c.n_embd}, 0.2f, 1.0f);
    add(p + "self_attn.q_proj.weight", {c.n_heads * hd, c.n_embd}, s);
    add(p + "self_attn.k_proj.weight", {c.n_kv_heads * hd, c.n_embd}, s);
    add(p + "self_attn.v_proj.weight", {c.n_kv_heads * hd, c.n_embd}, s);
    add(p + "self_attn.o_proj.weight", {c.n_embd, c.n_heads * hd}, s);
    add(p + "post_attention_layernorm.weight", {c.n_embd}, 0.2f, 1.0f);
    add(p + "mlp.gate_proj.weight", {c.n_ff, c.n_embd}, s);
    add(p + "mlp.up_proj.weight", {c.n_ff, c.n_embd}, s);
    add(p + "mlp.down_proj.weight", {c.n_embd, c.n_ff}, 1.0f / std::sqrt(float(c.n_ff)));
  }
  add("model.norm.weight", {c.n_embd}, 0.2f, 1.0f);
  if (!c.tied) add("lm_head.weight", {c.n_vocab, c.n_embd}, 1.0f / std::sqrt(float(c.n_embd)));
  return m;
}

TinyModel TinyModel::random_with_strong_mlps(const TinyConfig& config) {
  TinyModel tm = random(config);
  for (auto& [name, w] : tm.hf)
    if (name.find(".mlp.") != std::string::npos)
      for (float& x : w) x *= name.find("down") != std::string::npos ? 4.f : 2.f;
  return tm;
}

void TinyModel::write_gguf(const std::filesystem::path& path, gguf::GgmlType type) const {
  const TinyConfig& c = config;
  gguf::GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set_string("general.name", config.name);
  w.set_u32("llama.block_count", c.n_layers);
  w.set_u32("llama.context_length", c.n_ctx);
  w.set_u32("llama.embedding_length", c.n_embd);
  w.set_u32("llama.feed_forward_length", c.n_ff);
  w.set_u32("llama.attention.head_count", c.n_heads);
  w.set_u32("llama.attention.head_count_kv", c.n_kv_heads);
  w.set_f32("llama.rope.freq_base", c.rope_base);
  w.set_f32("llama.attention.layer_norm_rms_epsilon", c.rms_eps);
  w.set_u32("llama.rope.dimension_count", c.n_embd / c.n_heads);
  // A byte-level vocabulary: token i is a single printable character.
  std::vector<std::string> tokens;
  for (uint32_t i = 0; i < c.n_vocab; ++i)
    tokens.push_back(std::string(1, static_cast<char>(33 + i % 90)) +
                     (i >= 90 ? std::to_string(i) : ""));
  if (c.tokenizer) {
    w.set_string("tokenizer.ggml.model", "gpt2");
    w.set_string("tokenizer.ggml.pre", "gpt2");
    w.set_strings("tokenizer.ggml.tokens", tokens);
    w.set_strings("tokenizer.ggml.merges", {});
  }
  auto put = [&](const std::string& gguf_name, const std::string& hf_name,
                 bool permute_heads = false, uint32_t heads = 0) {
    const auto& shape = shapes.at(hf_name);
    std::vector<float> v = hf.at(hf_name);
    if (permute_heads) v = hf_to_gguf_rows(v, heads, shape[1]);
    std::vector<uint64_t> dims(shape.rbegin(), shape.rend());  // GGUF: contiguous dimension first
    if (gguf_name == config.omit_tensor) return;
    const bool vec = shape.size() == 1;
    w.add_tensor_from_f32(gguf_name, dims, vec ? gguf::GgmlType::F32 : type, v);
  };
  put("token_embd.weight", "model.embed_tokens.weight");
  for (uint32_t l = 0; l < c.n_layers; ++l) {
    const std::string g = "blk." + std::to_string(l) + ".",
                      h = "model.layers." + std::to_string(l) + ".";
    put(g + "attn_norm.weight", h + "input_layernorm.weight");
    put(g + "attn_q.weight", h + "self_attn.q_proj.weight", true, c.n_heads);
    put(g + "attn_k.weight", h + "self_attn.k_proj.weight", true, c.n_kv_heads);
    put(g + "attn_v.weight", h + "self_attn.v_proj.weight");
    put(g + "attn_output.weight", h + "self_attn.o_proj.weight");
    put(g + "ffn_norm.weight", h + "post_attention_layernorm.weight");
    put(g + "ffn_gate.weight", h + "mlp.gate_proj.weight");
    put(g + "ffn_up.weight", h + "mlp.up_proj.weight");
    put(g + "ffn_down.weight", h + "mlp.down_proj.weight");
  }
  put("output_norm.weight", "model.norm.weight");
  if (!c.tied) put("output.weight", "lm_head.weight");
  w.write(path);
}

void TinyModel::write_hf(const std::filesystem::path& dir, const std::string& dtype) const {
  const TinyConfig& c = config;
  std::filesystem::create_directories(dir);
  nlohmann::json cfg = {{"architectures", {"LlamaForCausalLM"}},
                        {"model_type", "llama"},
                        {"hidden_size", c.n_embd},
                        {"intermediate_size", c.n_ff},
                        {"num_hidden_layers", c.n_layers},
                        {"num_attention_heads", c.n_heads},
                        {"num_key_value_heads", c.n_kv_heads},
                        {"max_position_embeddings", c.n_ctx},
                        {"vocab_size", c.n_vocab},
                        {"rope_theta", c.rope_base},
                        {"rms_norm_eps", c.rms_eps},
                        {"tie_word_embeddings", c.tied}};
  std::ofstream(dir / "config.json") << cfg.dump(2);
  const size_t es = dtype == "F32" ? 4 : 2;
  nlohmann::json header = nlohmann::json::object();
  std::string data;
  for (const auto& [name, values] : hf) {
    const size_t begin = data.size();
    for (float x : values) {
      if (dtype == "F32")
        data.append(reinterpret_cast<const char*>(&x), 4);
      else {
        const uint16_t h = dtype == "F16" ? loaders::float_to_half(x) : loaders::float_to_bf16(x);
        data.append(reinterpret_cast<const char*>(&h), 2);
      }
    }
    header[name] = {{"dtype", dtype},
                    {"shape", shapes.at(name)},
                    {"data_offsets", {begin, begin + values.size() * es}}};
  }
  header["__metadata__"] = {{"format", "pt"}};
  std::string h = header.dump();
  while ((8 + h.size()) % 8) h += ' ';
  std::ofstream out(dir / "model.safetensors", std::ios::binary);
  const uint64_t n = h.size();
  out.write(reinterpret_cast<const char*>(&n), 8);
  out << h << data;
}

}  // namespace bcvk::test
