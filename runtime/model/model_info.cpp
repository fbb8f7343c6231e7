#include "runtime/model/model_info.h"

#include <algorithm>

#include "loaders/tokenizer/tokenizer.h"
#include "runtime/model/config_json.h"

namespace bcvk::model {

namespace {

// A compressed model: what it stores block-circulant.  The model is opened as a whole, so a
// malformed circulant tensor is reported too (as a problem, by the caller).
std::optional<CompressionInfo> compression_of(const gguf::GgufFile& f, const std::string& path) {
  const auto record = compress::read_compression_record(f);
  const bool circulant =
      f.find("bcvk.circulant." + loaders::circulant_tensor_name(0, "gate") + ".block_size") ||
      std::any_of(f.tensors().begin(), f.tensors().end(),
                  [](const auto& t) { return t.name.ends_with(".circulant"); });
  if (!record && !circulant) return std::nullopt;
  CompressionInfo c;
  c.record = record;
  const auto model = loaders::LlamaModelFile::open(path);
  std::map<uint32_t, uint64_t> blocks;
  for (const auto& L : model.layers())
    for (const auto* t : {&L.circulant.gate, &L.circulant.up, &L.circulant.down})
      if (t->present()) {
        ++c.projections;
        c.parameters += t->parameters();
        ++blocks[t->block];
      }
  for (const auto& [b, count] : blocks)
    c.block_sizes += (c.block_sizes.empty() ? "" : ", ") +
                     ("B=" + std::to_string(b) + " x" + std::to_string(count));
  return c;
}

}  // namespace

std::vector<const loaders::WeightTensor*> weight_tensors(const loaders::LlamaModelFile& m) {
  std::vector<const loaders::WeightTensor*> all = {&m.token_embd(), &m.output_norm()};
  if (!m.config().tied_embeddings) all.push_back(&m.output());
  for (const auto& L : m.layers())
    for (const auto* w :
         {&L.attn_norm, &L.wq, &L.wk, &L.wv, &L.wo, &L.ffn_norm, &L.gate, &L.up, &L.down})
      all.push_back(w);
  return all;
}

GgufInfo inspect_gguf(const gguf::GgufFile& f, const std::string& path) {
  GgufInfo info;
  info.config = loaders::LlamaConfig::from_gguf(f);
  for (const auto& t : f.tensors()) {
    info.parameters += t.elements;
    info.tensor_bytes += t.bytes;
    info.tensor_types[std::string(gguf::ggml_type_name(t.type))] += 1;
  }
  info.tokenizer_model = f.get_string("tokenizer.ggml.model").value_or("");
  info.tokenizer_pre = f.get_string("tokenizer.ggml.pre").value_or("");
  info.chat_template = f.find("tokenizer.chat_template") != nullptr;
  // What generate checks before running: the whole model (every tensor, shapes, values) and the
  // tokenizer.
  try {
    (void)loaders::LlamaModelFile::open(path);
  } catch (const std::exception& e) {
    info.problems.push_back(e.what());
  }
  try {
    (void)loaders::Tokenizer::from_gguf(f);
  } catch (const std::exception& e) {
    info.problems.push_back(std::string("tokenizer: ") + e.what());
  }
  try {
    info.compression = compression_of(f, path);
  } catch (const std::exception&) {
    // Already among the problems: the whole-model open above failed the same way.
  }
  return info;
}

nlohmann::json info_json(const gguf::GgufFile& f, const GgufInfo& info, const std::string& path,
                         bool full_metadata) {
  nlohmann::json tensors = nlohmann::json::array();
  for (const auto& t : f.tensors())
    tensors.push_back({{"name", t.name},
                       {"type", gguf::ggml_type_name(t.type)},
                       {"shape", t.dims},
                       {"elements", t.elements},
                       {"bytes", t.bytes},
                       {"offset", t.file_offset}});
  nlohmann::json meta = nlohmann::json::object();
  for (const auto& [k, v] : f.metadata()) meta[k] = v.to_string(full_metadata ? SIZE_MAX : 8);
  const auto& c = info.config;
  nlohmann::json out = {
      {"file", path},
      {"file_bytes", f.file_size()},
      {"gguf_version", f.version()},
      {"alignment", f.alignment()},
      {"architecture", c.architecture},
      {"name", c.name},
      {"hyperparameters", hyperparameters_json(c)},
      {"tokenizer",
       {{"model", info.tokenizer_model},
        {"pre", info.tokenizer_pre},
        {"chat_template", info.chat_template}}},
      {"parameters", info.parameters},
      {"tensor_bytes", info.tensor_bytes},
      {"tensors", tensors},
      {"metadata", meta},
  };
  if (info.compression) {
    const CompressionInfo& ci = *info.compression;
    nlohmann::json j = {{"circulant_projections", ci.projections},
                        {"circulant_parameters", ci.parameters},
                        {"block_sizes", ci.block_sizes}};
    if (const auto& r = ci.record) {
      j.update({{"bcvk_version", r->bcvk_version},
                {"patch", r->patch},
                {"patch_description", r->patch_description},
                {"calibration", r->calibration},
                {"calibration_prompts", r->calibration_prompts},
                {"calibration_prompts_sha256", r->calibration_sha256},
                {"calibration_settings", r->calibration_settings},
                {"source", r->source},
                {"source_sha256", r->source_sha256},
                {"dtype", gguf::ggml_type_name(r->dtype)}});
      if (!r->patch_choice.empty()) j["patch_choice"] = r->patch_choice;
    }
    out["compression"] = j;
  }
  out["ready_to_run"] = info.problems.empty();
  out["problems"] = info.problems;
  return out;
}

nlohmann::json info_json(const loaders::LlamaModelFile& m, const std::string& path) {
  const auto all = weight_tensors(m);
  uint64_t params = 0;
  nlohmann::json tensors = nlohmann::json::array();
  for (const auto* w : all) {
    params += w->elements();
    tensors.push_back({{"name", w->name},
                       {"type", gguf::ggml_type_name(w->type)},
                       {"shape", {w->rows, w->cols}},
                       {"bytes", w->data.size()}});
  }
  return {{"file", path},
          {"format", "safetensors"},
          {"file_bytes", m.file_bytes()},
          {"architecture", m.config().architecture},
          {"hyperparameters", hyperparameters_json(m.config())},
          {"rope_layout", loaders::rope_layout_name(m.rope_layout())},
          {"parameters", params},
          {"tensors", tensors}};
}

}  // namespace bcvk::model
