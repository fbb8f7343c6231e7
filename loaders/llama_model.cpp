#include "loaders/llama_model.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "loaders/gguf/dequantize.h"

namespace bcvk::loaders {

const char* rope_layout_name(RopeLayout layout) {
  return layout == RopeLayout::kAdjacentPairs ? "adjacent pairs (GGUF)"
                                              : "half split (Hugging Face)";
}

std::vector<float> WeightTensor::to_f32() const {
  std::vector<float> out(elements());
  gguf::dequantize(type, data, out);
  return out;
}

std::vector<float> permute_hf_to_gguf_rope(std::span<const float> w, uint32_t n_heads,
                                           uint64_t cols) {
  const uint64_t rows = w.size() / cols;
  const uint64_t hd = rows / n_heads;
  std::vector<float> out(w.size());
  for (uint64_t h = 0; h < n_heads; ++h)
    for (uint64_t i = 0; i < hd / 2; ++i)
      for (uint64_t j = 0; j < 2; ++j) {
        const uint64_t dst = h * hd + 2 * i + j, src = h * hd + j * (hd / 2) + i;
        std::copy_n(w.begin() + src * cols, cols, out.begin() + dst * cols);
      }
  return out;
}

uint64_t CirculantTensor::parameters() const {
  if (!present()) return 0;
  return uint64_t((rows + block - 1) / block) * ((cols + block - 1) / block) * block;
}

std::vector<float> CirculantTensor::to_f32() const {
  std::vector<float> out(parameters());
  gguf::dequantize(type, data, out);
  return out;
}

std::string circulant_tensor_name(uint32_t layer, std::string_view projection) {
  return "blk." + std::to_string(layer) + ".ffn_" + std::string(projection) + ".circulant";
}

std::string circulant_spectra_tensor_name(uint32_t layer, std::string_view projection) {
  return circulant_tensor_name(layer, projection) + "_spectra";
}

std::string circulant_block_problem(uint64_t rows, uint64_t cols, uint64_t B) {
  if (B >= 1 && B <= std::max(rows, cols)) return "";
  return "has block size " + std::to_string(B) + ", outside 1.." +
         std::to_string(std::max(rows, cols)) + " for a " + std::to_string(rows) + " x " +
         std::to_string(cols) + " matrix";
}

std::string circulant_key(uint32_t layer, std::string_view projection, std::string_view field) {
  return "bcvk.circulant." + circulant_tensor_name(layer, projection) + "." + std::string(field);
}

bool LlamaModelFile::compressed() const {
  for (const LlamaLayer& L : layers_)
    if (L.circulant.gate.present() || L.circulant.up.present() || L.circulant.down.present())
      return true;
  return false;
}

namespace {

WeightTensor from_gguf_tensor(const gguf::GgufFile& f, const std::string& name,
                              bool required = true) {
  const gguf::TensorInfo* t = f.tensor(name);
  if (!t) {
    if (!required) return {};
    throw FormatError(f.name(), 0, "tensor \"" + name + "\" is missing");
  }
  if (t->dims.size() > 2)
    throw FormatError(f.name(), t->file_offset, "tensor \"" + name + "\" is not a matrix");
  if (!gguf::can_dequantize(t->type))
    throw FormatError(f.name(), t->file_offset,
                      "tensor \"" + name + "\" has type " +
                          std::string(gguf::ggml_type_name(t->type)) + ", which bcvk cannot load");
  WeightTensor w;
  w.name = name;
  w.type = t->type;
  w.cols = t->dims[0];
  w.rows = t->dims.size() == 2 ? t->dims[1] : 1;
  w.data = f.tensor_data(*t);
  return w;
}

// One MLP projection of layer `layer`: the dense `dense_name`, or the block-circulant tensor bcvk
// compress stores in its place (checked against its metadata and the config's rows x cols).
void mlp_from_gguf(const gguf::GgufFile& f, uint32_t layer, std::string_view proj,
                   const std::string& dense_name, uint64_t rows, uint64_t cols, WeightTensor& dense,
                   CirculantTensor& circ) {
  const std::string cname = circulant_tensor_name(layer, proj);
  const std::string sname = circulant_spectra_tensor_name(layer, proj);
  const gguf::TensorInfo* columns = f.tensor(cname);
  const gguf::TensorInfo* spectra = f.tensor(sname);
  const gguf::TensorInfo* t = columns ? columns : spectra;
  if (!t) {
    if (!f.tensor(dense_name))
      throw FormatError(
          f.name(), 0,
          "tensor \"" + dense_name + "\" is missing (and no \"" + cname + "\" stands in for it)");
    dense = from_gguf_tensor(f, dense_name);
    return;
  }
  const std::string& tname = columns ? cname : sname;
  auto fail = [&](const std::string& what) -> void {
    throw FormatError(f.name(), t->file_offset, "tensor \"" + tname + "\" " + what);
  };
  if (columns && spectra) fail("and \"" + sname + "\" are both present");
  if (f.tensor(dense_name)) fail("and the dense \"" + dense_name + "\" are both present");
  if (columns && t->type != gguf::GgmlType::F32 && t->type != gguf::GgmlType::F16)
    fail("has type " + std::string(gguf::ggml_type_name(t->type)) +
         "; circulant tensors are F32 or F16");
  if (spectra && t->type != gguf::GgmlType::Q8_0)
    fail("has type " + std::string(gguf::ggml_type_name(t->type)) +
         "; circulant spectra tensors are Q8_0");
  auto key = [&](const char* field) -> uint64_t {
    const std::string k = circulant_key(layer, proj, field);
    const auto v = f.get_uint(k);
    if (!v) fail("has no metadata \"" + k + "\"");
    return *v;
  };
  const uint64_t B = key("block_size"), r = key("rows"), c = key("cols");
  if (r != rows || c != cols)
    fail("stands for a " + std::to_string(r) + " x " + std::to_string(c) +
         " matrix (metadata), the config needs " + std::to_string(rows) + " x " +
         std::to_string(cols));
  if (const std::string why = circulant_block_problem(rows, cols, B); !why.empty()) fail(why);
  if (spectra && B % 2 != 0)
    fail("has block size " + std::to_string(B) + "; packed spectra need an even block size");
  const uint64_t p = (rows + B - 1) / B, q = (cols + B - 1) / B;
  const std::vector<uint64_t> want =
      columns ? std::vector<uint64_t>{B, q, p} : std::vector<uint64_t>{q * B, p};
  if (t->dims != want) {
    std::string got;
    for (uint64_t d : t->dims) got += (got.empty() ? "" : ", ") + std::to_string(d);
    fail("has dims [" + got + "]; block size " + std::to_string(B) + " (metadata) for " +
         std::to_string(rows) + " x " + std::to_string(cols) + " needs " +
         (columns ? "[B, q, p] = [" + std::to_string(B) + ", " + std::to_string(q) + ", "
                  : "[q*B, p] = [" + std::to_string(q * B) + ", ") +
         std::to_string(p) + "]");
  }
  circ.name = tname;
  circ.type = t->type;
  circ.spectra = spectra != nullptr && !columns;
  circ.rows = static_cast<uint32_t>(rows);
  circ.cols = static_cast<uint32_t>(cols);
  circ.block = static_cast<uint32_t>(B);
  circ.data = f.tensor_data(*t);
  // The dense weight keeps its name and shape, with no data: nothing may run it dense.
  dense.name = dense_name;
  dense.rows = rows;
  dense.cols = cols;
}

LlamaConfig config_from_hf(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) throw std::runtime_error(file.string() + ": cannot open");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::parse_error& e) {
    throw FormatError(file.string(), e.byte, std::string("does not parse: ") + e.what());
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(file.string(), 0, std::string("does not parse: ") + e.what());
  }
  auto fail = [&](const std::string& what) -> void { throw FormatError(file.string(), 0, what); };
  auto num = [&](const char* key) -> uint32_t {
    if (!j.contains(key) || !j[key].is_number_unsigned() || j[key].get<uint64_t>() == 0 ||
        j[key].get<uint64_t>() > (1u << 30))
      fail(std::string("\"") + key + "\" is missing or not a positive integer");
    return j[key].get<uint32_t>();
  };
  LlamaConfig c;
  c.architecture = j.value("model_type", "");
  if (c.architecture != "llama")
    fail("model_type \"" + c.architecture + "\" is not supported (llama is)");
  c.name = j.value("_name_or_path", "");
  c.n_layers = num("num_hidden_layers");
  c.n_embd = num("hidden_size");
  c.n_ff = num("intermediate_size");
  c.n_heads = num("num_attention_heads");
  c.n_kv_heads = j.contains("num_key_value_heads") ? num("num_key_value_heads") : c.n_heads;
  c.n_ctx = num("max_position_embeddings");
  c.n_vocab = num("vocab_size");
  c.rope_base = j.value("rope_theta", 10000.0f);
  c.rms_eps = j.value("rms_norm_eps", 1e-6f);
  c.tied_embeddings = j.value("tie_word_embeddings", false);
  if (c.n_embd % c.n_heads || c.n_heads % c.n_kv_heads) fail("head counts do not divide the width");
  c.head_dim = j.contains("head_dim") ? num("head_dim") : c.n_embd / c.n_heads;
  if (c.head_dim * c.n_heads != c.n_embd) fail("head_dim * num_attention_heads != hidden_size");
  c.rope_dims = c.head_dim;
  return c;
}

}  // namespace

LlamaModelFile LlamaModelFile::from_gguf(gguf::GgufFile file) {
  LlamaModelFile m;
  m.gguf_ = std::make_unique<gguf::GgufFile>(std::move(file));
  const gguf::GgufFile& f = *m.gguf_;
  m.source_ = f.name();
  m.file_bytes_ = f.file_size();
  m.config_ = LlamaConfig::from_gguf(f);
  m.rope_ = RopeLayout::kAdjacentPairs;
  m.token_embd_ = from_gguf_tensor(f, "token_embd.weight");
  m.output_norm_ = from_gguf_tensor(f, "output_norm.weight");
  if (!m.config_.tied_embeddings) m.output_ = from_gguf_tensor(f, "output.weight");
  for (uint32_t l = 0; l < m.config_.n_layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    LlamaLayer L;
    L.attn_norm = from_gguf_tensor(f, p + "attn_norm.weight");
    L.wq = from_gguf_tensor(f, p + "attn_q.weight");
    L.wk = from_gguf_tensor(f, p + "attn_k.weight");
    L.wv = from_gguf_tensor(f, p + "attn_v.weight");
    L.wo = from_gguf_tensor(f, p + "attn_output.weight");
    L.ffn_norm = from_gguf_tensor(f, p + "ffn_norm.weight");
    const auto& c = m.config_;
    mlp_from_gguf(f, l, "gate", p + "ffn_gate.weight", c.n_ff, c.n_embd, L.gate, L.circulant.gate);
    mlp_from_gguf(f, l, "up", p + "ffn_up.weight", c.n_ff, c.n_embd, L.up, L.circulant.up);
    mlp_from_gguf(f, l, "down", p + "ffn_down.weight", c.n_embd, c.n_ff, L.down, L.circulant.down);
    m.layers_.push_back(std::move(L));
  }
  m.validate_shapes();
  return m;
}

LlamaModelFile LlamaModelFile::open(const std::filesystem::path& path) {
  if (!std::filesystem::is_directory(path)) return from_gguf(gguf::GgufFile::open(path));

  LlamaModelFile m;
  m.source_ = path.string();
  m.config_ = config_from_hf(path / "config.json");
  m.rope_ = RopeLayout::kHalfSplit;
  std::vector<std::filesystem::path> files;
  if (std::filesystem::exists(path / "model.safetensors")) {
    files.push_back(path / "model.safetensors");
  } else if (std::ifstream idx{path / "model.safetensors.index.json"}) {
    std::set<std::string> names;
    try {
      for (const auto& [k, v] : nlohmann::json::parse(idx).at("weight_map").items())
        names.insert(v.get<std::string>());
    } catch (const nlohmann::json::exception& e) {
      throw FormatError((path / "model.safetensors.index.json").string(), 0, e.what());
    }
    for (const auto& n : names) {
      if (n.find('/') != std::string::npos || n.find("..") != std::string::npos)
        throw FormatError((path / "model.safetensors.index.json").string(), 0,
                          "shard name \"" + n + "\" is not a plain file name");
      files.push_back(path / n);
    }
  } else {
    throw std::runtime_error(path.string() +
                             ": no model.safetensors or model.safetensors.index.json");
  }
  for (const auto& file : files) {
    m.shards_.push_back(std::make_unique<SafetensorsFile>(SafetensorsFile::open(file)));
    m.file_bytes_ += std::filesystem::file_size(file);
  }
  auto get = [&](const std::string& name, bool required = true) -> WeightTensor {
    for (const auto& s : m.shards_) {
      if (const SafeTensor* t = s->tensor(name)) {
        if (t->shape.empty() || t->shape.size() > 2)
          throw FormatError(s->name(), t->file_offset,
                            "tensor \"" + name + "\" is not a vector or matrix");
        WeightTensor w;
        w.name = name;
        w.type = t->type;
        w.cols = t->shape.back();
        w.rows = t->shape.size() == 2 ? t->shape[0] : 1;
        w.data = s->data(*t);
        return w;
      }
    }
    if (required) throw FormatError(m.source_, 0, "tensor \"" + name + "\" is missing");
    return {};
  };
  m.token_embd_ = get("model.embed_tokens.weight");
  m.output_norm_ = get("model.norm.weight");
  m.output_ = get("lm_head.weight", false);
  if (m.output_.data.empty())
    m.config_.tied_embeddings = true;
  else
    m.config_.tied_embeddings = false;
  for (uint32_t l = 0; l < m.config_.n_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    LlamaLayer L;
    L.attn_norm = get(p + "input_layernorm.weight");
    L.wq = get(p + "self_attn.q_proj.weight");
    L.wk = get(p + "self_attn.k_proj.weight");
    L.wv = get(p + "self_attn.v_proj.weight");
    L.wo = get(p + "self_attn.o_proj.weight");
    L.ffn_norm = get(p + "post_attention_layernorm.weight");
    L.gate = get(p + "mlp.gate_proj.weight");
    L.up = get(p + "mlp.up_proj.weight");
    L.down = get(p + "mlp.down_proj.weight");
    m.layers_.push_back(std::move(L));
  }
  m.validate_shapes();
  return m;
}

void LlamaModelFile::validate_shapes() const {
  const LlamaConfig& c = config_;
  auto expect = [&](const WeightTensor& w, uint64_t rows, uint64_t cols) {
    if (w.rows != rows || w.cols != cols)
      throw FormatError(source_, 0,
                        "tensor \"" + w.name + "\" is " + std::to_string(w.rows) + " x " +
                            std::to_string(w.cols) + ", the config needs " + std::to_string(rows) +
                            " x " + std::to_string(cols));
  };
  const uint64_t kv = uint64_t(c.n_kv_heads) * c.head_dim;
  expect(token_embd_, c.n_vocab, c.n_embd);
  expect(output_norm_, 1, c.n_embd);
  if (!c.tied_embeddings) expect(output_, c.n_vocab, c.n_embd);
  for (const LlamaLayer& L : layers_) {
    expect(L.attn_norm, 1, c.n_embd);
    expect(L.wq, uint64_t(c.n_heads) * c.head_dim, c.n_embd);
    expect(L.wk, kv, c.n_embd);
    expect(L.wv, kv, c.n_embd);
    expect(L.wo, c.n_embd, uint64_t(c.n_heads) * c.head_dim);
    expect(L.ffn_norm, 1, c.n_embd);
    expect(L.gate, c.n_ff, c.n_embd);
    expect(L.up, c.n_ff, c.n_embd);
    expect(L.down, c.n_embd, c.n_ff);
  }
  // Values that turn every output into NaN without an error: cheap to check here (norms are
  // n_embd values each; circulant parameters are what a compressed file stores instead of its
  // largest tensors), so a bad file is named instead of generating <|endoftext|>.
  if (!(c.rope_base > 0) || !std::isfinite(c.rope_base))
    throw FormatError(source_, 0,
                      "the RoPE frequency base is " + std::to_string(c.rope_base) +
                          "; it must be a positive finite number");
  auto finite = [&](const std::string& name, const std::vector<float>& v) {
    for (size_t i = 0; i < v.size(); ++i)
      if (!std::isfinite(v[i]))
        throw FormatError(source_, 0,
                          "tensor \"" + name + "\" holds a non-finite value (" +
                              std::to_string(v[i]) + ") at element " + std::to_string(i));
  };
  finite(output_norm_.name, output_norm_.to_f32());
  for (const LlamaLayer& L : layers_) {
    finite(L.attn_norm.name, L.attn_norm.to_f32());
    finite(L.ffn_norm.name, L.ffn_norm.to_f32());
    for (const CirculantTensor* t : {&L.circulant.gate, &L.circulant.up, &L.circulant.down})
      if (t->present()) finite(t->name, t->to_f32());
  }
}

}  // namespace bcvk::loaders
