// libFuzzer target: bcvk serve's request handling past HTTP framing, on the default model's
// tokenizer and chat template.  The first byte picks the route (bit 0: chat), the prompt parsing
// mode (bit 1: --completions-parse-special) and a context (bits 2-3); the rest is the body.
// Every body must end in a Job or an ApiError: any other exception, a Job that does not fit its
// context or holds a token outside the vocabulary, or an error that does not serialize is a bug.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "runtime/serve/request.h"
#include "tests/fuzz/text_model.h"

namespace {
std::optional<bcvk::fuzz::TextModel> text;

[[noreturn]] void bug(const char* what) {
  std::fprintf(stderr, "http_request_fuzzer: %s\n", what);
  std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  text.emplace(bcvk::fuzz::TextModel::load());
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool is_chat = data[0] & 1;
  bcvk::serve::RequestContext rc;
  rc.tokenizer = &text->tokenizer;
  rc.chat = &text->chat;
  rc.parse_special = data[0] & 2;
  static const uint32_t contexts[] = {1, 16, 256, 8192};
  rc.context = contexts[(data[0] >> 2) & 3];
  const std::string body(reinterpret_cast<const char*>(data + 1), size - 1);
  try {
    const auto job = bcvk::serve::parse_request(body, is_chat, rc);
    const auto& r = job.request;
    if (r.prompt.empty()) bug("a job without a prompt");
    if (r.max_tokens < 1 || r.prompt.size() + r.max_tokens > rc.context)
      bug("a job that does not fit its context");
    for (int32_t id : r.prompt)
      if (id < 0 || size_t(id) >= text->tokenizer.vocab_size())
        bug("a token outside the vocabulary");
    if (!(r.sampler.temperature >= 0 && r.sampler.temperature <= 2))
      bug("a temperature out of range");
    if (!(r.sampler.top_p > 0 && r.sampler.top_p <= 1)) bug("a top_p out of range");
    for (const auto& s : r.stop)
      if (s.empty()) bug("an empty stop string");
  } catch (const bcvk::serve::ApiError& e) {
    if (e.status < 400 || e.status > 599 || e.message.empty()) bug("an error without status");
    const auto j = nlohmann::json::parse(bcvk::serve::error_json(e), nullptr, false);
    if (j.is_discarded() || !j["error"]["message"].is_string())
      bug("an error body that is not JSON");
  }
  return 0;
}
