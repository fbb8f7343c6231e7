// bcvk bench --startup: cold and warm starts, each in a fresh process, phase by phase.
#pragma once

#include <string>

#include "apps/device_flags.h"
#include "apps/model_flags.h"

namespace bcvk::apps {

struct StartupBenchOptions {
  DeviceFlags dev;
  ModelFlags model;
  int reps = 3;
  std::string json_out;
};

// The parent: `reps` cold starts (each with empty bcvk and Mesa caches in a private directory)
// and `reps` warm starts (with the caches the first cold start left), medians printed as a table
// and, with json_out, written as JSON.
int run_startup_bench(const StartupBenchOptions& o);

// The child (hidden flag --startup-run FILE): one measured start, written to `result_json`.
int run_startup_child(const StartupBenchOptions& o, const std::string& result_json);

}  // namespace bcvk::apps
