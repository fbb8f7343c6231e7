// bcvk generate: text from a prompt, streamed as it is produced.
#include <chrono>
#include <cstdio>
#include <iostream>

#include "apps/commands.h"
#include "apps/device_flags.h"
#include "apps/model_flags.h"
#include "apps/validators.h"
#include "loaders/tokenizer/tokenizer.h"
#include "runtime/engine/engine.h"
#include "runtime/generate/chat_template.h"
#include "runtime/generate/sampler.h"
#include "runtime/model/session.h"

namespace bcvk::apps {

namespace {

struct GenerateOptions {
  DeviceFlags dev;
  ModelFlags model;
  std::string prompt;
  uint32_t n = 64;
  generate::SamplerOptions sampler;
  bool chat = false;
};

int run_generate(const GenerateOptions& o) {
  if (o.prompt.empty()) throw std::invalid_argument("the prompt is empty (-p)");
  generate::Sampler sampler(o.sampler);
  const auto file = loaders::LlamaModelFile::open(o.model.model);
  if (!file.gguf())
    throw std::invalid_argument(
        "generate needs a GGUF model (its tokenizer lives in the GGUF metadata)");
  const auto tok = loaders::Tokenizer::from_gguf(*file.gguf());
  int32_t stop = tok.eos();
  std::vector<int32_t> ids;
  if (o.chat) {
    const auto fmt = generate::chat_format_from_template(
        file.gguf()->get_string("tokenizer.chat_template").value_or(""));
    // The prompt is the user's text: control strings in it stay text (as in bcvk serve).
    ids = generate::encode_chat(tok, fmt.render_parts({{"user", o.prompt}}));
    stop = tok.find(fmt.stop);
  } else {
    ids = tok.encode(o.prompt);
  }
  vk::Context ctx(context_options(o.dev));
  auto m = load_model(ctx, file, o.model);
  const auto patch = load_stored_patch(ctx, file, o.model);  // a compressed model's circulant MLPs
  if (ids.size() + o.n > m->context_length())
    throw std::invalid_argument("the prompt (" + std::to_string(ids.size()) + " tokens) plus -n " +
                                std::to_string(o.n) + " exceeds the context of " +
                                std::to_string(m->context_length()) +
                                " tokens; shorten the prompt, lower -n or raise -c/--ctx-size (the "
                                "model allows " +
                                std::to_string(file.config().n_ctx) + ")");
  model::Session session(*m, 64, o.dev.profile, patch.get());

  if (!o.chat) std::cout << o.prompt << std::flush;
  const auto t0 = std::chrono::steady_clock::now();
  auto logits = session.prefill(ids);
  const auto t1 = std::chrono::steady_clock::now();
  std::string pending;
  uint32_t generated = 0;
  for (; generated < o.n; ++generated) {
    const int32_t next = sampler.sample(logits);
    if (next == stop || next == tok.eos()) break;
    pending += tok.token_text(next);
    const size_t ready = engine::complete_utf8(pending);
    std::cout << pending.substr(0, ready) << std::flush;
    pending.erase(0, ready);
    if (generated + 1 < o.n) logits = session.decode(next);
  }
  const auto t2 = std::chrono::steady_clock::now();
  // The text ends its line, and reaches stdout, before the speed line reaches stderr.
  std::cout << pending << std::endl;
  const double pre = std::chrono::duration<double>(t1 - t0).count();
  const double dec = std::chrono::duration<double>(t2 - t1).count();
  std::fprintf(stderr,
               "prefill: %zu tokens in %.2f s (%.1f tokens/s); decode: %u tokens in %.2f s (%.1f "
               "tokens/s)\n",
               ids.size(), pre, ids.size() / pre, generated, dec,
               generated > 1 ? (generated - 1) / dec : 0.0);
  return finish(ctx, o.dev, session.profile());
}

}  // namespace

Runner add_generate_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("generate", "Generate text from a prompt (greedy at --temp 0)");
  auto o = std::make_shared<GenerateOptions>();
  add_device_flags(*cmd, o->dev);
  add_model_flags(*cmd, o->model);
  cmd->add_option("-p,--prompt", o->prompt, "Prompt text")->required();
  cmd->add_option("-n", o->n, "Tokens to generate")
      ->capture_default_str()
      ->check(CLI::Range(1u, 1u << 20));
  cmd->add_option("--temp", o->sampler.temperature, "Temperature; 0 = greedy")
      ->capture_default_str();
  cmd->add_option("--top-k", o->sampler.top_k, "Sample among the k most likely tokens (0 = all)")
      ->capture_default_str();
  cmd->add_option("--top-p", o->sampler.top_p, "Nucleus: smallest set with this probability mass")
      ->capture_default_str();
  cmd->add_option("--seed", o->sampler.seed, "Random seed for sampling")
      ->check(exact_uint64())
      ->capture_default_str();
  cmd->add_flag("--chat", o->chat,
                "Wrap the prompt in the model's chat template (instruct models)");
  return [o]() { return run_generate(*o); };
}

}  // namespace bcvk::apps
