// Shared fixture for tests that use the Vulkan device: one Context per test process, with the
// Khronos validation layer always on; any validation message during a test fails it.
#pragma once

#include <gtest/gtest.h>

#include "runtime/vk/context.h"

namespace bcvk::test {

// The process-wide context: validation on, device from BCVK_DEVICE or the default choice,
// pipeline cache in memory only (tests must not depend on what an earlier run left behind).
vk::Context& context();

class GpuTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;
  vk::Context& ctx() { return context(); }

 private:
  size_t messages_before_ = 0;
};

}  // namespace bcvk::test
