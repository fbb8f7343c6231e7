// bcvk: transformer inference and block-circulant compression on any Vulkan device.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <iostream>
#include <map>

#include "apps/commands.h"
#include "apps/progress.h"
#include "apps/text.h"
#include "loaders/atomic_write.h"
#include "runtime/vk/error.h"

int main(int argc, char** argv) {
  CLI::App app{
      "bcvk: run llama-family language models as Vulkan compute shaders on any GPU (or "
      "lavapipe), and measure block-circulant compressed MLPs against the dense model."};
  app.require_subcommand(1);
  app.set_version_flag("--version", BCVK_VERSION);
  bool quiet = false;
  app.add_flag("-q,--quiet", quiet,
               "No progress lines on stderr (results, warnings and errors still print)");
  std::map<CLI::App*, bcvk::apps::Runner> runners;
  auto add = [&](bcvk::apps::Runner (*f)(CLI::App&)) {
    const size_t before = app.get_subcommands({}).size();
    bcvk::apps::Runner r = f(app);
    CLI::App* sub = app.get_subcommands({})[before];
    sub->fallthrough();  // --quiet may follow the subcommand
    runners[sub] = std::move(r);
  };
  add(bcvk::apps::add_devices_command);
  add(bcvk::apps::add_info_command);
  add(bcvk::apps::add_bench_command);
  add(bcvk::apps::add_generate_command);
  add(bcvk::apps::add_eval_command);
  add(bcvk::apps::add_compress_command);
  add(bcvk::apps::add_serve_command);
  add(bcvk::apps::add_report_command);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  bcvk::apps::set_quiet(quiet);
  bcvk::loaders::install_signal_cleanup();
  // Redirected results are written at exit in one piece, so a write error is seen with its
  // reason (and a file never holds half a table).  A terminal keeps line buffering.
  if (!::isatty(STDOUT_FILENO)) std::setvbuf(stdout, nullptr, _IOFBF, 1 << 20);
  int rc = 2;
  try {
    for (auto& [sub, run] : runners)
      if (sub->parsed()) {
        rc = run();
        break;
      }
  } catch (const std::exception& e) {
    std::fflush(stdout);
    // Messages quote file contents (tensor names, metadata): no raw control characters.
    std::fprintf(stderr, "bcvk: error: %s\n", bcvk::apps::terminal_safe(e.what(), true).c_str());
    return 1;
  }
  // Results that did not reach stdout (a full disk, a closed pipe) are a failure, not a success.
  errno = 0;
  std::cout.flush();
  int err = errno;
  const bool flushed = std::fflush(stdout) == 0;
  if (!err) err = errno;
  if (!flushed || std::ferror(stdout) || !std::cout) {
    // The failed write may lie far back (stdio writes large blocks directly): one more byte
    // tells the reason.
    if (!err && ::write(STDOUT_FILENO, "\n", 1) < 0) err = errno;
    std::fprintf(stderr, "bcvk: error: writing the results to stdout failed: %s\n",
                 err ? std::strerror(err) : "write error");
    return 1;
  }
  return rc;
}
