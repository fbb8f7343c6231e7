// Allocator: sub-allocation, accounting, and the errors for allocations a device cannot hold.
#include <gtest/gtest.h>

#include <memory>

#include "runtime/vk/error.h"
#include "runtime/vk/transfer.h"
#include "tests/support/gpu_test.h"
#include "tests/support/random.h"

namespace bcvk {
namespace {

using MemoryTest = test::GpuTest;

TEST_F(MemoryTest, SmallBuffersShareBlocksWithoutOverlap) {
  vk::Allocator& alloc = ctx().allocator();
  const auto before = alloc.stats();
  std::vector<vk::Buffer> buffers;
  std::vector<std::vector<std::byte>> data;
  for (int i = 0; i < 100; ++i) {
    const size_t n = 1000 + 37 * i;
    buffers.emplace_back(alloc, n, vk::MemoryUse::kDevice, "small");
    data.push_back(test::random_bytes(n, i));
    vk::upload(alloc, buffers.back(), 0, data.back());
  }
  const auto during = alloc.stats();
  // 100 buffers of ~3 KiB fit in one 16 MiB block: at most one new memory object.
  EXPECT_LE(during.device_memory_objects, before.device_memory_objects + 1);
  EXPECT_GE(during.bytes_in_use - before.bytes_in_use, 100u * 1000u);
  EXPECT_GE(during.peak_bytes_in_use, during.bytes_in_use);
  // Overlapping sub-allocations would have overwritten each other's data.
  for (int i = 0; i < 100; ++i) {
    std::vector<std::byte> out(data[i].size());
    vk::download(alloc, buffers[i], 0, out);
    ASSERT_EQ(out, data[i]) << "buffer " << i;
  }
  buffers.clear();
  const auto after = alloc.stats();
  EXPECT_EQ(after.bytes_in_use, before.bytes_in_use);
  EXPECT_EQ(after.device_memory_objects, before.device_memory_objects);  // empty block returned
  EXPECT_GE(after.peak_bytes_in_use, during.bytes_in_use);
}

TEST_F(MemoryTest, FreedRangesAreReused) {
  vk::Allocator& alloc = ctx().allocator();
  auto a = std::make_unique<vk::Buffer>(alloc, 4096);
  vk::Buffer keep(alloc, 4096);  // keeps the block alive
  const auto objects = alloc.stats().device_memory_objects;
  a.reset();
  for (int i = 0; i < 50; ++i) vk::Buffer again(alloc, 4096);
  EXPECT_EQ(alloc.stats().device_memory_objects, objects);
}

TEST_F(MemoryTest, LargeBuffersGetDedicatedMemoryAndAreAccounted) {
  vk::Allocator& alloc = ctx().allocator();
  const auto before = alloc.stats();
  {
    vk::Buffer big(alloc, 200ull << 20, vk::MemoryUse::kDevice, "big");
    EXPECT_EQ(alloc.stats().device_memory_objects, before.device_memory_objects + 1);
    EXPECT_GE(alloc.stats().bytes_reserved - before.bytes_reserved, 200ull << 20);
    EXPECT_GE(alloc.stats().peak_bytes_in_use, before.bytes_in_use + (200ull << 20));
  }
  EXPECT_EQ(alloc.stats().bytes_reserved, before.bytes_reserved);
}

TEST_F(MemoryTest, AbsurdAllocationIsAClearErrorAndTheDeviceStaysUsable) {
  try {
    vk::Buffer huge(ctx().allocator(), 1ull << 40, vk::MemoryUse::kDevice, "huge tensor");
    FAIL() << "a 1 TiB buffer was created";
  } catch (const vk::Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("huge tensor"), std::string::npos) << m;
    EXPECT_NE(m.find("larger than the device's largest"), std::string::npos) << m;
  }
  vk::Buffer ok(ctx().allocator(), 64);
  const std::vector<std::byte> in = test::random_bytes(64, 1);
  std::vector<std::byte> out(64);
  vk::upload(ctx().allocator(), ok, 0, in);
  vk::download(ctx().allocator(), ok, 0, out);
  EXPECT_EQ(in, out);
}

TEST_F(MemoryTest, ExhaustingTheHeapIsOutOfDeviceMemoryNotACrash) {
  const uint64_t heap = ctx().info().heaps.at(0).size;
  const uint64_t chunk = std::min<uint64_t>(ctx().info().max_memory_allocation_size, 1ull << 30);
  std::vector<vk::Buffer> held;
  std::string message;
  VkResult result = VK_SUCCESS;
  for (uint64_t i = 0; i <= heap / chunk + 1 && message.empty(); ++i) {
    try {
      held.emplace_back(ctx().allocator(), chunk - 4096, vk::MemoryUse::kDevice, "layer weights");
    } catch (const vk::Error& e) {
      message = e.what();
      result = e.result();
    }
  }
  ASSERT_FALSE(message.empty()) << "allocated more than the heap's size without an error";
  EXPECT_EQ(result, VK_ERROR_OUT_OF_DEVICE_MEMORY);
  EXPECT_NE(message.find("out of device memory"), std::string::npos) << message;
  EXPECT_NE(message.find("layer weights"), std::string::npos) << message;
}

TEST(FormatBytes, HumanUnits) {
  EXPECT_EQ(vk::format_bytes(12), "12 B");
  EXPECT_EQ(vk::format_bytes(1536), "1.5 KiB");
  EXPECT_EQ(vk::format_bytes(300ull << 20), "300.0 MiB");
  EXPECT_EQ(vk::format_bytes(3ull << 30), "3.00 GiB");
}

}  // namespace
}  // namespace bcvk
