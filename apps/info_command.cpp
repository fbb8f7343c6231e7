// bcvk info MODEL [--json] [--metadata]: what a GGUF model file holds.
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "apps/commands.h"
#include "apps/text.h"
#include "loaders/gguf/gguf_file.h"
#include "runtime/model/model_info.h"
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
  if (o.json) {
    std::cout << model::info_json(m, o.model).dump(2) << "\n";
    return 0;
  }
  const loaders::LlamaConfig& c = m.config();
  const auto all = model::weight_tensors(m);
  uint64_t params = 0;
  for (const auto* w : all) params += w->elements();
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

// The compression line(s) of a file bcvk compress wrote.
void print_compression(const model::CompressionInfo& ci) {
  std::printf("  compressed    %llu MLP projections block-circulant (%s), %.2f M parameters\n",
              static_cast<unsigned long long>(ci.projections), ci.block_sizes.c_str(),
              ci.parameters / 1e6);
  if (!ci.record) return;
  const auto& r = *ci.record;
  std::printf(
      "                by bcvk %s from %s (sha256 %.16s...): --patch %s, calibration %s%s\n",
      terminal_safe(r.bcvk_version).c_str(), terminal_safe(r.source).c_str(),
      terminal_safe(r.source_sha256).c_str(), terminal_safe(r.patch).c_str(),
      terminal_safe(r.calibration).c_str(),
      r.calibration != "none" && !r.calibration.empty()
          ? (" on " + std::to_string(r.calibration_prompts) + " prompts (sha256 " +
             r.calibration_sha256.substr(0, 16) + "...)")
                .c_str()
          : "");
  if (!r.patch_choice.empty())
    std::printf("                %s chose %s\n", terminal_safe(r.patch).c_str(),
                terminal_safe(r.patch_description).c_str());
}

int run_info(const InfoOptions& o) {
  if (std::filesystem::is_directory(o.model)) return run_info_hf(o);
  const gguf::GgufFile f = gguf::GgufFile::open(o.model);
  const model::GgufInfo info = model::inspect_gguf(f, o.model);
  const int rc = info.problems.empty() ? 0 : 1;
  if (o.json) {
    std::cout << model::info_json(f, info, o.model, o.metadata).dump(2) << "\n";
    return rc;
  }
  const loaders::LlamaConfig& c = info.config;
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
              info.tokenizer_model.empty() ? "?" : terminal_safe(info.tokenizer_model).c_str(),
              info.tokenizer_pre.empty() ? "default" : terminal_safe(info.tokenizer_pre).c_str(),
              info.chat_template ? "yes" : "no");
  std::printf("  parameters    %llu (%.1f M)\n", static_cast<unsigned long long>(info.parameters),
              info.parameters / 1e6);
  std::string types;
  for (const auto& [name, n] : info.tensor_types)
    types += (types.empty() ? "" : ", ") + name + " x" + std::to_string(n);
  std::printf("  tensor types  %s\n", types.c_str());
  if (info.problems.empty()) std::printf("  status        ready to run\n");
  for (const auto& p : info.problems)
    std::printf("  status        cannot run: %s\n", terminal_safe(p).c_str());
  if (info.compression) print_compression(*info.compression);
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
              static_cast<unsigned long long>(info.tensor_bytes));
  return rc;
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
