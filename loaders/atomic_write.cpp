#include "loaders/atomic_write.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <streambuf>

namespace bcvk::loaders {

namespace {

std::string reason() {
  return std::strerror(errno);
}

// An ostream's bytes straight to a file descriptor, remembering the first error.
class FdBuf : public std::streambuf {
 public:
  explicit FdBuf(int fd) : fd_(fd) { setp(buf_.data(), buf_.data() + buf_.size()); }
  int error() const { return error_; }
  bool flush_all() { return sync() == 0; }

 protected:
  int_type overflow(int_type ch) override {
    if (!drain()) return traits_type::eof();
    if (ch != traits_type::eof()) {
      *pptr() = char(ch);
      pbump(1);
    }
    return traits_type::not_eof(ch);
  }
  int sync() override { return drain() ? 0 : -1; }
  // tellp() only: writers that measure what they wrote (the GGUF writer's padding).
  pos_type seekoff(off_type off, std::ios_base::seekdir dir, std::ios_base::openmode) override {
    if (off != 0 || dir != std::ios_base::cur) return pos_type(off_type(-1));
    return pos_type(off_type(written_ + uint64_t(pptr() - pbase())));
  }

 private:
  bool drain() {
    const char* p = pbase();
    while (p < pptr()) {
      const ssize_t n = ::write(fd_, p, size_t(pptr() - p));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        if (!error_) error_ = n < 0 ? errno : ENOSPC;
        return false;
      }
      p += n;
      written_ += uint64_t(n);
    }
    setp(buf_.data(), buf_.data() + buf_.size());
    return true;
  }
  int fd_;
  int error_ = 0;
  uint64_t written_ = 0;
  std::array<char, 1 << 16> buf_;
};

// Temporaries being written, for the signal handler: fixed storage, no allocation there.
constexpr int kSlots = 8;
constexpr size_t kPathMax = 4096;
char g_tmp[kSlots][kPathMax];
std::atomic<bool> g_used[kSlots];

int claim(const std::string& path) {
  if (path.size() >= kPathMax) return -1;
  for (int i = 0; i < kSlots; ++i) {
    bool expected = false;
    if (g_used[i].compare_exchange_strong(expected, true)) {
      std::memcpy(g_tmp[i], path.c_str(), path.size() + 1);
      return i;
    }
  }
  return -1;
}
void release(int slot) {
  if (slot >= 0) g_used[slot] = false;
}

std::atomic<int> g_child[kSlots];

extern "C" void on_signal(int sig) {
  for (int i = 0; i < kSlots; ++i)
    if (g_used[i]) ::unlink(g_tmp[i]);
  for (int i = 0; i < kSlots; ++i)
    if (const int pid = g_child[i]; pid > 0) ::kill(pid, SIGKILL);
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

// Writes to an already-open descriptor; throws naming `shown` on failure.
void write_fd(int fd, const std::string& shown, const std::function<void(std::ostream&)>& writer) {
  FdBuf buf(fd);
  std::ostream out(&buf);
  writer(out);
  const bool ok = buf.flush_all() && out.good();
  if (!ok) {
    const int e = buf.error() ? buf.error() : EIO;
    throw std::runtime_error(shown + ": write failed: " + std::strerror(e));
  }
}

}  // namespace

void write_file_atomically(const std::filesystem::path& path,
                           const std::function<void(std::ostream&)>& writer) {
  std::filesystem::path target = path;
  struct stat st {};
  if (::lstat(target.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
    std::error_code ec;
    const auto resolved = std::filesystem::canonical(target, ec);
    if (ec)
      throw std::runtime_error(path.string() + " is a symlink to a missing place: " + ec.message());
    target = resolved;
  }
  if (::stat(target.c_str(), &st) == 0) {
    if (S_ISCHR(st.st_mode)) {  // /dev/stdout, /dev/null: written in place
      const int fd = ::open(target.c_str(), O_WRONLY | O_CLOEXEC);
      if (fd < 0) throw std::runtime_error(path.string() + ": cannot open: " + reason());
      try {
        write_fd(fd, path.string(), writer);
      } catch (...) {
        ::close(fd);
        throw;
      }
      ::close(fd);
      return;
    }
    if (!S_ISREG(st.st_mode))
      throw std::runtime_error(path.string() +
                               " is not a regular file (a directory, FIFO, socket or block "
                               "device); bcvk writes regular files and character devices only");
  }
  const std::filesystem::path dir = target.has_parent_path() ? target.parent_path() : ".";
  if (!std::filesystem::is_directory(dir))
    throw std::runtime_error(path.string() + ": directory " + dir.string() + " does not exist");
  std::string tmp = target.string() + ".bcvk-XXXXXX";
  const int fd = ::mkostemp(tmp.data(), O_CLOEXEC);  // O_EXCL, a name nobody can predict
  if (fd < 0)
    throw std::runtime_error(path.string() + ": cannot create a file in " + dir.string() + ": " +
                             reason());
  const int slot = claim(tmp);
  try {
    write_fd(fd, path.string(), writer);
    if (::fsync(fd) != 0) throw std::runtime_error(path.string() + ": write failed: " + reason());
    // Keep the permissions of a file being replaced; a new one gets the usual 0666 & ~umask.
    mode_t mode = 0666;
    struct stat old {};
    if (::stat(target.c_str(), &old) == 0) {
      mode = old.st_mode & 07777;
    } else {
      const mode_t mask = ::umask(0);
      ::umask(mask);
      mode &= ~mask;
    }
    ::fchmod(fd, mode);
    if (::close(fd) != 0) {
      const std::string r = reason();
      ::unlink(tmp.c_str());
      release(slot);
      throw std::runtime_error(path.string() + ": write failed: " + r);
    }
    if (::rename(tmp.c_str(), target.c_str()) != 0)
      throw std::runtime_error(path.string() + ": cannot replace: " + reason());
  } catch (...) {
    ::close(fd);  // harmless when already closed (EBADF)
    ::unlink(tmp.c_str());
    release(slot);
    throw;
  }
  release(slot);
}

void write_file_atomically(const std::filesystem::path& path, std::string_view content) {
  write_file_atomically(path, [&](std::ostream& out) {
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
  });
}

void check_outputs(const std::vector<NamedPath>& inputs, const std::vector<NamedPath>& outputs) {
  struct Id {
    dev_t dev;
    ino_t ino;
  };
  auto id = [](const std::string& p) -> std::optional<Id> {
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0) return std::nullopt;
    return Id{st.st_dev, st.st_ino};
  };
  auto same_place = [](const std::string& a, const std::string& b) {
    std::error_code e1, e2;
    const auto ca = std::filesystem::weakly_canonical(a, e1),
               cb = std::filesystem::weakly_canonical(b, e2);
    return !e1 && !e2 && ca == cb;
  };
  for (size_t i = 0; i < outputs.size(); ++i) {
    const std::string &flag = outputs[i].first, &out = outputs[i].second;
    if (out.empty()) continue;
    struct stat st {};
    const bool exists = ::stat(out.c_str(), &st) == 0;
    if (exists && S_ISDIR(st.st_mode))
      throw std::invalid_argument(flag + " " + out + " is a directory; give a file name");
    if (exists && !S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode))
      throw std::invalid_argument(flag + " " + out +
                                  " is not a regular file (a FIFO, socket or block device)");
    std::error_code ec;
    auto dir = std::filesystem::absolute(out, ec).parent_path();
    if (exists) dir = std::filesystem::weakly_canonical(out, ec).parent_path();
    if (!std::filesystem::is_directory(dir, ec))
      throw std::invalid_argument(flag + " " + out + ": the directory " + dir.string() +
                                  " does not exist");
    if (!(exists && S_ISCHR(st.st_mode)) && ::access(dir.c_str(), W_OK) != 0)
      throw std::invalid_argument(flag + " " + out + ": the directory " + dir.string() +
                                  " is not writable (" + reason() + ")");
    const auto oid = id(out);
    auto clash = [&](const NamedPath& other) {
      if (other.second.empty()) return false;
      if (oid && S_ISCHR(st.st_mode)) return false;  // /dev/null twice is fine
      const auto xid = id(other.second);
      if (oid && xid) return oid->dev == xid->dev && oid->ino == xid->ino;
      return same_place(out, other.second);
    };
    for (const auto& in : inputs)
      if (clash(in))
        throw std::invalid_argument(flag + " " + out + " is the input " + in.first + " " +
                                    in.second + "; bcvk never overwrites its inputs");
    for (size_t j = 0; j < i; ++j)
      if (clash(outputs[j]))
        throw std::invalid_argument(flag + " " + out + " is also " + outputs[j].first + " " +
                                    outputs[j].second + "; give each output its own file");
  }
}

void track_child(int pid) {
  for (int i = 0; i < kSlots; ++i) {
    int expected = 0;
    if (g_child[i].compare_exchange_strong(expected, pid)) return;
  }
}

void untrack_child(int pid) {
  for (int i = 0; i < kSlots; ++i) {
    int expected = pid;
    if (g_child[i].compare_exchange_strong(expected, 0)) return;
  }
}

void install_signal_cleanup() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
}

}  // namespace bcvk::loaders
