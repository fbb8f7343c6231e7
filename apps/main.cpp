// bcvk: transformer inference and block-circulant compression on any Vulkan device.
#include <cstdio>
#include <exception>
#include <map>

#include "apps/commands.h"
#include "apps/progress.h"
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

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  bcvk::apps::set_quiet(quiet);
  try {
    for (auto& [sub, run] : runners)
      if (sub->parsed()) return run();
    return 2;
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "bcvk: error: %s\n", e.what());
    return 1;
  }
}
