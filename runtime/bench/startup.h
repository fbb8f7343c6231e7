// One start of bcvk, measured phase by phase: open the model file, build the tokenizer, create the
// Vulkan device, upload the dense weights, set up a compressed model's circulant MLPs (spectra,
// FFT plans), allocate the session, and run the prompt to the first token.  `bcvk bench
// --startup` runs this in fresh processes, cold (empty caches) and warm (caches on disk), and
// reports where the time to first token goes and what was compiled.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/model/model.h"
#include "runtime/vk/context.h"

namespace bcvk::bench {

struct StartupPhase {
  std::string name;
  double ms = 0;
  double compile_ms = 0;  // of which creating pipelines and FFT plans
};

struct StartupResult {
  std::vector<StartupPhase> phases;  // in order; they add up to time_to_first_token_ms
  double time_to_first_token_ms = 0;
  vk::CompileStats compile;
  uint64_t peak_device_bytes = 0;
  uint64_t prompt_tokens = 0;
  int32_t first_token = -1;
  std::string device;
  size_t validation_messages = 0;  // with BCVK_VALIDATION=1: any is a failure
};

struct StartupOptions {
  std::string model;
  vk::ContextOptions context;
  model::WeightMode weights = model::WeightMode::kNative;
  ops::KvType kv = ops::KvType::kF16;
  uint32_t context_length = 0;  // KV cache; 0: the model's, as bcvk generate uses by default
  std::string prompt = "The quick brown fox jumps over the lazy dog";
  // When the clock started (the parent's spawn): the first phase, "process start", runs from
  // here to the call.  Default: the call itself.
  std::chrono::steady_clock::time_point origin{};
};

StartupResult measure_startup(const StartupOptions& options);

}  // namespace bcvk::bench
