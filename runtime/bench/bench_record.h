// What a `bcvk bench` JSON file (schema bcvk.bench/1, docs/FORMATS.md) says about where it was
// measured -- bcvk's version and commit, the host's OS and CPU, the device, its driver and Vulkan
// API -- and how close each decode kernel came to the copy roofline.  bench_report.h reads such
// files back.  Test: tests/bench/bench_report_test.cpp.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "runtime/model/model.h"
#include "runtime/vk/instance.h"
#include "runtime/vk/profile.h"

namespace bcvk::bench {

inline constexpr const char* kBenchSchema = "bcvk.bench/1";

struct HostInfo {
  std::string os;   // "Linux 6.1.0-18-amd64 x86_64"
  std::string cpu;  // the CPU's model name, or the architecture when the kernel does not say
  uint32_t cpu_threads = 0;
};
HostInfo host_info();

nlohmann::json host_json(const HostInfo& h);
nlohmann::json build_json();  // {"version", "git_commit"}
nlohmann::json device_json(const vk::PhysicalDeviceInfo& d);

// One decode kernel's weight streaming and arithmetic against its device time.
struct KernelStream {
  std::string label;
  uint64_t bytes_per_token = 0;
  uint64_t flops_per_token = 0;  // nominal (model::KernelCost)
  double ms_per_token = 0;
  double gbs = 0;                // bytes_per_token / time
  double roofline_fraction = 0;  // gbs / the measured copy bandwidth
  double gflops = 0;             // flops_per_token / time
  double fma_fraction = 0;       // gflops / the measured FMA peak
};
// From a device-timed profile of `steps` decode steps and what each label costs per token
// (model::Model::decode_costs).  A label's time is its profile row's plus those of its passes
// ("label.pass", e.g. the FFT path's mlp_gate_b64.pack); labels the profile lacks are left out.
std::vector<KernelStream> decode_streaming(const vk::ProfileTable& decode, uint32_t steps,
                                           const std::vector<model::KernelCost>& costs,
                                           double roofline_gbs, double fma_gflops);
nlohmann::json to_json(const KernelStream& k);

}  // namespace bcvk::bench
