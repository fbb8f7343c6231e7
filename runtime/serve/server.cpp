#include "runtime/serve/server.h"

#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>
#include <random>
#include <stdexcept>
#include <thread>

namespace bcvk::serve {

using nlohmann::json;

namespace {

using clock = std::chrono::steady_clock;
constexpr auto kInvalidUtf8 = json::error_handler_t::replace;

ApiError bad(const std::string& param, const std::string& message) {
  return bad_request(param, message);
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
  res.set_content(error_json(e), "application/json");
}

struct InFlight {
  std::atomic<uint32_t>& count;
  explicit InFlight(std::atomic<uint32_t>& c) : count(c) { ++count; }
  ~InFlight() { --count; }
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;
};

}  // namespace

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
  conns_ =
      std::make_unique<Connections>(Connections::Limits{o_.max_connections, o_.request_timeout_s});
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
  // Shutdown, or a client that closed its connection (a non-streaming request has no write to
  // fail, so the socket itself is asked; the generation runs on the connection's thread).
  job.request.cancelled = [this] { return abort_.load() || Connections::peer_closed(); };
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
    stats.start = clock::now();  // the headers are in; earlier rejections use request_start()
    using R = httplib::Server::HandlerResponse;
    auto refuse = [&](const ApiError& e) {
      json_reply(res, e);
      Connections::close_after_response();  // an unread body is never taken for a request
      return R::Handled;
    };
    if (Connections::over_capacity())
      return refuse({503, "the server has too many open connections; retry later", "server_error",
                     "", "server_busy"});
    if (draining_ && req.path != "/health")
      return refuse({503, "the server is shutting down", "server_error", "", ""});
    bool method_ok = false;
    if (!known_route(req.method, req.path, method_ok))
      return refuse(
          {404, "no route " + req.method + " " + req.path, "invalid_request_error", "", ""});
    if (!method_ok)
      return refuse(
          {405, req.path + " does not take " + req.method, "invalid_request_error", "", ""});
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
    res.set_content(error_json(e), "application/json");
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

  // Health with the occupancy an operator (or the soak test) needs: sessions free and busy,
  // requests waiting, connections open.
  h.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
    json j = {{"status", draining_ ? "shutting_down" : "ok"}};
    {
      std::lock_guard lock(mutex_);
      j["sessions"] = sessions_.size();
      j["sessions_free"] = free_.size();
      j["requests_waiting"] = waiting_;
    }
    j["connections"] = conns_->open();
    res.set_content(j.dump(), "application/json");
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
          if (r.finish_reason == "cancelled") {
            // The client closed its connection: nothing can be sent, so the log says it
            // (499, as nginx's "client closed request").
            log_request(req.method, req.path, 499);
            stats.logged = true;
            res.status = 499;
            return;
          }
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
            send(json::parse(error_json(e)));
            return false;
          } catch (const std::exception& e) {
            send(json::parse(error_json({500, e.what(), "server_error", "", ""})));
            return false;
          }
        });
      } catch (const ApiError& e) {
        res.status = e.status;
        res.set_content(error_json(e), "application/json");
      } catch (const std::invalid_argument& e) {
        res.status = 400;
        res.set_content(error_json(bad("", e.what())), "application/json");
      } catch (const std::exception& e) {
        res.status = 500;
        res.set_content(error_json({500, e.what(), "server_error", "", ""}), "application/json");
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
