// What one text generation asks for (engine::generate_text runs it): host-side only, so request
// parsing (bcvk serve) builds and is fuzzed without a device.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "runtime/generate/sampler.h"

namespace bcvk::generate {

// Text generation with stop strings, streamed piece by piece.
struct GenerateRequest {
  std::vector<int32_t> prompt;
  uint32_t max_tokens = 16;
  generate::SamplerOptions sampler;
  std::vector<std::string> stop;  // generation ends before any of these strings
  // Called with each piece of text that is final (never part of a stop string); returning false
  // cancels the generation.
  std::function<bool(const std::string& text)> on_text;
  // Polled before every step; returning true cancels (shutdown, a client that went away).
  std::function<bool()> cancelled;
};

}  // namespace bcvk::generate
