#include "apps/progress.h"

#include <unistd.h>

#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <string>

namespace bcvk::apps {

namespace {

using Clock = std::chrono::steady_clock;
constexpr double kLogInterval = 5.0;  // seconds between lines on a pipe or file

// The command line's choice and the task in progress: state of this process's one stderr.
struct State {
  bool quiet = false;
  bool open = false;     // terminal: a redrawn line without its newline
  bool started = false;  // pipe/file: a line of this task was written
  std::string held;      // pipe/file: the latest update not written yet
  Clock::time_point last_line;
};
State& state() {
  static State s;
  return s;
}

bool terminal() {
  static const bool t = ::isatty(STDERR_FILENO) == 1;
  return t;
}

}  // namespace

void set_quiet(bool quiet) {
  state().quiet = quiet;
}

void progress(const char* fmt, ...) {
  State& s = state();
  if (s.quiet) return;
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  std::string text(buf);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\n')) text.pop_back();
  if (terminal()) {
    std::fprintf(stderr, "\r%s\033[K", text.c_str());
    s.open = true;
  } else {
    const auto now = Clock::now();
    if (!s.started || std::chrono::duration<double>(now - s.last_line).count() >= kLogInterval) {
      std::fprintf(stderr, "%s\n", text.c_str());
      s.last_line = now;
      s.started = true;
      s.held.clear();
    } else {
      s.held = text;
    }
  }
  std::fflush(stderr);
}

void end_progress() {
  State& s = state();
  if (s.open) std::fputc('\n', stderr);
  if (!s.held.empty()) std::fprintf(stderr, "%s\n", s.held.c_str());
  s.open = s.started = false;
  s.held.clear();
  std::fflush(stderr);
}

}  // namespace bcvk::apps
