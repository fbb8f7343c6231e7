// The C API's text and sampling entry points: they need a tokenizer and a chat format, never a
// device, so the C API fuzzer (tests/fuzz/capi_text_fuzzer.cpp) runs them in the sanitizer build.
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "runtime/capi/internal.h"

namespace bcvk::capi {

std::string& last_error() {
  static thread_local std::string message;
  return message;
}

void copy_out(const std::string& s, char* text, size_t capacity, size_t* length) {
  need(length, "length");
  *length = s.size();
  if (!text && capacity)
    throw Failure(BCVK_ERROR_INVALID_ARGUMENT,
                  "text is NULL but capacity is " + std::to_string(capacity) +
                      " (pass NULL with capacity 0 to ask for the size)");
  if (capacity < s.size() + (text ? 1 : 0) || (!text && !s.empty()))
    throw Failure(BCVK_ERROR_BUFFER_TOO_SMALL, "the text needs " + std::to_string(s.size() + 1) +
                                                   " bytes (with the NUL); the buffer has " +
                                                   std::to_string(capacity));
  if (text) {
    std::memcpy(text, s.data(), s.size());
    text[s.size()] = '\0';
  }
}

namespace {

const loaders::Tokenizer& tokenizer_of(const bcvk_model* m) {
  if (!m->tokenizer)
    throw Failure(BCVK_ERROR_UNSUPPORTED, m->source +
                                              ": the model has no tokenizer (bcvk reads "
                                              "tokenizers from GGUF files only)");
  return *m->tokenizer;
}

std::vector<bcvk::generate::ChatMessage> conversation(const bcvk_chat_message* messages,
                                                      size_t count) {
  if (!messages && count) throw Failure(BCVK_ERROR_INVALID_ARGUMENT, "messages is NULL");
  std::vector<bcvk::generate::ChatMessage> conv;
  for (size_t i = 0; i < count; ++i) {
    if (!messages[i].role || !messages[i].content)
      throw Failure(BCVK_ERROR_INVALID_ARGUMENT,
                    "message " + std::to_string(i) + ": role or content is NULL");
    conv.push_back({messages[i].role, messages[i].content});
  }
  return conv;
}

const bcvk::generate::ChatFormat& chat_of(const bcvk_model* m) {
  if (!m->chat) throw Failure(BCVK_ERROR_UNSUPPORTED, m->chat_error);
  return *m->chat;
}
}  // namespace
}  // namespace bcvk::capi

using namespace bcvk::capi;

extern "C" {

const char* bcvk_version(void) {
  return BCVK_VERSION_STRING;
}

const char* bcvk_status_name(bcvk_status s) {
  switch (s) {
    case BCVK_OK:
      return "BCVK_OK";
    case BCVK_ERROR_INVALID_ARGUMENT:
      return "BCVK_ERROR_INVALID_ARGUMENT";
    case BCVK_ERROR_IO:
      return "BCVK_ERROR_IO";
    case BCVK_ERROR_BAD_MODEL:
      return "BCVK_ERROR_BAD_MODEL";
    case BCVK_ERROR_DEVICE:
      return "BCVK_ERROR_DEVICE";
    case BCVK_ERROR_OUT_OF_MEMORY:
      return "BCVK_ERROR_OUT_OF_MEMORY";
    case BCVK_ERROR_CONTEXT_OVERFLOW:
      return "BCVK_ERROR_CONTEXT_OVERFLOW";
    case BCVK_ERROR_BUFFER_TOO_SMALL:
      return "BCVK_ERROR_BUFFER_TOO_SMALL";
    case BCVK_ERROR_UNSUPPORTED:
      return "BCVK_ERROR_UNSUPPORTED";
    case BCVK_ERROR_INTERNAL:
      return "BCVK_ERROR_INTERNAL";
  }
  return "BCVK_ERROR_UNKNOWN_STATUS";
}

const char* bcvk_last_error(void) {
  return last_error().c_str();
}

void bcvk_model_free(bcvk_model* model) {
  delete model;
}

bcvk_status bcvk_tokenize(const bcvk_model* m, const char* text, size_t length, int add_bos,
                          int parse_special, int32_t* tokens, size_t capacity, size_t* count) {
  return guarded([&] {
    need(m, "model");
    need(count, "count");
    if (!text && length) throw Failure(BCVK_ERROR_INVALID_ARGUMENT, "text is NULL");
    if (add_bos < -1 || add_bos > 1)
      throw Failure(BCVK_ERROR_INVALID_ARGUMENT, "add_bos must be -1, 0 or 1");
    const auto& t = tokenizer_of(m);
    const bool bos = add_bos < 0 ? t.adds_bos() : add_bos == 1;
    if (!tokens && capacity)
      throw Failure(BCVK_ERROR_INVALID_ARGUMENT,
                    "tokens is NULL but capacity is " + std::to_string(capacity) +
                        " (pass NULL with capacity 0 to ask for the count)");
    const auto ids = t.encode(std::string_view(text ? text : "", length), bos, parse_special != 0);
    *count = ids.size();
    if (capacity < ids.size() || (!tokens && !ids.empty()))
      throw Failure(BCVK_ERROR_BUFFER_TOO_SMALL, "the text is " + std::to_string(ids.size()) +
                                                     " tokens; the buffer holds " +
                                                     std::to_string(capacity));
    if (!ids.empty()) std::memcpy(tokens, ids.data(), ids.size() * sizeof(int32_t));
  });
}

bcvk_status bcvk_detokenize(const bcvk_model* m, const int32_t* tokens, size_t count,
                            int render_special, char* text, size_t capacity, size_t* length) {
  return guarded([&] {
    need(m, "model");
    if (!tokens && count) throw Failure(BCVK_ERROR_INVALID_ARGUMENT, "tokens is NULL");
    const auto& t = tokenizer_of(m);
    for (size_t i = 0; i < count; ++i)
      if (tokens[i] < 0 || static_cast<size_t>(tokens[i]) >= t.vocab_size())
        throw Failure(BCVK_ERROR_INVALID_ARGUMENT,
                      "token " + std::to_string(i) + " (id " + std::to_string(tokens[i]) +
                          ") is outside the vocabulary of " + std::to_string(t.vocab_size()));
    copy_out(t.decode(std::span<const int32_t>(tokens, count), render_special != 0), text, capacity,
             length);
  });
}

bcvk_status bcvk_apply_chat_template(const bcvk_model* m, const bcvk_chat_message* messages,
                                     size_t count, int add_assistant, char* text, size_t capacity,
                                     size_t* length) {
  return guarded([&] {
    need(m, "model");
    const auto conv = conversation(messages, count);
    copy_out(chat_of(m).render(conv, add_assistant != 0), text, capacity, length);
  });
}

bcvk_status bcvk_tokenize_chat(const bcvk_model* m, const bcvk_chat_message* messages, size_t count,
                               int add_assistant, int32_t* tokens, size_t capacity,
                               size_t* token_count) {
  return guarded([&] {
    need(m, "model");
    need(token_count, "token_count");
    if (!tokens && capacity)
      throw Failure(BCVK_ERROR_INVALID_ARGUMENT,
                    "tokens is NULL but capacity is " + std::to_string(capacity) +
                        " (pass NULL with capacity 0 to ask for the count)");
    const auto conv = conversation(messages, count);
    const auto ids = bcvk::generate::encode_chat(tokenizer_of(m),
                                                 chat_of(m).render_parts(conv, add_assistant != 0));
    *token_count = ids.size();
    if (capacity < ids.size())
      throw Failure(BCVK_ERROR_BUFFER_TOO_SMALL,
                    "the conversation is " + std::to_string(ids.size()) +
                        " tokens; the buffer holds " + std::to_string(capacity));
    if (!ids.empty()) std::memcpy(tokens, ids.data(), ids.size() * sizeof(int32_t));
  });
}

void bcvk_sampler_options_init(bcvk_sampler_options* o) {
  if (o) *o = bcvk_sampler_options{0.0f, 40, 0.95f, 0};
}

bcvk_status bcvk_sampler_create(const bcvk_sampler_options* options, bcvk_sampler** sampler) {
  return guarded([&] {
    need(sampler, "sampler");
    *sampler = nullptr;
    bcvk_sampler_options o;
    bcvk_sampler_options_init(&o);
    if (options) o = *options;
    if (!(o.temperature >= 0.0f) || o.temperature > 1e6f)
      throw Failure(BCVK_ERROR_INVALID_ARGUMENT,
                    "temperature must be a finite number >= 0 (0: greedy)");
    if (!(o.top_p > 0.0f && o.top_p <= 1.0f))
      throw Failure(BCVK_ERROR_INVALID_ARGUMENT, "top_p must be in (0, 1]");
    bcvk::generate::SamplerOptions so;
    so.temperature = o.temperature;
    so.top_k = o.top_k;
    so.top_p = o.top_p;
    so.seed = o.seed;
    *sampler = new bcvk_sampler{bcvk::generate::Sampler(so)};
  });
}

void bcvk_sampler_free(bcvk_sampler* sampler) {
  delete sampler;
}

bcvk_status bcvk_sampler_sample(bcvk_sampler* s, const float* logits, size_t vocab_size,
                                int32_t* token) {
  return guarded([&] {
    need(s, "sampler");
    need(logits, "logits");
    need(token, "token");
    if (vocab_size == 0) throw Failure(BCVK_ERROR_INVALID_ARGUMENT, "vocab_size is 0");
    *token = s->sampler.sample(std::span<const float>(logits, vocab_size));
  });
}

}  // extern "C"
