// bcvk serve's request bodies: parsed, checked and tokenized without a device (the HTTP fuzzer
// runs this in the sanitizer build).
#pragma once

#include <cstdint>
#include <string>

#include "loaders/tokenizer/tokenizer.h"
#include "runtime/generate/chat_template.h"
#include "runtime/generate/request.h"

namespace bcvk::serve {

// Thrown by request parsing: the HTTP status and an OpenAI-style error object.
struct ApiError {
  int status = 400;
  std::string message;
  std::string type = "invalid_request_error";
  std::string param;  // the offending field, or ""
  std::string code;   // "context_length_exceeded", "invalid_api_key", ... or ""
};

// What a request asks for, checked and tokenized.
struct Job {
  bool chat = true;
  bool stream = false;
  bool include_usage = false;
  generate::GenerateRequest request;
};

// Parses and checks a /v1/chat/completions (chat) or /v1/completions body against a tokenizer,
// a chat format (null: the model has none; `chat_error` says why) and `context`.  Message text and
// completion prompts are tokenized as text (control strings in them stay text) unless
// `parse_special` (completions only).  Throws ApiError.
struct RequestContext {
  const loaders::Tokenizer* tokenizer = nullptr;
  const generate::ChatFormat* chat = nullptr;
  std::string chat_error;
  uint32_t context = 0;
  bool parse_special = false;
};
Job parse_request(const std::string& body, bool chat, const RequestContext& rc);

// An ApiError for a request field (param may be ""), status 400.
ApiError bad_request(const std::string& param, const std::string& message);
// The OpenAI-style error body, {"error": {...}}, as JSON text: invalid UTF-8 in the message (a
// request's path or bytes) becomes U+FFFD, so this never throws on text.
std::string error_json(const ApiError& e);

}  // namespace bcvk::serve
