// Flags shared by every subcommand that runs on a device, declared once.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "runtime/vk/context.h"
#include "runtime/vk/profile.h"

namespace bcvk::apps {

struct DeviceFlags {
  std::string device;    // --device
  bool profile = false;  // --profile
};

void add_device_flags(CLI::App& cmd, DeviceFlags& flags);

// The context for `flags.device` (BCVK_DEVICE, BCVK_VALIDATION honoured).
vk::ContextOptions context_options(const DeviceFlags& flags);

// Prints the per-op table when profiling, and turns validation messages into exit code 3.
int finish(vk::Context& ctx, const DeviceFlags& flags, const vk::ProfileTable& profile);

}  // namespace bcvk::apps
