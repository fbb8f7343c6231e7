// Writing what users own: whole files or nothing, symlinks resolved, devices written in place,
// FIFOs refused without blocking, write errors named, no temporary left on failure or on SIGINT,
// and outputs that are inputs (through links) refused before any work.
#include "loaders/atomic_write.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>

namespace bcvk::loaders {
namespace {

namespace fs = std::filesystem;

struct Dir {
  fs::path p = fs::temp_directory_path() /
               ("bcvk-aw-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
  Dir() { fs::create_directories(p); }
  ~Dir() { fs::remove_all(p); }
  static inline int counter = 0;
  size_t entries() const { return size_t(std::distance(fs::directory_iterator(p), {})); }
};

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "no error";
}

TEST(AtomicWrite, ReplacesWholeFilesAndKeepsTheirPermissions) {
  Dir d;
  const auto f = d.p / "out.json";
  write_file_atomically(f, "first");
  EXPECT_EQ(read(f), "first");
  ::chmod(f.c_str(), 0640);
  write_file_atomically(f, std::string(1 << 20, 'x'));  // larger than one buffer
  EXPECT_EQ(read(f).size(), size_t(1) << 20);
  struct stat st {};
  ASSERT_EQ(::stat(f.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_EQ(d.entries(), 1u);  // no temporary left
}

TEST(AtomicWrite, WritersCanMeasureWhatTheyWrote) {
  Dir d;
  std::vector<long> at;
  write_file_atomically(d.p / "m.bin", [&](std::ostream& o) {
    at.push_back(long(o.tellp()));
    o << "0123456789";
    at.push_back(long(o.tellp()));
    o << std::string(70000, 'y');  // past one buffer
    at.push_back(long(o.tellp()));
  });
  EXPECT_EQ(at, (std::vector<long>{0, 10, 70010}));
}

TEST(AtomicWrite, ASymlinkTargetIsWrittenAndTheLinkStays) {
  Dir d;
  const auto real = d.p / "real.txt", link = d.p / "link.txt";
  write_file_atomically(real, "old");
  fs::create_symlink(real, link);
  write_file_atomically(link, "new");
  EXPECT_TRUE(fs::is_symlink(link));
  EXPECT_EQ(read(real), "new");
}

TEST(AtomicWrite, DevicesAreWrittenInPlaceAndFifosRefused) {
  Dir d;
  EXPECT_NO_THROW(write_file_atomically("/dev/null", "discarded"));
  // A full disk: the error names the path and the reason.
  const std::string full =
      error_of([] { write_file_atomically("/dev/full", std::string(100000, 'x')); });
  EXPECT_NE(full.find("/dev/full: write failed: No space left on device"), std::string::npos)
      << full;
  const auto fifo = d.p / "pipe";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const std::string e = error_of([&] { write_file_atomically(fifo, "x"); });  // must not block
  EXPECT_NE(e.find("is not a regular file"), std::string::npos) << e;
  const std::string e2 = error_of([&] { write_file_atomically(d.p, "x"); });
  EXPECT_NE(e2.find("is not a regular file"), std::string::npos) << e2;
}

TEST(AtomicWrite, AFailedWriterLeavesTheOldFileAndNoTemporary) {
  Dir d;
  const auto f = d.p / "keep.txt";
  write_file_atomically(f, "precious");
  EXPECT_THROW(write_file_atomically(f,
                                     [](std::ostream& o) {
                                       o << "half";
                                       throw std::runtime_error("writer failed");
                                     }),
               std::runtime_error);
  EXPECT_EQ(read(f), "precious");
  EXPECT_EQ(d.entries(), 1u);
}

TEST(AtomicWrite, SigintRemovesTheTemporaryAndEndsAsTheSignalWould) {
  Dir d;
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    install_signal_cleanup();
    write_file_atomically(d.p / "big.gguf", [](std::ostream& o) {
      o << std::string(1 << 20, 'x');
      o.flush();
      std::raise(SIGINT);  // as if the user pressed Ctrl-C mid-write
      o << "never";
    });
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGINT);
  EXPECT_EQ(d.entries(), 0u) << "a temporary or a half-written output was left";
}

// A tracked child (bench --startup's measured start) does not outlive an interrupted bcvk: the
// cleanup ends it before the process ends by the signal.  (It was left running.)
bool ended(pid_t pid) {  // gone, or a zombie waiting for a reaper
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return true;
  const auto close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] == 'Z';
}

TEST(AtomicWrite, SigtermEndsTrackedChildren) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    install_signal_cleanup();
    const pid_t grandchild = ::fork();
    if (grandchild == 0) {
      for (;;) ::pause();  // would run forever
    }
    track_child(grandchild);
    (void)!::write(fds[1], &grandchild, sizeof grandchild);
    std::raise(SIGTERM);
    ::_exit(0);
  }
  ::close(fds[1]);
  pid_t grandchild = 0;
  ASSERT_EQ(::read(fds[0], &grandchild, sizeof grandchild), ssize_t(sizeof grandchild));
  ::close(fds[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGTERM);
  bool gone = false;
  for (int i = 0; i < 200 && !gone; ++i) {  // SIGKILL is asynchronous: up to 2 s
    gone = ended(grandchild);
    if (!gone) ::usleep(10000);
  }
  EXPECT_TRUE(gone) << "the tracked child " << grandchild << " outlived its interrupted parent";
  if (!gone) ::kill(grandchild, SIGKILL);
}

TEST(CheckOutputs, RefusesOutputsThatAreInputsOrEachOther) {
  Dir d;
  const auto model = (d.p / "model.gguf").string();
  write_file_atomically(model, "weights");
  const auto hard = (d.p / "hard.gguf").string(), soft = (d.p / "soft.gguf").string();
  fs::create_hard_link(model, hard);
  fs::create_symlink(model, soft);
  const std::vector<NamedPath> in = {{"model", model}};
  for (const auto& out : {model, hard, soft}) {
    const std::string e = error_of([&] { check_outputs(in, {{"--json", out}}); });
    EXPECT_NE(e.find("is the input model"), std::string::npos) << out << ": " << e;
  }
  // Two outputs naming one file (one of them not there yet).
  const auto a = (d.p / "a.json").string();
  std::string e = error_of([&] {
    check_outputs(in, {{"--json", a}, {"--md", d.p.string() + "/./a.json"}});
  });
  EXPECT_NE(e.find("--md"), std::string::npos) << e;
  EXPECT_NE(e.find("is also --json"), std::string::npos) << e;
  e = error_of([&] { check_outputs(in, {{"--html", d.p.string()}}); });
  EXPECT_NE(e.find("is a directory"), std::string::npos) << e;
  e = error_of([&] { check_outputs(in, {{"--html", (d.p / "nope" / "x.html").string()}}); });
  EXPECT_NE(e.find("does not exist"), std::string::npos) << e;
  const auto fifo = d.p / "pipe";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  e = error_of([&] { check_outputs(in, {{"--json", fifo.string()}}); });
  EXPECT_NE(e.find("not a regular file"), std::string::npos) << e;
  // Fine: new files, /dev/null twice, an empty (absent) output.
  EXPECT_NO_THROW(check_outputs(
      in, {{"--json", a}, {"--md", "/dev/null"}, {"--html", "/dev/null"}, {"--x", ""}}));
}

}  // namespace
}  // namespace bcvk::loaders
