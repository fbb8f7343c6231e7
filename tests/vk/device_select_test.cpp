// Device selection: by index, by name, by BCVK_DEVICE, by type preference; and its errors.
#include <gtest/gtest.h>

#include <cstdlib>

#include "runtime/vk/context.h"
#include "runtime/vk/error.h"
#include "runtime/vk/instance.h"
#include "tests/support/gpu_test.h"

namespace bcvk::vk {
namespace {

PhysicalDeviceInfo fake(uint32_t index, std::string name, VkPhysicalDeviceType type,
                        bool compute = true) {
  PhysicalDeviceInfo d;
  d.index = index;
  d.name = std::move(name);
  d.type = type;
  d.compute_queue_family = compute ? 0 : UINT32_MAX;
  return d;
}

class DeviceSelect : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const char* v = std::getenv("BCVK_DEVICE")) saved_ = v, had_ = true;
    unsetenv("BCVK_DEVICE");
  }
  void TearDown() override {
    if (had_)
      setenv("BCVK_DEVICE", saved_.c_str(), 1);
    else
      unsetenv("BCVK_DEVICE");
  }
  std::vector<PhysicalDeviceInfo> devices{
      fake(0, "llvmpipe (LLVM 15.0.6, 256 bits)", VK_PHYSICAL_DEVICE_TYPE_CPU),
      fake(1, "Intel(R) UHD Graphics 620", VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU),
      fake(2, "AMD Radeon RX 7600", VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU),
      fake(3, "Display-only thing", VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU, false),
  };

 private:
  std::string saved_;
  bool had_ = false;
};

std::string error_of(const std::vector<PhysicalDeviceInfo>& d, const std::string& sel) {
  try {
    select_device(d, sel);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST_F(DeviceSelect, DefaultPrefersDiscreteThenIntegratedThenCpu) {
  EXPECT_EQ(select_device(devices, "").index, 2u);
  devices.erase(devices.begin() + 2);  // no usable discrete GPU left
  EXPECT_EQ(select_device(devices, "").index, 1u);
  devices.erase(devices.begin() + 1);
  EXPECT_EQ(select_device(devices, "").index, 0u);
}

TEST_F(DeviceSelect, ByIndex) {
  EXPECT_EQ(select_device(devices, "0").index, 0u);
  EXPECT_EQ(select_device(devices, "1").index, 1u);
}

TEST_F(DeviceSelect, ByCaseInsensitiveNameSubstring) {
  EXPECT_EQ(select_device(devices, "LLVMPIPE").index, 0u);
  EXPECT_EQ(select_device(devices, "radeon").index, 2u);
  EXPECT_EQ(select_device(devices, "uhd graphics").index, 1u);
}

TEST_F(DeviceSelect, EnvironmentVariableWhenNoFlag) {
  setenv("BCVK_DEVICE", "intel", 1);
  EXPECT_EQ(select_device(devices, "").index, 1u);
  EXPECT_EQ(select_device(devices, "0").index, 0u);  // the flag wins over the variable
  setenv("BCVK_DEVICE", "42", 1);
  EXPECT_NE(error_of(devices, "").find("BCVK_DEVICE 42 is out of range"), std::string::npos);
}

TEST_F(DeviceSelect, BadIndexListsTheDevices) {
  const std::string e = error_of(devices, "7");
  EXPECT_NE(e.find("device selector 7 is out of range: 4 Vulkan device(s) found"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("2: AMD Radeon RX 7600 (discrete GPU)"), std::string::npos) << e;
  EXPECT_NE(error_of(devices, "99999999999999999999999").find("out of range"), std::string::npos);
}

TEST_F(DeviceSelect, UnknownName) {
  const std::string e = error_of(devices, "nvidia");
  EXPECT_NE(e.find("\"nvidia\" matches no device name"), std::string::npos) << e;
}

TEST_F(DeviceSelect, DeviceWithoutComputeQueueIsRefused) {
  EXPECT_NE(error_of(devices, "3").find("has no compute queue"), std::string::npos);
}

TEST_F(DeviceSelect, NoDevices) {
  EXPECT_NE(error_of({}, "").find("no Vulkan device found"), std::string::npos);
}

// The real instance: lavapipe is installed by scripts/setup.sh, so it is always listed.
TEST_F(DeviceSelect, RealInstanceListsLavapipeWithItsFacts) {
  const Instance& instance = test::context().instance();
  ASSERT_FALSE(instance.devices().empty());
  const PhysicalDeviceInfo& d = select_device(instance.devices(), "llvmpipe");
  EXPECT_EQ(select_device(instance.devices(), std::to_string(d.index)).handle, d.handle);
  EXPECT_EQ(d.vendor, Vendor::kMesaCPU);
  EXPECT_EQ(d.type, VK_PHYSICAL_DEVICE_TYPE_CPU);
  EXPECT_EQ(d.driver_name, "llvmpipe");
  EXPECT_TRUE(d.unified_memory);
  EXPECT_TRUE(d.has_compute_queue());
  EXPECT_GE(d.api_version, static_cast<uint32_t>(VK_API_VERSION_1_1));
  EXPECT_GT(d.subgroup_size, 0u);
  EXPECT_EQ(d.max_storage_buffer_range, 128ull << 20);
  EXPECT_GT(d.timestamp_valid_bits, 0u);
  ASSERT_FALSE(d.heaps.empty());
  EXPECT_GT(d.heaps[0].size, 0u);
}

TEST(Vendor, KnownIds) {
  EXPECT_EQ(vendor_from_id(0x1002), Vendor::kAMD);
  EXPECT_EQ(vendor_from_id(0x10DE), Vendor::kNVIDIA);
  EXPECT_EQ(vendor_from_id(0x8086), Vendor::kIntel);
  EXPECT_EQ(vendor_from_id(0x13B5), Vendor::kARM);
  EXPECT_EQ(vendor_from_id(0x5143), Vendor::kQualcomm);
  EXPECT_EQ(vendor_from_id(0x106B), Vendor::kApple);
  EXPECT_EQ(vendor_from_id(0x10005), Vendor::kMesaCPU);
  EXPECT_EQ(vendor_from_id(0x1234), Vendor::kOther);
  EXPECT_STREQ(vendor_name(Vendor::kMesaCPU), "Mesa/CPU");
}

}  // namespace
}  // namespace bcvk::vk

namespace bcvk::vk {
namespace {

// Proves the test harness would notice: a deliberate invalid call is reported by the layer.
TEST(Validation, LayerReportsAnInvalidCall) {
  ContextOptions o;
  o.instance.validation = true;
  o.persist_pipeline_cache = false;
  Context ctx(o);
  ASSERT_TRUE(ctx.instance().validation_enabled());
  EXPECT_EQ(ctx.instance().validation_message_count(), 0u);
  VkBufferCreateInfo ci{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
  ci.size = 0;  // invalid: VUID-VkBufferCreateInfo-size-00912
  ci.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT;
  VkBuffer b = VK_NULL_HANDLE;
  if (vkCreateBuffer(ctx.device().handle(), &ci, nullptr, &b) == VK_SUCCESS && b)
    vkDestroyBuffer(ctx.device().handle(), b, nullptr);
  EXPECT_GE(ctx.instance().validation_message_count(), 1u);
}

}  // namespace
}  // namespace bcvk::vk
