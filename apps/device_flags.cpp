#include "apps/device_flags.h"

#include <cstdio>
#include <iostream>

namespace bcvk::apps {

void add_device_flags(CLI::App& cmd, DeviceFlags& flags) {
  cmd.add_option("--device", flags.device,
                 "Device index or name substring (see `bcvk devices`); default: BCVK_DEVICE, else "
                 "discrete > integrated > virtual > CPU");
  cmd.add_flag("--profile", flags.profile, "Print a per-op time table from device timestamps");
}

vk::ContextOptions context_options(const DeviceFlags& flags) {
  vk::ContextOptions o;
  o.device = flags.device;
  return o;
}

int finish(vk::Context& ctx, const DeviceFlags& flags, const vk::ProfileTable& profile) {
  if (flags.profile) {
    std::cout << "\nper-op device time (" << ctx.info().name << ")\n";
    profile.print(std::cout);
  }
  if (const size_t n = ctx.instance().validation_message_count()) {
    std::fprintf(stderr, "bcvk: error: %zu validation message(s); see above\n", n);
    return 3;
  }
  return 0;
}

}  // namespace bcvk::apps
