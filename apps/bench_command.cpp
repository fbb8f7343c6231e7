// bcvk bench: device roofline (streaming bandwidth and peak FMA throughput), JSON for
// cross-vendor comparison.  The model benchmark joins it with the dense transformer.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "apps/commands.h"
#include "apps/device_flags.h"
#include "loaders/atomic_write.h"
#include "runtime/bench/roofline.h"
#include "runtime/vk/memory.h"

namespace bcvk::apps {

namespace {

struct BenchOptions {
  DeviceFlags dev;
  int reps = 5;
  std::string json_out;
};

nlohmann::json device_json(const vk::PhysicalDeviceInfo& d) {
  return {{"name", d.name},
          {"vendor", vk::vendor_name(d.vendor)},
          {"vendor_id", d.vendor_id},
          {"type", d.type_name()},
          {"driver_name", d.driver_name},
          {"driver_info", d.driver_info},
          {"driver_version", d.driver_version},
          {"api_version", d.api_version_string()}};
}

int run_bench(const BenchOptions& o) {
  if (o.reps < 1)
    throw std::runtime_error("--reps must be at least 1, got " + std::to_string(o.reps));
  vk::Context ctx(context_options(o.dev));
  vk::ProfileTable profile;
  std::fprintf(stderr, "bench: measuring the roofline of %s (%d reps after a warm-up)\n",
               ctx.info().name.c_str(), o.reps);
  const bench::Roofline r = bench::measure_roofline(ctx, o.reps, &profile);
  const auto& sb = r.bandwidth_samples_gbs;
  const auto& sf = r.fma_samples_gflops;
  const auto [bmin, bmax] = std::minmax_element(sb.begin(), sb.end());
  const auto [fmin, fmax] = std::minmax_element(sf.begin(), sf.end());

  std::printf("device     %s (%s, %s %s)\n", ctx.info().name.c_str(),
              vk::vendor_name(ctx.info().vendor), ctx.info().driver_name.c_str(),
              ctx.info().driver_info.c_str());
  std::printf("%-28s %12s %12s %12s\n", "roofline", "median", "min", "max");
  std::printf("%-28s %12.2f %12.2f %12.2f\n", "streaming bandwidth GB/s", r.bandwidth_gbs, *bmin,
              *bmax);
  std::printf("%-28s %12.2f %12.2f %12.2f\n", "FMA throughput GFLOP/s", r.fma_gflops, *fmin, *fmax);
  std::printf("ridge point %.2f FLOP/byte; peak device memory %s\n", r.fma_gflops / r.bandwidth_gbs,
              vk::format_bytes(ctx.allocator().stats().peak_bytes_reserved).c_str());

  if (!o.json_out.empty()) {
    const nlohmann::json j = {
        {"bcvk_version", BCVK_VERSION},
        {"device", device_json(ctx.info())},
        {"reps", o.reps},
        {"roofline",
         {{"bandwidth_gbs", r.bandwidth_gbs},
          {"bandwidth_samples_gbs", r.bandwidth_samples_gbs},
          {"fma_gflops", r.fma_gflops},
          {"fma_samples_gflops", r.fma_samples_gflops},
          {"copy_bytes", r.copy_bytes},
          {"fma_invocations", r.fma_invocations}}},
        {"peak_device_bytes", ctx.allocator().stats().peak_bytes_reserved},
    };
    loaders::write_file_atomically(o.json_out, j.dump(2) + "\n");
    std::fprintf(stderr, "bench: wrote %s\n", o.json_out.c_str());
  }
  return finish(ctx, o.dev, profile);
}

}  // namespace

Runner add_bench_command(CLI::App& app) {
  auto* cmd =
      app.add_subcommand("bench", "Measure the device: roofline bandwidth and FMA throughput");
  auto o = std::make_shared<BenchOptions>();
  add_device_flags(*cmd, o->dev);
  cmd->add_option("--reps", o->reps, "Timed repetitions after one warm-up; medians are reported")
      ->capture_default_str();
  cmd->add_option("--json", o->json_out, "Also write the results as JSON to this file");
  return [o]() { return run_bench(*o); };
}

}  // namespace bcvk::apps
