// bcvk serve: the OpenAI HTTP API on loopback (or --host), until SIGINT/SIGTERM.
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>

#include <csignal>
#include <cstdio>
#include <thread>

#include "apps/commands.h"
#include "apps/device_flags.h"
#include "apps/model_flags.h"
#include "apps/progress.h"
#include "runtime/serve/server.h"

namespace bcvk::apps {

namespace {

struct ServeOptions {
  DeviceFlags dev;
  ModelFlags model;
  serve::ServerOptions server;
};

// SIGINT/SIGTERM may land on any thread (OpenBLAS starts its own before main), so the handler
// only writes the signal's number to a pipe that one thread waits on.
int stop_pipe[2] = {-1, -1};

extern "C" void on_stop_signal(int sig) {
  const unsigned char b = static_cast<unsigned char>(sig);
  [[maybe_unused]] const ssize_t n = ::write(stop_pipe[1], &b, 1);
}

int run_serve(ServeOptions& o) {
  if (::pipe(stop_pipe) != 0) throw std::runtime_error("serve: cannot create a pipe");
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);  // a client that went away is an error return, not a signal
  // Each connection holds two descriptors (httplib's and the guard's dup): room for the cap.
  if (rlimit r{}; ::getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
    r.rlim_cur = std::max<rlim_t>(r.rlim_cur,
                                  std::min<rlim_t>(r.rlim_max, 4 * o.server.max_connections + 256));
    ::setrlimit(RLIMIT_NOFILE, &r);
  }

  const auto file = loaders::LlamaModelFile::open(o.model.model);
  engine::EngineOptions eo;
  eo.device = o.dev.device;
  eo.weights = weight_mode(o.model);
  eo.kv = kv_type(o.model);
  eo.context = context_length(o.model, file.config());
  eo.progress = [](size_t done, size_t total) {
    if (done == total || done % 27 == 0) progress("loading weights: %zu/%zu tensors", done, total);
  };
  engine::Engine engine(o.model.model, eo);
  end_progress();
  o.server.log = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
  serve::Server server(engine, o.server);
  server.bind();
  std::fprintf(stderr,
               "bcvk serve: listening on http://%s:%d (model %s on %s, %u session(s) of %u "
               "tokens)\n",
               o.server.host.c_str(), server.port(), engine.name().c_str(),
               engine.vk_context().info().name.c_str(), o.server.parallel,
               o.server.context ? o.server.context : engine.context_length());
  std::fflush(stderr);

  std::thread waiter([&] {
    unsigned char sig = 0;
    while (::read(stop_pipe[0], &sig, 1) < 0 && errno == EINTR) {
    }
    if (sig == 0) return;  // run() ended by itself
    std::fprintf(stderr, "bcvk serve: %s: finishing in-flight requests, then exiting\n",
                 sig == SIGINT ? "SIGINT" : "SIGTERM");
    server.stop();
  });
  auto wake_waiter = [&] {
    const unsigned char zero = 0;
    [[maybe_unused]] const ssize_t n = ::write(stop_pipe[1], &zero, 1);
  };
  int rc = 0;
  try {
    server.run();
  } catch (...) {
    wake_waiter();
    waiter.join();
    throw;
  }
  wake_waiter();  // harmless when a signal already ended it
  waiter.join();
  std::fprintf(stderr, "bcvk serve: stopped\n");
  if (const size_t n = engine.vk_context().instance().validation_message_count()) {
    std::fprintf(stderr, "bcvk: error: %zu validation message(s); see above\n", n);
    rc = 3;
  }
  return rc;
}

}  // namespace

Runner add_serve_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("serve", "Serve the OpenAI HTTP API (chat and completions)");
  auto o = std::make_shared<ServeOptions>();
  add_device_flags(*cmd, o->dev);
  add_model_flags(*cmd, o->model);
  cmd->add_option("--host", o->server.host, "Address to listen on (loopback unless told)")
      ->capture_default_str();
  cmd->add_option("--port", o->server.port, "TCP port (0: any free port, printed at start)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--parallel", o->server.parallel,
                  "Sessions serving requests at once (each has its own KV cache); others queue")
      ->capture_default_str()
      ->check(CLI::Range(1u, 64u));
  cmd->add_option("--api-key", o->server.api_key,
                  "Require 'Authorization: Bearer KEY' on /v1/* (default: no key)");
  cmd->add_option("--max-body", o->server.max_body_bytes, "Largest request body in bytes")
      ->capture_default_str()
      ->check(CLI::Range(size_t(1024), size_t(1) << 30));
  cmd->add_option("--shutdown-grace", o->server.shutdown_grace_s,
                  "Seconds in-flight requests get after SIGINT/SIGTERM")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 3600.0));
  cmd->add_option("--max-queue", o->server.max_queue,
                  "Requests waiting for a session at most; more are answered 503 (server_busy)")
      ->capture_default_str()
      ->check(CLI::Range(0u, 4096u));
  cmd->add_option("--max-connections", o->server.max_connections,
                  "Open connections at most; more are answered 503 and closed")
      ->capture_default_str()
      ->check(CLI::Range(size_t(1), size_t(4096)));
  cmd->add_option("--request-timeout", o->server.request_timeout_s,
                  "Seconds a client gets to send one whole request (line, headers, body)")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 3600.0));
  cmd->add_flag("--completions-parse-special", o->server.completions_parse_special,
                "Let /v1/completions prompts contain control tokens as text (\"<|im_start|>\"); "
                "chat messages are always text");
  return [o]() { return run_serve(*o); };
}

}  // namespace bcvk::apps
