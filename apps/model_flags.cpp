#include "apps/model_flags.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>

#include "apps/progress.h"
#include "runtime/vk/memory.h"

namespace bcvk::apps {

void add_model_flags(CLI::App& cmd, ModelFlags& flags) {
  cmd.add_option("-m,--model", flags.model, "GGUF file or Hugging Face directory")
      ->capture_default_str();
  cmd.add_option("--weights", flags.weights,
                 "Weights on the device: native (the file's own types, decoded in the shaders), "
                 "f16 (needs 16-bit storage) or f32")
      ->check(CLI::IsMember({"native", "f16", "f32"}))
      ->capture_default_str();
  cmd.add_flag("--f16", flags.f16, "The same as --weights f16");
  cmd.add_option("--kv", flags.kv,
                 "What the KV cache holds: f16 (half the memory) or f32 (the values exactly)")
      ->check(CLI::IsMember({"f16", "f32"}))
      ->capture_default_str();
  cmd.add_option("-c,--ctx-size,--ctx", flags.context,
                 "Context length in tokens (the KV cache's size); default: the model's, at most " +
                     std::to_string(kDefaultContext))
      ->check(CLI::Range(1u, 1u << 20));
}

model::WeightMode weight_mode(const ModelFlags& flags) {
  if (flags.f16) return model::WeightMode::kF16;
  const auto m = model::parse_weight_mode(flags.weights);
  if (!m) throw std::invalid_argument("--weights: unknown value '" + flags.weights + "'");
  return *m;
}

ops::KvType kv_type(const ModelFlags& flags) {
  const auto t = ops::parse_kv_type(flags.kv);
  if (!t) throw std::invalid_argument("--kv: unknown value '" + flags.kv + "'");
  return *t;
}

uint32_t context_length(const ModelFlags& flags, const loaders::LlamaConfig& c) {
  if (flags.context > c.n_ctx)
    throw std::invalid_argument("-c/--ctx-size " + std::to_string(flags.context) +
                                " is above the model's context of " + std::to_string(c.n_ctx) +
                                " tokens");
  return flags.context ? flags.context : std::min(c.n_ctx, kDefaultContext);
}

std::unique_ptr<model::Model> load_model(
    vk::Context& ctx, const loaders::LlamaModelFile& file, const ModelFlags& flags,
    std::function<bool(uint32_t, compress::Projection)> skip_mlp) {
  model::ModelOptions o;
  o.skip_mlp = std::move(skip_mlp);
  o.weights = weight_mode(flags);
  o.kv = kv_type(flags);
  o.context = context_length(flags, file.config());
  const auto t0 = std::chrono::steady_clock::now();
  auto m = std::make_unique<model::Model>(ctx, file, o, [](size_t done, size_t total) {
    if (done == total || done % 27 == 0) progress("loading weights: %zu/%zu tensors", done, total);
  });
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  end_progress();
  std::fprintf(stderr, "loaded %s: %.1f M parameters, %s of %s weights on %s in %.1f s\n",
               file.source().c_str(), m->parameter_count() / 1e6,
               vk::format_bytes(m->weight_bytes()).c_str(), m->weight_types().c_str(),
               ctx.info().name.c_str(), s);
  return m;
}

std::unique_ptr<model::MlpPatch> load_stored_patch(vk::Context& ctx,
                                                   const loaders::LlamaModelFile& file,
                                                   const ModelFlags& flags) {
  if (!file.compressed()) return nullptr;
  const auto t0 = std::chrono::steady_clock::now();
  auto patch = model::MlpPatch::load_stored(ctx, file, weight_mode(flags));
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(
      stderr,
      "compressed model: %zu block-circulant MLP projections, %s of %s weights on the device, "
      "in %.1f s\n",
      patch->projections().size(), vk::format_bytes(patch->device_bytes()).c_str(),
      ops::circulant_weights_name(patch->weights()), s);
  return patch;
}

}  // namespace bcvk::apps
