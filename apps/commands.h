// Subcommands of the bcvk binary.  apps/ stays thin: flags, progress and printing; the work is
// done by the runtime and loader libraries.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace bcvk::apps {

// Each registers its subcommand on `app` and returns the function that runs it (exit code).
using Runner = std::function<int()>;
Runner add_devices_command(CLI::App& app);
Runner add_info_command(CLI::App& app);
Runner add_bench_command(CLI::App& app);
Runner add_generate_command(CLI::App& app);
Runner add_eval_command(CLI::App& app);
Runner add_compress_command(CLI::App& app);
Runner add_serve_command(CLI::App& app);
Runner add_report_command(CLI::App& app);

}  // namespace bcvk::apps
