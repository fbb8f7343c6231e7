#include "runtime/serve/server.h"

#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>
#include <limits>
#include <random>
#include <set>
#include <stdexcept>
#include <thread>

namespace bcvk::serve {

using nlohmann::json;

namespace {

using clock = std::chrono::steady_clock;

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

ApiError bad(const std::string& param, const std::string& message) {
  ApiError e;
  e.param = param;
  e.message = message;
  return e;
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
    throw bad(name, std::string("'") + name + "' is " + std::to_string(x) + "; it must be in " +
                        range);
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
  static const std::set<std::string> common = {"model", "max_tokens", "temperature", "top_p",
                                               "top_k", "seed",       "stop",        "stream",
                                               "stream_options", "n", "user"};
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

std::string make_id(const char* prefix, uint64_t n) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s-%llu%08llx", prefix, static_cast<unsigned long long>(n),
                static_cast<unsigned long long>(rng() & 0xffffffffu));
  return buf;
}

// What the request log line reports, filled by the handler on the worker's thread.
struct RequestStats {
  clock::time_point start;
  uint32_t prompt_tokens = 0, completion_tokens = 0;
  double first_token_s = -1, decode_tps = 0;
  bool logged = false;  // a stream logs itself when it ends (httplib skips its logger on errors)
};
thread_local RequestStats stats;

// Compares without an early exit, so response time says nothing about how much of a key matched.
bool same_secret(const std::string& a, const std::string& b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) diff |= a[i] ^ b[i % std::max<size_t>(b.size(), 1)];
  return diff == 0 && !b.empty();
}

// A request's method and path as the log shows them: bytes outside printable ASCII (CR, LF, ESC,
// invalid UTF-8 from percent-decoding) as \xHH, so a request can neither forge a log line nor
// send terminal escapes, and the log stays valid text.
std::string loggable(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += char(c);
    } else {
      char hex[5];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    }
  }
  return out;
}

class ConnectionQueue : public httplib::TaskQueue {
 public:
  explicit ConnectionQueue(Connections& c) : c_(c) {}
  void enqueue(std::function<void()> fn) override { c_.start(std::move(fn)); }
  void shutdown() override { c_.join_all(); }

 private:
  Connections& c_;
};

// The routes there are; anything else is answered before its body is read.
bool known_route(const std::string& method, const std::string& path, bool& method_ok) {
  const bool get = path == "/health" || path == "/v1/models";
  const bool post = path == "/v1/chat/completions" || path == "/v1/completions";
  method_ok = (get && (method == "GET" || method == "HEAD")) || (post && method == "POST");
  return get || post;
}

void json_reply(httplib::Response& res, const ApiError& e) {
  res.status = e.status;
  res.set_content(error_body(e).dump(-1, ' ', false, kInvalidUtf8), "application/json");
}

struct InFlight {
  std::atomic<uint32_t>& count;
  explicit InFlight(std::atomic<uint32_t>& c) : count(c) { ++count; }
  ~InFlight() { --count; }
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;
};

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

class Server::Slot {
 public:
  Slot(Server* s, size_t index) : server_(s), index_(index) {}
  Slot(Slot&& o) noexcept : server_(o.server_), index_(o.index_) { o.server_ = nullptr; }
  Slot(const Slot&) = delete;
  ~Slot() {
    if (server_) server_->release(index_);
  }
  engine::EngineSession& session() { return *server_->sessions_[index_]; }

 private:
  Server* server_;
  size_t index_;
};

Server::Server(engine::Engine& engine, ServerOptions options)
    : engine_(engine), o_(std::move(options)) {
  if (o_.parallel < 1) throw std::invalid_argument("--parallel must be at least 1");
  if (o_.max_connections < 1) throw std::invalid_argument("--max-connections must be at least 1");
  if (!(o_.request_timeout_s > 0))
    throw std::invalid_argument("--request-timeout must be more than 0 seconds");
  conns_ = std::make_unique<Connections>(
      Connections::Limits{o_.max_connections, o_.request_timeout_s});
  http_ = std::make_unique<httplib::Server>();
  if (o_.context == 0) o_.context = engine_.context_length();
  if (!engine_.tokenizer())
    throw std::invalid_argument(engine_.file().source() +
                                ": the model has no tokenizer; bcvk serve needs a GGUF model");
  for (uint32_t i = 0; i < o_.parallel; ++i) {
    sessions_.push_back(std::make_unique<engine::EngineSession>(engine_, o_.context));
    free_.push_back(i);
  }
  // A thread per connection: a slow client holds its own thread, never a shared worker, and
  // every queued request really waits in acquire(), so --max-queue is reachable.
  http_->new_task_queue = [this] { return new ConnectionQueue(*conns_); };
  http_->set_payload_max_length(o_.max_body_bytes);
  http_->set_keep_alive_timeout(2);
  http_->set_read_timeout(30);
  http_->set_write_timeout(30);
  routes();
}

Server::~Server() = default;

Server::Slot Server::acquire() {
  std::unique_lock lock(mutex_);
  if (free_.empty() && waiting_ >= o_.max_queue)
    throw ApiError{
        503,
        "the server is busy: " + std::to_string(waiting_) + " requests are waiting; retry later",
        "server_error", "", "server_busy"};
  ++waiting_;
  cv_.wait(lock, [&] { return !free_.empty() || abort_.load(); });
  --waiting_;
  if (abort_) throw ApiError{503, "the server is shutting down", "server_error", "", ""};
  const size_t i = free_.front();
  free_.pop_front();
  return Slot(this, i);
}

void Server::release(size_t index) {
  {
    std::lock_guard lock(mutex_);
    free_.push_back(index);
  }
  cv_.notify_one();
}

engine::GenerateResult Server::execute(Job& job,
                                       const std::function<bool(const std::string&)>& on_text) {
  Slot slot = acquire();
  job.request.on_text = on_text;
  job.request.cancelled = [this] { return abort_.load(); };
  auto r = engine::generate_text(slot.session(), job.request);
  stats.prompt_tokens = r.prompt_tokens;
  stats.completion_tokens = r.completion_tokens;
  // Time to first token as the client sees it: from the request's arrival, queueing included.
  stats.first_token_s = std::chrono::duration<double>(clock::now() - stats.start).count() -
                        (r.total_s - r.first_token_s);
  const double decode_s = r.total_s - r.first_token_s;
  stats.decode_tps =
      r.completion_tokens > 1 && decode_s > 0 ? (r.completion_tokens - 1) / decode_s : 0;
  if (r.finish_reason == "cancelled" && abort_) r.finish_reason = "length";  // cut by shutdown
  return r;
}

void Server::routes() {
  auto& h = *http_;
  h.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    stats = RequestStats{};
    stats.start = Connections::request_start();
    using R = httplib::Server::HandlerResponse;
    auto refuse = [&](const ApiError& e) {
      json_reply(res, e);
      Connections::close_after_response();  // an unread body is never taken for a request
      return R::Handled;
    };
    if (Connections::over_capacity())
      return refuse({503, "the server has too many open connections; retry later",
                     "server_error", "", "server_busy"});
    if (draining_ && req.path != "/health")
      return refuse({503, "the server is shutting down", "server_error", "", ""});
    bool method_ok = false;
    if (!known_route(req.method, req.path, method_ok))
      return refuse({404, "no route " + req.method + " " + req.path, "invalid_request_error", "",
                     ""});
    if (!method_ok)
      return refuse({405, req.path + " does not take " + req.method, "invalid_request_error", "",
                     ""});
    if (!o_.api_key.empty() && req.path.rfind("/v1/", 0) == 0 &&
        !same_secret(req.get_header_value("Authorization"), "Bearer " + o_.api_key))
      return refuse({401, "missing or wrong API key (Authorization: Bearer ...)",
                     "invalid_request_error", "", "invalid_api_key"});
    if (req.method == "POST" && req.is_multipart_form_data())
      return refuse({415, "the request body must be JSON (Content-Type: application/json)",
                     "invalid_request_error", "", ""});
    return R::Unhandled;
  });
  h.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    ApiError e{res.status, "", res.status >= 500 ? "server_error" : "invalid_request_error", "",
               ""};
    e.message = res.status == 404   ? "no route " + req.method + " " + req.path
                : res.status == 413 ? "the request body is larger than the server accepts"
                : res.status == 400 ? "malformed HTTP request"
                : res.status == 414 ? "the request line is too long"
                                    : "HTTP " + std::to_string(res.status);
    res.set_content(error_body(e).dump(-1, ' ', false, kInvalidUtf8), "application/json");
  });
  // An exception that escaped a handler: a plain 500 (httplib's default puts the exception's
  // text in a response header); what it was goes to the log only.
  h.set_exception_handler(
      [this](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "unknown exception";
        try {
          std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        if (o_.log) o_.log("internal error: " + loggable(what));
        json_reply(res, {500, "internal server error", "server_error", "", ""});
      });
  h.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    if (!stats.logged)
      log_request(req.method.empty() ? "-" : req.method, req.path.empty() ? "-" : req.path,
                  res.status);
    stats = RequestStats{};
    Connections::end_response();
  });

  h.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(
        json{{"status", draining_ ? "shutting_down" : "ok"}}.dump(-1, ' ', false, kInvalidUtf8),
        "application/json");
  });
  h.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
    json m = {{"id", engine_.name()}, {"object", "model"}, {"created", 0}, {"owned_by", "bcvk"}};
    res.set_content(
        json{{"object", "list"}, {"data", json::array({m})}}.dump(-1, ' ', false, kInvalidUtf8),
        "application/json");
  });

  auto generate = [this](bool chat) {
    return [this, chat](const httplib::Request& req, httplib::Response& res,
                        const httplib::ContentReader& read) {
      // The body, read here so that its size is bounded however it is sent: httplib checks
      // Content-Length against --max-body, but reads a chunked body whole.  The rest of a too
      // large chunked body is read and dropped (bounded by the request timeout).
      std::string body;
      bool too_large = false;
      const bool complete = read([&](const char* data, size_t n) {
        if (!too_large && body.size() + n <= o_.max_body_bytes)
          body.append(data, n);
        else
          too_large = true;
        return true;
      });
      if (too_large || res.status == 413) {
        json_reply(res, {413,
                         "the request body is larger than the server accepts (" +
                             std::to_string(o_.max_body_bytes) + " bytes)",
                         "invalid_request_error", "", ""});
        return;
      }
      if (!complete) {
        Connections::close_after_response();
        json_reply(res, bad("", "the request body could not be read (malformed or cut short)"));
        return;
      }
      Connections::begin_handling();
      // Counts the request as in flight until its response (and any stream) is gone.
      auto in_flight = std::make_shared<InFlight>(active_);
      try {
        RequestContext rc{engine_.tokenizer(), engine_.chat(), engine_.chat_error(), o_.context,
                          o_.completions_parse_special};
        auto job = std::make_shared<Job>(parse_request(body, chat, rc));
        const std::string id = make_id(chat ? "chatcmpl" : "cmpl", next_id_++);
        const int64_t created = static_cast<int64_t>(std::time(nullptr));
        const std::string model = engine_.name();
        auto usage = [](const engine::GenerateResult& r) {
          return json{{"prompt_tokens", r.prompt_tokens},
                      {"completion_tokens", r.completion_tokens},
                      {"total_tokens", r.prompt_tokens + r.completion_tokens}};
        };
        if (!job->stream) {
          const auto r = execute(*job, {});
          json choice = {{"index", 0}, {"finish_reason", r.finish_reason}, {"logprobs", nullptr}};
          if (chat)
            choice["message"] = {{"role", "assistant"}, {"content", r.text}};
          else
            choice["text"] = r.text;
          res.set_content(json{{"id", id},
                               {"object", chat ? "chat.completion" : "text_completion"},
                               {"created", created},
                               {"model", model},
                               {"choices", json::array({choice})},
                               {"usage", usage(r)}}
                              .dump(-1, ' ', false, kInvalidUtf8),
                          "application/json");
          return;
        }
        // Streaming: the generation runs inside the content provider, which holds in_flight.
        res.set_header("Cache-Control", "no-cache");
        res.set_header("X-Accel-Buffering", "no");
        res.set_chunked_content_provider("text/event-stream", [this, job, id, created, model, chat,
                                                               usage, in_flight, path = req.path](
                                                                  size_t, httplib::DataSink& sink) {
          auto chunk = [&](json delta_or_text, json finish_reason) {
            json c = {{"index", 0}, {"finish_reason", finish_reason}, {"logprobs", nullptr}};
            if (chat)
              c["delta"] = std::move(delta_or_text);
            else
              c["text"] = std::move(delta_or_text);
            return json{{"id", id},
                        {"object", chat ? "chat.completion.chunk" : "text_completion"},
                        {"created", created},
                        {"model", model},
                        {"choices", json::array({c})}};
          };
          auto send = [&](const json& j) {
            const std::string s = "data: " + j.dump(-1, ' ', false, kInvalidUtf8) + "\n\n";
            return sink.write(s.data(), s.size());
          };
          // The stream's log line, however it ends (a client that went away included).
          struct LogAtEnd {
            std::function<void()> f;
            ~LogAtEnd() { f(); }
          } log_at_end{[this, path] {
            log_request("POST", path, 200);
            stats.logged = true;
          }};
          try {
            if (chat && !send(chunk(json{{"role", "assistant"}, {"content", ""}}, nullptr)))
              return false;
            const auto r = execute(*job, [&](const std::string& text) {
              return send(chat ? chunk(json{{"content", text}}, nullptr) : chunk(text, nullptr));
            });
            if (r.finish_reason == "cancelled") return false;  // the client went away
            if (!send(chat ? chunk(json::object(), r.finish_reason) : chunk("", r.finish_reason)))
              return false;
            if (job->include_usage) {
              json u = chunk(json::object(), nullptr);
              u["choices"] = json::array();
              u["usage"] = usage(r);
              if (!send(u)) return false;
            }
            const std::string end = "data: [DONE]\n\n";
            if (!sink.write(end.data(), end.size())) return false;
            sink.done();
            return true;
          } catch (const ApiError& e) {
            send(error_body(e));
            return false;
          } catch (const std::exception& e) {
            send(error_body({500, e.what(), "server_error", "", ""}));
            return false;
          }
        });
      } catch (const ApiError& e) {
        res.status = e.status;
        res.set_content(error_body(e).dump(-1, ' ', false, kInvalidUtf8), "application/json");
      } catch (const std::invalid_argument& e) {
        res.status = 400;
        res.set_content(error_body(bad("", e.what())).dump(-1, ' ', false, kInvalidUtf8),
                        "application/json");
      } catch (const std::exception& e) {
        res.status = 500;
        res.set_content(
            error_body({500, e.what(), "server_error", "", ""}).dump(-1, ' ', false, kInvalidUtf8),
            "application/json");
      }
    };
  };
  h.Post("/v1/chat/completions", generate(true));
  h.Post("/v1/completions", generate(false));
}


void Server::log_request(const std::string& raw_method, const std::string& raw_path, int status) {
  if (!o_.log) return;
  const std::string method = loggable(raw_method), path = loggable(raw_path);
  const auto start =
      stats.start == clock::time_point{} ? Connections::request_start() : stats.start;
  const double s = std::chrono::duration<double>(clock::now() - start).count();
  char line[512];
  if (stats.first_token_s >= 0)
    std::snprintf(line, sizeof line,
                  "%s %s %d prompt=%u completion=%u ttft=%.3fs decode=%.1f tok/s time=%.3fs",
                  method.c_str(), path.c_str(), status, stats.prompt_tokens,
                  stats.completion_tokens, stats.first_token_s, stats.decode_tps, s);
  else
    std::snprintf(line, sizeof line, "%s %s %d time=%.3fs", method.c_str(), path.c_str(), status,
                  s);
  o_.log(line);
}

void Server::bind() {
  if (o_.port == 0) {
    port_ = http_->bind_to_any_port(o_.host);
    if (port_ < 0) throw std::runtime_error("cannot bind " + o_.host + " to any port");
  } else {
    if (!http_->bind_to_port(o_.host, o_.port))
      throw std::runtime_error("cannot bind " + o_.host + ":" + std::to_string(o_.port) +
                               " (in use, or not an address of this machine)");
    port_ = o_.port;
  }
  conns_->set_port(port_);
}

void Server::run() {
  if (!http_->listen_after_bind() && !draining_)
    throw std::runtime_error("the server on " + o_.host + ":" + std::to_string(port_) + " failed");
}

void Server::stop() {
  draining_ = true;
  const auto deadline = clock::now() + std::chrono::duration<double>(o_.shutdown_grace_s);
  while (active_ > 0 && clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  abort_ = true;
  cv_.notify_all();
  // Cancelled generations stop at their next token and send their last chunk; a second later
  // every socket is cut, whatever its client is doing, so shutdown is bounded.
  const auto soon = clock::now() + std::chrono::seconds(1);
  while (active_ > 0 && clock::now() < soon)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  conns_->cut_all();
  http_->stop();
}

}  // namespace bcvk::serve
