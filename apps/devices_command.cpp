// bcvk devices [--json]: every Vulkan device with the facts bcvk plans with.
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "apps/commands.h"
#include "runtime/vk/error.h"
#include "runtime/vk/instance.h"
#include "runtime/vk/memory.h"

namespace bcvk::apps {

namespace {

nlohmann::json device_json(const vk::PhysicalDeviceInfo& d, bool is_default) {
  nlohmann::json heaps = nlohmann::json::array();
  for (const auto& h : d.heaps)
    heaps.push_back({{"bytes", h.size}, {"device_local", h.device_local}});
  return {
      {"index", d.index},
      {"name", d.name},
      {"type", d.type_name()},
      {"vendor", vk::vendor_name(d.vendor)},
      {"vendor_id", d.vendor_id},
      {"device_id", d.device_id},
      {"driver_name", d.driver_name},
      {"driver_info", d.driver_info},
      {"driver_version", d.driver_version},
      {"api_version", d.api_version_string()},
      {"default", is_default},
      {"memory_heaps", heaps},
      {"unified_memory", d.unified_memory},
      {"subgroup_size", d.subgroup_size},
      {"subgroup_arithmetic", d.subgroup_arithmetic},
      {"features",
       {{"shader_float16", d.shader_float16},
        {"shader_int8", d.shader_int8},
        {"storage_buffer_16bit", d.storage_buffer_16bit},
        {"storage_buffer_8bit", d.storage_buffer_8bit}}},
      {"compute_queue", d.has_compute_queue()},
      {"limits",
       {{"max_storage_buffer_range", d.max_storage_buffer_range},
        {"min_storage_buffer_offset_alignment", d.min_storage_buffer_offset_alignment},
        {"max_memory_allocation_size", d.max_memory_allocation_size},
        {"max_buffer_size", d.max_buffer_size},
        {"max_compute_shared_memory", d.max_shared_memory},
        {"max_workgroup_invocations", d.max_workgroup_invocations},
        {"max_workgroup_size",
         {d.max_workgroup_size[0], d.max_workgroup_size[1], d.max_workgroup_size[2]}},
        {"max_workgroup_count",
         {d.max_workgroup_count[0], d.max_workgroup_count[1], d.max_workgroup_count[2]}},
        {"max_push_constants_size", d.max_push_constants_size},
        {"timestamp_period_ns", d.timestamp_period_ns},
        {"timestamp_valid_bits", d.timestamp_valid_bits}}},
  };
}

const char* yes(bool b) {
  return b ? "yes" : "no";
}

void print_device(const vk::PhysicalDeviceInfo& d, bool is_default) {
  std::printf("Device %u: %s%s\n", d.index, d.name.c_str(), is_default ? "  [default]" : "");
  std::printf("  type        %s\n", d.type_name().c_str());
  std::printf("  vendor      %s (0x%04x), device 0x%04x\n", vk::vendor_name(d.vendor), d.vendor_id,
              d.device_id);
  std::printf("  driver      %s, %s (version %s)\n",
              d.driver_name.empty() ? "?" : d.driver_name.c_str(),
              d.driver_info.empty() ? "?" : d.driver_info.c_str(), d.driver_version.c_str());
  std::printf("  Vulkan      %s\n", d.api_version_string().c_str());
  for (size_t h = 0; h < d.heaps.size(); ++h)
    std::printf("  heap %zu      %s%s\n", h, vk::format_bytes(d.heaps[h].size).c_str(),
                d.heaps[h].device_local ? ", device-local" : "");
  std::printf("  memory      %s\n", d.unified_memory
                                        ? "unified (host-visible device memory, no staging)"
                                        : "discrete (staging uploads)");
  std::printf("  subgroup    %u invocations, arithmetic %s\n", d.subgroup_size,
              yes(d.subgroup_arithmetic));
  std::printf("  features    fp16 %s, int8 %s, 16-bit storage %s, 8-bit storage %s\n",
              yes(d.shader_float16), yes(d.shader_int8), yes(d.storage_buffer_16bit),
              yes(d.storage_buffer_8bit));
  std::printf("  compute     %s\n", d.has_compute_queue() ? "yes" : "no compute queue (unusable)");
  std::printf("  limits      storage buffer range %s, allocation %s, shared memory %s,\n",
              vk::format_bytes(d.max_storage_buffer_range).c_str(),
              vk::format_bytes(d.max_memory_allocation_size).c_str(),
              vk::format_bytes(d.max_shared_memory).c_str());
  std::printf(
      "              workgroup %u invocations, push constants %u B, timestamps %u bits @ %g ns\n",
      d.max_workgroup_invocations, d.max_push_constants_size, d.timestamp_valid_bits,
      d.timestamp_period_ns);
}

}  // namespace

Runner add_devices_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("devices", "List every Vulkan device and its capabilities");
  auto json = std::make_shared<bool>(false);
  cmd->add_flag("--json", *json, "Print JSON instead of a table");
  return [json]() {
    vk::Instance instance;
    const auto& devices = instance.devices();
    const vk::PhysicalDeviceInfo* def = nullptr;
    try {
      def = &vk::select_device(devices, "");
    } catch (const vk::Error&) {
      def = nullptr;  // listed anyway; the error surfaces when a command needs a device
    }
    if (*json) {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& d : devices) out.push_back(device_json(d, &d == def));
      std::cout << out.dump(2) << "\n";
    } else {
      if (devices.empty()) std::printf("No Vulkan device found.\n");
      for (const auto& d : devices) print_device(d, &d == def);
    }
    if (devices.empty())
      throw vk::Error(
          "no Vulkan device found: install a driver, e.g. apt-get install mesa-vulkan-drivers");
    return instance.validation_message_count() ? 3 : 0;
  };
}

}  // namespace bcvk::apps
