// What cpp-httplib 0.11 (Debian 12) does not do for a server facing untrusted clients: a deadline
// for reading each request (its read timeout restarts with every byte, so a client sending one
// byte a second held a worker forever), one thread per connection (a slow client holds only its
// own), a cap on open connections, and a way to cut every socket at shutdown.
//
// httplib hands each accepted socket to a TaskQueue as an opaque task.  Connections is that task
// queue's backend: when a task is enqueued (on the accept thread, right after accept()), the one
// socket on the server's port it has not seen yet is the new one; it keeps a dup() of it, so a
// shutdown() it issues always reaches that connection, never a later one reusing the number.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>

namespace bcvk::serve {

class Connections {
 public:
  struct Limits {
    size_t max_connections = 256;   // more are answered 503 and closed
    double request_timeout_s = 30;  // to read one request (line, headers and body)
  };
  explicit Connections(Limits limits);
  ~Connections();
  Connections(const Connections&) = delete;
  Connections& operator=(const Connections&) = delete;

  // The server's port, once bound: sockets are recognized by it.
  void set_port(int port);

  // Runs `task` (httplib's processing of one accepted socket) on a thread of its own.
  void start(std::function<void()> task);
  // Waits until every task has finished (after cut_all(), promptly).
  void join_all();
  // Shuts every open connection's socket down: blocked reads and writes return at once.
  void cut_all();
  size_t open() const;

  // On a connection's thread:
  // true when the connection arrived while the cap was reached: answer 503 and close.
  static bool over_capacity();
  // The request has been read: no deadline while its handler works.
  static void begin_handling();
  // The response has been written: the next request must be read within the timeout.  With
  // close_connection, the socket is shut for writing after it (the client sees the response, then
  // the end), so unread body bytes are never taken for a next request.
  static void end_response();
  static void close_after_response();
  // The client has closed (or reset) its side of this connection.
  static bool peer_closed();
  // When the current request began to arrive, as well as the server knows: the connection's
  // start or the end of its previous response (steady clock; now() off a connection thread).
  static std::chrono::steady_clock::time_point request_start();

 private:
  struct Conn;
  void watch();
  void run(std::shared_ptr<Conn> conn, std::function<void()> task);
  int find_new_socket_locked(unsigned long& inode) const;

  Limits limits_;
  int port_ = -1;
  mutable std::mutex mutex_;
  std::condition_variable done_cv_, watch_cv_;
  std::unordered_map<Conn*, std::shared_ptr<Conn>> conns_;
  std::deque<std::pair<std::shared_ptr<Conn>, std::function<void()>>> pending_;
  size_t threads_ = 0;
  size_t max_threads_;
  bool stopping_ = false;
  std::thread watchdog_;
};

}  // namespace bcvk::serve
