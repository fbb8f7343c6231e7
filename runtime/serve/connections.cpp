#include "runtime/serve/connections.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <system_error>

namespace bcvk::serve {

using clock = std::chrono::steady_clock;

struct Connections::Conn {
  Connections* owner = nullptr;
  int fd = -1;  // our dup of the connection's socket, or -1 when it could not be identified
  unsigned long inode = 0;
  clock::time_point deadline, ready = clock::now();
  bool busy = false, cut = false, over = false, close_after = false;
};

namespace {
thread_local std::shared_ptr<void> current_holder;  // keeps the Conn alive on its thread
thread_local void* current = nullptr;

int local_port(int fd) {
  sockaddr_storage a{};
  socklen_t n = sizeof a;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &n) != 0) return -1;
  if (a.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&a)->sin_port);
  if (a.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&a)->sin6_port);
  return -1;
}

bool connected(int fd) {
  sockaddr_storage a{};
  socklen_t n = sizeof a;
  return ::getpeername(fd, reinterpret_cast<sockaddr*>(&a), &n) == 0;
}
}  // namespace

Connections::Connections(Limits limits)
    : limits_(limits), max_threads_(2 * limits.max_connections + 16) {
  watchdog_ = std::thread([this] { watch(); });
}

Connections::~Connections() {
  cut_all();
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  watch_cv_.notify_all();
  watchdog_.join();
  join_all();
}

void Connections::set_port(int port) {
  std::lock_guard lock(mutex_);
  port_ = port;
}

size_t Connections::open() const {
  std::lock_guard lock(mutex_);
  return conns_.size();
}

int Connections::find_new_socket_locked(unsigned long& inode) const {
  if (port_ < 0) return -1;
  DIR* dir = ::opendir("/proc/self/fd");
  if (!dir) return -1;
  int found = -1, candidates = 0;
  while (const dirent* e = ::readdir(dir)) {
    char* end = nullptr;
    const long fd = std::strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0' || fd == ::dirfd(dir)) continue;
    struct stat st {};
    if (::fstat(int(fd), &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
    bool known = false;
    for (const auto& [_, c] : conns_) known = known || c->inode == st.st_ino;
    if (known || local_port(int(fd)) != port_ || !connected(int(fd))) continue;
    found = int(fd);
    inode = st.st_ino;
    ++candidates;
  }
  ::closedir(dir);
  return candidates == 1 ? found : -1;  // ambiguous: better unguarded than the wrong socket
}

void Connections::start(std::function<void()> task) {
  auto conn = std::make_shared<Conn>();
  conn->owner = this;
  bool spawn = false;
  {
    std::lock_guard lock(mutex_);
    unsigned long inode = 0;
    if (const int fd = find_new_socket_locked(inode); fd >= 0) {
      conn->fd = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
      conn->inode = conn->fd >= 0 ? inode : 0;
    }
    conn->deadline = clock::now() + std::chrono::duration_cast<clock::duration>(
                                        std::chrono::duration<double>(limits_.request_timeout_s));
    conns_[conn.get()] = conn;
    conn->over = conns_.size() > limits_.max_connections;
    if (stopping_ && conn->fd >= 0) ::shutdown(conn->fd, SHUT_RDWR);
    if (threads_ < max_threads_) {
      ++threads_;
      spawn = true;
    } else {
      pending_.emplace_back(conn, std::move(task));
    }
  }
  if (!spawn) return;
  try {
    std::thread([this, conn, task]() mutable { run(std::move(conn), std::move(task)); }).detach();
  } catch (const std::system_error&) {
    // No thread to be had: the accept thread serves it (bounded by the request deadline).
    run(std::move(conn), std::move(task));
  }
}

void Connections::run(std::shared_ptr<Conn> conn, std::function<void()> task) {
  for (;;) {
    current_holder = conn;
    current = conn.get();
    task();
    current = nullptr;
    current_holder.reset();
    std::unique_lock lock(mutex_);
    if (conn->fd >= 0) ::close(conn->fd);
    conns_.erase(conn.get());
    conn.reset();
    if (pending_.empty()) {
      --threads_;
      done_cv_.notify_all();  // under the lock: `this` may be gone once it is released
      return;
    }
    conn = std::move(pending_.front().first);
    task = std::move(pending_.front().second);
    pending_.pop_front();
  }
}

void Connections::join_all() {
  std::unique_lock lock(mutex_);
  done_cv_.wait(lock, [&] { return threads_ == 0 && pending_.empty(); });
}

void Connections::cut_all() {
  std::lock_guard lock(mutex_);
  stopping_ = true;
  for (auto& [_, c] : conns_)
    if (c->fd >= 0 && !c->cut) {
      ::shutdown(c->fd, SHUT_RDWR);
      c->cut = true;
    }
}

void Connections::watch() {
  std::unique_lock lock(mutex_);
  while (!stopping_ || !conns_.empty()) {
    watch_cv_.wait_for(lock, std::chrono::milliseconds(100));
    if (stopping_ && threads_ == 0) break;
    const auto now = clock::now();
    for (auto& [_, c] : conns_)
      if (!c->busy && !c->cut && c->fd >= 0 && now > c->deadline) {
        ::shutdown(c->fd, SHUT_RDWR);
        c->cut = true;
      }
  }
}

bool Connections::over_capacity() {
  auto* c = static_cast<Conn*>(current);
  if (!c) return false;
  std::lock_guard lock(c->owner->mutex_);
  return c->over;
}

void Connections::begin_handling() {
  auto* c = static_cast<Conn*>(current);
  if (!c) return;
  std::lock_guard lock(c->owner->mutex_);
  c->busy = true;
}

void Connections::close_after_response() {
  auto* c = static_cast<Conn*>(current);
  if (!c) return;
  std::lock_guard lock(c->owner->mutex_);
  c->close_after = true;
}

void Connections::end_response() {
  auto* c = static_cast<Conn*>(current);
  if (!c) return;
  std::lock_guard lock(c->owner->mutex_);
  c->busy = false;
  const auto now = clock::now();
  c->ready = now;
  if (c->close_after) {
    if (c->fd >= 0 && !c->cut) ::shutdown(c->fd, SHUT_WR);
    c->deadline = now + std::chrono::seconds(1);  // time to read what the client still sends
  } else {
    c->deadline = now + std::chrono::duration_cast<clock::duration>(
                            std::chrono::duration<double>(c->owner->limits_.request_timeout_s));
  }
}

}  // namespace bcvk::serve

namespace bcvk::serve {
bool Connections::peer_closed() {
  auto* c = static_cast<Conn*>(current);
  if (!c || c->fd < 0) return false;
  pollfd p{c->fd, POLLRDHUP, 0};
  return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

clock::time_point Connections::request_start() {
  auto* c = static_cast<Conn*>(current);
  if (!c) return clock::now();
  std::lock_guard lock(c->owner->mutex_);
  return c->ready;
}
}  // namespace bcvk::serve
