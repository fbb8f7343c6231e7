// bcvk info MODEL [--json] [--metadata]: what a GGUF model file holds.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "apps/commands.h"
#include "apps/text.h"
#include "loaders/gguf/gguf_file.h"
#include "loaders/llama_config.h"
#include "loaders/llama_model.h"
#include "loaders/tokenizer/tokenizer.h"
#include "runtime/compress/compressed_gguf.h"
#include "runtime/model/config_json.h"
#include "runtime/vk/memory.h"

namespace bcvk::apps {

namespace {

struct InfoOptions {
  std::string model;
  bool json = false;
  bool metadata = false;
};

std::string shape_string(const std::vector<uint64_t>& dims) {
  std::string s;
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? " x " : "") + std::to_string(dims[i]);
  return s;
}

// A Hugging Face directory: config.json + safetensors, listed by role.
int run_info_hf(const InfoOptions& o) {
  const auto m = loaders::LlamaModelFile::open(o.model);
  const loaders::LlamaConfig& c = m.config();
  std::vector<const loaders::WeightTensor*> all = {&m.token_embd(), &m.output_norm()};
  if (!c.tied_embeddings) all.push_back(&m.output());
  for (const auto& L : m.layers())
    for (const auto* w :
         {&L.attn_norm, &L.wq, &L.wk, &L.wv, &L.wo, &L.ffn_norm, &L.gate, &L.up, &L.down})
      all.push_back(w);
  uint64_t params = 0;
  for (const auto* w : all) params += w->elements();
  if (o.json) {
    nlohmann::json tensors = nlohmann::json::array();
    for (const auto* w : all)
      tensors.push_back({{"name", w->name},
                         {"type", gguf::ggml_type_name(w->type)},
                         {"shape", {w->rows, w->cols}},
                         {"bytes", w->data.size()}});
    std::cout << nlohmann::json{{"file", o.model},
                                {"format", "safetensors"},
                                {"file_bytes", m.file_bytes()},
                                {"architecture", c.architecture},
                                {"hyperparameters", model::hyperparameters_json(c)},
                                {"rope_layout", loaders::rope_layout_name(m.rope_layout())},
                                {"parameters", params},
                                {"tensors", tensors}}
                     .dump(2)
              << "\n";
    return 0;
  }
  std::printf("%s (Hugging Face: config.json + safetensors, %s)\n", o.model.c_str(),
              vk::format_bytes(m.file_bytes()).c_str());
  std::printf(
      "  layers %u, width %u, MLP %u, heads %u (KV %u, size %u), context %u, vocabulary %u\n",
      c.n_layers, c.n_embd, c.n_ff, c.n_heads, c.n_kv_heads, c.head_dim, c.n_ctx, c.n_vocab);
  std::printf("  RoPE base %g (%s), RMS epsilon %g, embeddings %s, parameters %.1f M\n",
              c.rope_base, loaders::rope_layout_name(m.rope_layout()), c.rms_eps,
              c.tied_embeddings ? "tied" : "separate", params / 1e6);
  std::printf("\n%-48s %-6s %-14s %12s\n", "tensor", "type", "shape", "bytes");
  for (const auto* w : all)
    std::printf("%-48s %-6s %-14s %12zu\n", terminal_safe(w->name).c_str(),
                std::string(gguf::ggml_type_name(w->type)).c_str(),
                (std::to_string(w->rows) + " x " + std::to_string(w->cols)).c_str(),
                w->data.size());
  return 0;
}

int run_info(const InfoOptions& o) {
  if (std::filesystem::is_directory(o.model)) return run_info_hf(o);
  const gguf::GgufFile f = gguf::GgufFile::open(o.model);
  const loaders::LlamaConfig c = loaders::LlamaConfig::from_gguf(f);
  uint64_t params = 0, tensor_bytes = 0;
  std::map<std::string, uint64_t> per_type;
  for (const auto& t : f.tensors()) {
    params += t.elements;
    tensor_bytes += t.bytes;
    per_type[std::string(gguf::ggml_type_name(t.type))] += 1;
  }
  const std::string tok_model = f.get_string("tokenizer.ggml.model").value_or("");
  const std::string tok_pre = f.get_string("tokenizer.ggml.pre").value_or("");
  const bool has_template = f.find("tokenizer.chat_template") != nullptr;
  // What generate would check before running: the whole model (every tensor, shapes, values)
  // and the tokenizer.
  std::vector<std::string> problems;
  try {
    (void)loaders::LlamaModelFile::open(o.model);
  } catch (const std::exception& e) {
    problems.push_back(e.what());
  }
  try {
    (void)loaders::Tokenizer::from_gguf(f);
  } catch (const std::exception& e) {
    problems.push_back(std::string("tokenizer: ") + e.what());
  }
  // A compressed model (bcvk compress): what it stores block-circulant and how it was made.  The
  // model is opened as a whole so a malformed circulant tensor is reported here too.
  const auto record = compress::read_compression_record(f);
  nlohmann::json compression;
  if (record ||
      f.find("bcvk.circulant." + loaders::circulant_tensor_name(0, "gate") + ".block_size") ||
      std::any_of(f.tensors().begin(), f.tensors().end(),
                  [](const auto& t) { return t.name.ends_with(".circulant"); })) {
    const auto model = loaders::LlamaModelFile::open(o.model);
    uint64_t n = 0, circ_params = 0;
    std::map<uint32_t, uint64_t> blocks;
    for (const auto& L : model.layers())
      for (const auto* t : {&L.circulant.gate, &L.circulant.up, &L.circulant.down})
        if (t->present()) {
          ++n;
          circ_params += t->parameters();
          ++blocks[t->block];
        }
    std::string block_text;
    for (const auto& [b, count] : blocks)
      block_text += (block_text.empty() ? "" : ", ") +
                    ("B=" + std::to_string(b) + " x" + std::to_string(count));
    compression = {{"circulant_projections", n},
                   {"circulant_parameters", circ_params},
                   {"block_sizes", block_text}};
    if (record)
      compression.update({{"bcvk_version", record->bcvk_version},
                          {"patch", record->patch},
                          {"patch_description", record->patch_description},
                          {"calibration", record->calibration},
                          {"calibration_prompts", record->calibration_prompts},
                          {"calibration_prompts_sha256", record->calibration_sha256},
                          {"calibration_settings", record->calibration_settings},
                          {"source", record->source},
                          {"source_sha256", record->source_sha256},
                          {"dtype", gguf::ggml_type_name(record->dtype)}});
    if (record && !record->patch_choice.empty()) compression["patch_choice"] = record->patch_choice;
  }

  if (o.json) {
    nlohmann::json tensors = nlohmann::json::array();
    for (const auto& t : f.tensors())
      tensors.push_back({{"name", t.name},
                         {"type", gguf::ggml_type_name(t.type)},
                         {"shape", t.dims},
                         {"elements", t.elements},
                         {"bytes", t.bytes},
                         {"offset", t.file_offset}});
    nlohmann::json meta = nlohmann::json::object();
    for (const auto& [k, v] : f.metadata()) meta[k] = v.to_string(o.metadata ? SIZE_MAX : 8);
    nlohmann::json out = {
        {"file", o.model},
        {"file_bytes", f.file_size()},
        {"gguf_version", f.version()},
        {"alignment", f.alignment()},
        {"architecture", c.architecture},
        {"name", c.name},
        {"hyperparameters", model::hyperparameters_json(c)},
        {"tokenizer", {{"model", tok_model}, {"pre", tok_pre}, {"chat_template", has_template}}},
        {"parameters", params},
        {"tensor_bytes", tensor_bytes},
        {"tensors", tensors},
        {"metadata", meta},
    };
    if (!compression.is_null()) out["compression"] = compression;
    out["ready_to_run"] = problems.empty();
    out["problems"] = problems;
    std::cout << out.dump(2) << "\n";
    return problems.empty() ? 0 : 1;
  }

  std::printf("%s\n", terminal_safe(o.model).c_str());
  std::printf("  file          %s (%llu bytes), GGUF v%u, alignment %llu\n",
              vk::format_bytes(f.file_size()).c_str(),
              static_cast<unsigned long long>(f.file_size()), f.version(),
              static_cast<unsigned long long>(f.alignment()));
  std::printf("  model         %s (%s)\n", c.name.empty() ? "?" : terminal_safe(c.name).c_str(),
              terminal_safe(c.architecture).c_str());
  std::printf("  layers        %u\n  width         %u\n  MLP           %u\n", c.n_layers, c.n_embd,
              c.n_ff);
  std::printf("  heads         %u (KV heads %u, head size %u, RoPE dims %u, base %g)\n", c.n_heads,
              c.n_kv_heads, c.head_dim, c.rope_dims, c.rope_base);
  std::printf("  context       %u\n  vocabulary    %u\n  RMS epsilon   %g\n", c.n_ctx, c.n_vocab,
              c.rms_eps);
  std::printf("  embeddings    %s\n",
              c.tied_embeddings ? "tied (token_embd is the LM head)" : "separate output.weight");
  std::printf("  tokenizer     %s, pre-tokenizer %s, chat template %s\n",
              tok_model.empty() ? "?" : terminal_safe(tok_model).c_str(),
              tok_pre.empty() ? "default" : terminal_safe(tok_pre).c_str(),
              has_template ? "yes" : "no");
  std::printf("  parameters    %llu (%.1f M)\n", static_cast<unsigned long long>(params),
              params / 1e6);
  std::string types;
  for (const auto& [name, n] : per_type)
    types += (types.empty() ? "" : ", ") + name + " x" + std::to_string(n);
  std::printf("  tensor types  %s\n", types.c_str());
  if (problems.empty()) std::printf("  status        ready to run\n");
  for (const auto& p : problems)
    std::printf("  status        cannot run: %s\n", terminal_safe(p).c_str());
  if (!compression.is_null()) {
    std::printf(
        "  compressed    %llu MLP projections block-circulant (%s), %.2f M parameters\n",
        static_cast<unsigned long long>(compression["circulant_projections"].get<uint64_t>()),
        compression["block_sizes"].get<std::string>().c_str(),
        compression["circulant_parameters"].get<uint64_t>() / 1e6);
    if (record)
      std::printf(
          "                by bcvk %s from %s (sha256 %.16s...): --patch %s, calibration %s%s\n",
          terminal_safe(record->bcvk_version).c_str(), terminal_safe(record->source).c_str(),
          terminal_safe(record->source_sha256).c_str(), terminal_safe(record->patch).c_str(),
          terminal_safe(record->calibration).c_str(),
          record->calibration != "none" && !record->calibration.empty()
              ? (" on " + std::to_string(record->calibration_prompts) + " prompts (sha256 " +
                 record->calibration_sha256.substr(0, 16) + "...)")
                    .c_str()
              : "");
    if (record && !record->patch_choice.empty())
      std::printf("                %s chose %s\n", terminal_safe(record->patch).c_str(),
                  terminal_safe(record->patch_description).c_str());
  }
  if (o.metadata) {
    std::printf("\nmetadata (%zu keys)\n", f.metadata().size());
    for (const auto& [k, v] : f.metadata())
      std::printf("  %-44s %s\n", terminal_safe(k).c_str(), terminal_safe(v.to_string()).c_str());
  }
  std::printf("\n%-32s %-6s %-18s %14s\n", "tensor", "type", "shape", "bytes");
  for (const auto& t : f.tensors())
    std::printf("%-32s %-6s %-18s %14llu\n", terminal_safe(t.name).c_str(),
                std::string(gguf::ggml_type_name(t.type)).c_str(), shape_string(t.dims).c_str(),
                static_cast<unsigned long long>(t.bytes));
  std::printf("%-32s %-6s %-18s %14llu\n", "total", "", "",
              static_cast<unsigned long long>(tensor_bytes));
  return problems.empty() ? 0 : 1;
}

}  // namespace

Runner add_info_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "info", "Show a GGUF model's architecture, hyperparameters, tokenizer and tensors");
  auto o = std::make_shared<InfoOptions>();
  cmd->add_option("model", o->model,
                  "A .gguf file, or a Hugging Face directory (config.json + safetensors)")
      ->required();
  cmd->add_flag("--json", o->json, "Print JSON instead of a table");
  cmd->add_flag("--metadata", o->metadata,
                "Also print every metadata key (arrays in full with --json)");
  return [o]() { return run_info(*o); };
}

}  // namespace bcvk::apps
