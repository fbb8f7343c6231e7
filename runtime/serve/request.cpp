#include "runtime/serve/request.h"

#include <cmath>
#include <cstdio>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <stdexcept>

namespace bcvk::serve {

using nlohmann::json;

namespace {

// Text from a request (its path) or from the model (a generation cut inside a multi-byte
// character) may be invalid UTF-8: serialized with U+FFFD in place of the bad bytes, never an
// exception (which escaped a handler and aborted the server).
constexpr auto kInvalidUtf8 = json::error_handler_t::replace;

json error_body(const ApiError& e) {
  json err = {{"message", e.message}, {"type", e.type}};
  err["param"] = e.param.empty() ? json(nullptr) : json(e.param);
  err["code"] = e.code.empty() ? json(nullptr) : json(e.code);
  return {{"error", err}};
}

}  // namespace

ApiError bad_request(const std::string& param, const std::string& message) {
  ApiError e;
  e.param = param;
  e.message = message;
  return e;
}

std::string error_json(const ApiError& e) {
  return error_body(e).dump(-1, ' ', false, kInvalidUtf8);
}

namespace {

ApiError bad(const std::string& param, const std::string& message) {
  return bad_request(param, message);
}

// Optional fields: absent and null both mean "use the default".
const json* field(const json& body, const char* name) {
  auto it = body.find(name);
  return it == body.end() || it->is_null() ? nullptr : &*it;
}

// A number field; a value that is in range as a double but becomes 0 as the float the sampler
// uses (1e-300) is refused by name, not passed on to fail later or clamped.
double number(const json& body, const char* name, double fallback, double lo, double hi,
              bool lo_open = false) {
  const json* v = field(body, name);
  if (!v) return fallback;
  if (!v->is_number()) throw bad(name, std::string("'") + name + "' must be a number");
  const double x = v->get<double>();
  if (!std::isfinite(x) || x < lo || x > hi || (lo_open && x == lo))
    throw bad(name, std::string("'") + name + "' is " + v->dump() + "; it must be in " +
                        (lo_open ? "(" : "[") + json(lo).dump() + ", " + json(hi).dump() + "]");
  if (x != 0 && std::fabs(x) < std::numeric_limits<float>::min())
    throw bad(name, std::string("'") + name + "' is " + v->dump() +
                        "; it is too small to be used (nonzero values start at " +
                        json(double(std::numeric_limits<float>::min())).dump() + ")");
  return x;
}

int64_t integer(const json& body, const char* name, int64_t fallback, int64_t lo, int64_t hi) {
  const json* v = field(body, name);
  if (!v) return fallback;
  const std::string range = "[" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
  // Past the 64-bit range the parser gives a float: the value and the range are named either way.
  if (!v->is_number_integer() ||
      (v->is_number_unsigned() && v->get<uint64_t>() > uint64_t(INT64_MAX)))
    throw bad(name, std::string("'") + name + "' is " + v->dump(-1, ' ', false, kInvalidUtf8) +
                        "; it must be an integer in " + range);
  const int64_t x = v->get<int64_t>();
  if (x < lo || x > hi)
    throw bad(name,
              std::string("'") + name + "' is " + std::to_string(x) + "; it must be in " + range);
  return x;
}

std::string content_text(const json& content, size_t i) {
  const std::string param = "messages[" + std::to_string(i) + "].content";
  if (content.is_string()) return content.get<std::string>();
  if (content.is_array()) {  // content parts: only text is understood
    std::string out;
    for (const auto& part : content) {
      if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text") ||
          !part["text"].is_string())
        throw bad(param, param +
                             ": only text content parts ({\"type\": \"text\", \"text\": ...}) "
                             "are supported");
      out += part["text"].get<std::string>();
    }
    return out;
  }
  throw bad(param, param + " must be a string or an array of text parts");
}

// Fields bcvk serve understands, and fields of the OpenAI API it does not implement, accepted
// only at the value that asks for nothing (so a client is never silently given less than it
// asked for).  Any other field is refused by name, as the OpenAI API does.
void check_fields(const json& body, bool chat) {
  static const std::set<std::string> common = {
      "model", "max_tokens", "temperature",    "top_p", "top_k", "seed",
      "stop",  "stream",     "stream_options", "n",     "user"};
  static const std::set<std::string> chat_only = {"messages", "max_completion_tokens", "metadata",
                                                  "store"};
  auto neutral = [](const std::string& k, const json& v) -> int {  // -1: not a known field
    if (k == "frequency_penalty" || k == "presence_penalty")
      return v.is_number() && v.get<double>() == 0;
    if (k == "logprobs") return (v.is_boolean() && !v.get<bool>()) || (v.is_number() && v == 0);
    if (k == "top_logprobs") return v.is_number() && v == 0;
    if (k == "logit_bias") return v.is_object() && v.empty();
    if (k == "response_format")
      return v.is_object() && v.size() == 1 && v.value("type", json()) == "text";
    if (k == "tools" || k == "functions") return v.is_array() && v.empty();
    if (k == "tool_choice" || k == "function_call") return v == "none" || v == "auto";
    if (k == "parallel_tool_calls") return v.is_boolean();
    if (k == "echo") return v.is_boolean() && !v.get<bool>();
    if (k == "best_of") return v.is_number_integer() && v == 1;
    if (k == "suffix") return v.is_string() && v.get<std::string>().empty();
    if (k == "modalities") return v == json::array({"text"});
    if (k == "service_tier") return v.is_string();
    return -1;
  };
  for (const auto& [k, v] : body.items()) {
    if (v.is_null() || common.count(k) || (chat && chat_only.count(k)) || (!chat && k == "prompt"))
      continue;
    const int n = neutral(k, v);
    if (n < 0)
      throw bad(k, "unrecognized request argument '" + k + "'" +
                       (chat ? std::string(k == "prompt" ? " (use 'messages' here)" : "")
                             : std::string(k == "messages" ? " (use 'prompt' here)" : "")));
    if (n == 0)
      throw bad(k, "'" + k + "' = " + v.dump(-1, ' ', false, kInvalidUtf8) +
                       " is not supported by bcvk serve (leave it out)");
  }
  if (const json* u = field(body, "user"); u && !u->is_string())
    throw bad("user", "'user' must be a string");
  if (chat)
    if (const json* st = field(body, "store"); st && !(st->is_boolean() && !st->get<bool>()))
      throw bad("store", "'store' = true is not supported by bcvk serve (it stores nothing)");
}

// What a JSON parser's exception says, without its "[json.exception.parse_error.101] " tag.
std::string parser_message(const json::exception& e) {
  std::string m = e.what();
  if (m.rfind("[json.exception.", 0) == 0)
    if (const size_t end = m.find("] "); end != std::string::npos) m = m.substr(end + 2);
  return m;
}

}  // namespace

Job parse_request(const std::string& body_text, bool chat, const RequestContext& rc) {
  json body;
  try {
    body = json::parse(body_text);
  } catch (const json::exception& e) {  // parse errors and out-of-range numbers (1e309)
    throw bad("", "the request body is not valid JSON: " + parser_message(e));
  }
  if (!body.is_object()) throw bad("", "the request body must be a JSON object");
  check_fields(body, chat);
  if (const json* m = field(body, "model"); m && !m->is_string())
    throw bad("model", "'model' must be a string");
  if (integer(body, "n", 1, 1, 1) != 1) throw bad("n", "only n = 1 is supported");
  const auto* tok = rc.tokenizer;
  if (!tok) throw ApiError{500, "the model has no tokenizer", "server_error", "", ""};
  const uint32_t context = rc.context;

  Job job;
  job.chat = chat;
  if (const json* s = field(body, "stream")) {
    if (!s->is_boolean()) throw bad("stream", "'stream' must be a boolean");
    job.stream = s->get<bool>();
  }
  if (const json* so = field(body, "stream_options")) {
    if (!so->is_object()) throw bad("stream_options", "'stream_options' must be an object");
    if (const json* u = field(*so, "include_usage")) {
      if (!u->is_boolean())
        throw bad("stream_options", "'stream_options.include_usage' must be a boolean");
      job.include_usage = u->get<bool>();
    }
  }

  if (chat) {
    const json* msgs = field(body, "messages");
    if (!msgs) throw bad("messages", "'messages' is required");
    if (!msgs->is_array() || msgs->empty())
      throw bad("messages", "'messages' must be a non-empty array");
    std::vector<generate::ChatMessage> conv;
    for (size_t i = 0; i < msgs->size(); ++i) {
      const json& m = (*msgs)[i];
      const std::string at = "messages[" + std::to_string(i) + "]";
      if (!m.is_object()) throw bad(at, at + " must be an object");
      if (!m.contains("role") || !m["role"].is_string())
        throw bad(at + ".role", at + ".role must be a string");
      const std::string role = m["role"].get<std::string>();
      if (role != "system" && role != "user" && role != "assistant" && role != "developer")
        throw bad(at + ".role",
                  at + ".role '" + role + "' is not one of system, developer, user, assistant");
      if (!m.contains("content")) throw bad(at + ".content", at + ".content is required");
      conv.push_back({role == "developer" ? "system" : role, content_text(m["content"], i)});
    }
    const auto* fmt = rc.chat;
    if (!fmt)
      throw bad("messages", "this model has no chat template bcvk knows (" + rc.chat_error +
                                "); use /v1/completions");
    try {
      job.request.prompt = generate::encode_chat(*tok, fmt->render_parts(conv, true));
    } catch (const std::invalid_argument& e) {
      throw bad("messages", e.what());
    }
  } else {
    const json* p = field(body, "prompt");
    if (!p) throw bad("prompt", "'prompt' is required");
    if (p->is_array() && p->size() == 1 && (*p)[0].is_string()) p = &(*p)[0];
    if (!p->is_string()) throw bad("prompt", "'prompt' must be a string");
    try {
      job.request.prompt = tok->encode(p->get<std::string>(), tok->adds_bos(), rc.parse_special);
    } catch (const std::invalid_argument& e) {
      throw bad("prompt", e.what());
    }
  }
  if (job.request.prompt.empty()) throw bad(chat ? "messages" : "prompt", "the prompt is empty");

  const int64_t n_prompt = static_cast<int64_t>(job.request.prompt.size());
  const int64_t room = int64_t(context) - n_prompt;
  const char* max_name =
      field(body, "max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
  const int64_t asked = integer(body, max_name, -1, 1, int64_t(1) << 30);
  if (room < 1 || (asked > 0 && asked > room)) {
    ApiError e =
        bad(max_name, "this model's context is " + std::to_string(context) +
                          " tokens; the prompt has " + std::to_string(n_prompt) + " tokens" +
                          (asked > 0 ? " and " + std::string(max_name) + " asks for " +
                                           std::to_string(asked) + " more"
                                     : std::string(" and leaves no room to generate")));
    e.code = "context_length_exceeded";
    throw e;
  }
  job.request.max_tokens = static_cast<uint32_t>(asked > 0 ? asked : room);

  auto& s = job.request.sampler;
  s.temperature = static_cast<float>(number(body, "temperature", 1.0, 0.0, 2.0));
  s.top_p = static_cast<float>(number(body, "top_p", 1.0, 0.0, 1.0, true));
  s.top_k = static_cast<uint32_t>(integer(body, "top_k", 0, 0, 1 << 20));
  s.seed = field(body, "seed")
               ? static_cast<uint64_t>(integer(body, "seed", 0, INT64_MIN, INT64_MAX))
               : std::random_device{}();
  if (const json* st = field(body, "stop")) {
    if (st->is_string()) {
      job.request.stop.push_back(st->get<std::string>());
    } else if (st->is_array() && st->size() <= 4) {
      for (const auto& x : *st) {
        if (!x.is_string()) throw bad("stop", "'stop' must be a string or an array of strings");
        job.request.stop.push_back(x.get<std::string>());
      }
    } else {
      throw bad("stop", "'stop' must be a string or an array of at most 4 strings");
    }
    for (const auto& x : job.request.stop)
      if (x.empty()) throw bad("stop", "'stop' strings must not be empty");
  }
  return job;
}

}  // namespace bcvk::serve
