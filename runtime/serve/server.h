// `bcvk serve`: the OpenAI HTTP API (chat completions, completions, models, health) over one
// Engine, with --parallel sessions and a queue, served by cpp-httplib.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/engine/engine.h"
#include "runtime/serve/connections.h"
#include "runtime/serve/request.h"

namespace httplib {
class Server;
}

namespace bcvk::serve {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: any free port (see Server::port())
  uint32_t parallel = 1;
  std::string api_key;   // non-empty: /v1/* needs "Authorization: Bearer KEY"
  uint32_t context = 0;  // per session; 0: the engine's
  size_t max_body_bytes = 1 << 20;
  uint32_t max_queue = 64;                      // requests waiting for a session before 503
  double shutdown_grace_s = 10;                 // in-flight generations get this long after stop()
  size_t max_connections = 256;                 // open connections; more get 503 and are closed
  double request_timeout_s = 30;                // to receive one request, headers and body
  bool completions_parse_special = false;       // /v1/completions prompts may hold control tokens
  std::function<void(const std::string&)> log;  // one line per request; may be empty
};

class Server {
 public:
  Server(engine::Engine& engine, ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds the socket (throws std::runtime_error naming host:port when it cannot).
  void bind();
  int port() const { return port_; }
  // Serves until stop(); returns when every worker has finished.
  void run();
  // From any thread or a signal-waiting thread: refuses new requests (503), lets in-flight ones
  // finish within shutdown_grace_s, then cancels what is left and makes run() return.
  void stop();

 private:
  class Slot;
  Slot acquire();
  void release(size_t index);
  engine::GenerateResult execute(Job& job, const std::function<bool(const std::string&)>& on_text);
  void routes();
  void log_request(const std::string& method, const std::string& path, int status);

  engine::Engine& engine_;
  ServerOptions o_;
  std::unique_ptr<Connections> conns_;  // outlives http_, whose task queue runs on it
  std::unique_ptr<httplib::Server> http_;
  int port_ = 0;
  std::vector<std::unique_ptr<engine::EngineSession>> sessions_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<size_t> free_;
  uint32_t waiting_ = 0;
  std::atomic<uint32_t> active_{0};
  std::atomic<bool> draining_{false}, abort_{false};
  std::atomic<uint64_t> next_id_{1};
};

}  // namespace bcvk::serve
