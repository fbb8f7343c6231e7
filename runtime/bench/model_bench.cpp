#include "runtime/bench/model_bench.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <stdexcept>

#include "runtime/util/statistics.h"

namespace bcvk::bench {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

uint64_t mlp_calls(const vk::ProfileTable& p) {
  uint64_t n = 0;
  for (const auto& [label, row] : p.rows())
    if (label.starts_with("mlp_")) n += row.calls;
  return n;
}

double mlp_ms(const vk::ProfileTable& p) {
  double ms = 0;
  for (const auto& [label, row] : p.rows())
    if (label.starts_with("mlp_")) ms += row.total_ms;
  return ms;
}

}  // namespace

std::vector<int32_t> bench_prompt(uint32_t n, uint32_t vocab) {
  std::vector<int32_t> ids(n);
  for (uint32_t i = 0; i < n; ++i) ids[i] = static_cast<int32_t>((uint64_t(i) * 7919 + 13) % vocab);
  return ids;
}

ModelBenchResult bench_model(model::Model& model, const model::MlpPatch* patch,
                             const ModelBenchOptions& o,
                             const std::function<void(const std::string&)>& progress) {
  if (o.prompt_tokens == 0 || o.reps < 1)
    throw std::invalid_argument("bench: need at least one prompt token and one rep");
  if (o.prompt_tokens + o.decode_tokens + 1 > model.context_length())
    throw std::invalid_argument("bench: " + std::to_string(o.prompt_tokens) + " prompt + " +
                                std::to_string(o.decode_tokens) +
                                " decode tokens exceed the context of " +
                                std::to_string(model.context_length()));
  auto say = [&](const std::string& s) {
    if (progress) progress(s);
  };
  const auto prompt = bench_prompt(o.prompt_tokens, model.config().n_vocab);
  ModelBenchResult r;
  {
    model::Session s(model, 64, false, patch);
    // rep -1 warms up: pipeline JIT, FFT plans, page faults.
    for (int rep = -1; rep < o.reps; ++rep) {
      say(rep < 0 ? "warm-up" : "rep " + std::to_string(rep + 1) + "/" + std::to_string(o.reps));
      s.reset();
      auto t0 = std::chrono::steady_clock::now();
      s.prefill(prompt);
      const double pre = seconds_since(t0);
      if (rep >= 0) r.prefill_tokens_per_s.push_back(o.prompt_tokens / pre);
      // Decode after every prefill: the median is over every step of every rep.
      int32_t next = s.last_argmax();
      for (uint32_t i = 0; i < o.decode_tokens; ++i) {
        t0 = std::chrono::steady_clock::now();
        s.decode(next);
        if (rep >= 0) r.decode_ms_per_token.push_back(seconds_since(t0) * 1e3);
        r.decode_commands = s.last_commands();
        next = s.last_argmax();
      }
    }
    say("MLP timing");
    r.mlp_ms_per_token_decode_wall = s.time_mlps(1, std::max(o.reps, 5));
    r.mlp_ms_per_token_prefill_wall =
        s.time_mlps(std::min(o.prompt_tokens, 64u), o.reps) / std::min(o.prompt_tokens, 64u);
  }
  r.prefill_tps = util::median(r.prefill_tokens_per_s);
  const double dec_ms = util::median(r.decode_ms_per_token);
  r.decode_tps = dec_ms > 0 ? 1e3 / dec_ms : 0;

  // Device-timed pass: timestamps around every dispatch slow lavapipe down, so the speeds above
  // come from the untimed runs and this pass only splits the time by op.
  say("profiling");
  model::Session s(model, 64, true, patch);
  s.prefill(prompt);
  r.prefill_profile = s.profile();
  s.clear_profile();
  int32_t next = s.last_argmax();
  const uint32_t steps = std::max(1u, std::min(o.decode_tokens, 4u));
  for (uint32_t i = 0; i < steps; ++i) {
    s.decode(next);
    next = s.last_argmax();
  }
  r.decode_profile = s.profile();
  r.profiled_decode_steps = steps;
  r.mlp_dispatches_per_layer =
      double(mlp_calls(r.decode_profile)) / steps / std::max<size_t>(model.layers().size(), 1);
  r.mlp_ms_per_token_prefill = mlp_ms(r.prefill_profile) / o.prompt_tokens;
  r.mlp_ms_per_token_decode = mlp_ms(r.decode_profile) / steps;
  r.device_ms_per_token_decode = r.decode_profile.total_ms() / steps;
  return r;
}

std::vector<ModelBenchResult> bench_interleaved(
    std::span<const BenchSubject> subjects, const ModelBenchOptions& o,
    const std::function<void(const std::string&)>& progress) {
  if (subjects.empty() || o.prompt_tokens == 0 || o.reps < 1)
    throw std::invalid_argument("bench: need a model, a prompt token and a rep");
  std::vector<std::unique_ptr<model::Session>> sessions;
  std::vector<std::vector<int32_t>> prompts;
  for (const BenchSubject& b : subjects) {
    if (o.prompt_tokens + o.decode_tokens + 1 > b.model->context_length())
      throw std::invalid_argument("bench: " + std::to_string(o.prompt_tokens) + " prompt + " +
                                  std::to_string(o.decode_tokens) +
                                  " decode tokens exceed the context of " +
                                  std::to_string(b.model->context_length()));
    sessions.push_back(std::make_unique<model::Session>(*b.model, 64, false, b.patch));
    prompts.push_back(bench_prompt(o.prompt_tokens, b.model->config().n_vocab));
  }
  const size_t n = subjects.size();
  std::vector<ModelBenchResult> r(n);
  std::vector<int32_t> next(n);
  uint32_t round = 0;
  // Subject k of a round, in this round's order.
  auto nth = [&](size_t k) { return round % 2 == 0 ? k : n - 1 - k; };
  for (int rep = -1; rep < o.reps; ++rep) {
    if (progress)
      progress(rep < 0
                   ? "interleaved warm-up"
                   : "interleaved rep " + std::to_string(rep + 1) + "/" + std::to_string(o.reps));
    for (size_t k = 0; k < n; ++k) {
      const size_t i = nth(k);
      sessions[i]->reset();
      const auto t0 = std::chrono::steady_clock::now();
      sessions[i]->prefill(prompts[i]);
      const double sec = seconds_since(t0);
      if (rep >= 0) r[i].prefill_tokens_per_s.push_back(o.prompt_tokens / sec);
      next[i] = sessions[i]->last_argmax();
    }
    ++round;
    for (uint32_t step = 0; step < o.decode_tokens; ++step, ++round)
      for (size_t k = 0; k < n; ++k) {
        const size_t i = nth(k);
        const auto t0 = std::chrono::steady_clock::now();
        sessions[i]->decode(next[i]);
        const double ms = seconds_since(t0) * 1e3;
        if (rep >= 0) r[i].decode_ms_per_token.push_back(ms);
        r[i].decode_commands = sessions[i]->last_commands();
        next[i] = sessions[i]->last_argmax();
      }
  }
  for (ModelBenchResult& x : r) {
    x.prefill_tps = util::median(x.prefill_tokens_per_s);
    const double ms = util::median(x.decode_ms_per_token);
    x.decode_tps = ms > 0 ? 1e3 / ms : 0;
  }
  return r;
}

}  // namespace bcvk::bench
