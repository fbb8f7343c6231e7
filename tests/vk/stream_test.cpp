// Stream: one submit for many dispatches, barriers that order them, timestamps that increase.
#include <gtest/gtest.h>

#include <sstream>

#include "runtime/ops/affine.h"
#include "runtime/vk/profile.h"
#include "runtime/vk/transfer.h"
#include "tests/support/gpu_test.h"

namespace bcvk {
namespace {

using StreamTest = test::GpuTest;

// x -> a -> b -> c, each y = 2x + 1: the result is only right if the barriers order the three.
TEST_F(StreamTest, ChainedDispatchesInOneSubmitWithTimestamps) {
  const uint32_t n = 1u << 22;
  std::vector<float> x(n);
  for (uint32_t i = 0; i < n; ++i) x[i] = static_cast<float>(i % 1000);
  vk::Buffer xb(ctx().allocator(), n * 4ull), a(ctx().allocator(), n * 4ull),
      b(ctx().allocator(), n * 4ull), c(ctx().allocator(), n * 4ull);
  vk::upload(ctx().allocator(), xb, std::span<const float>(x));

  vk::Stream stream(ctx().device(), /*profile=*/true);
  ops::AffineConfig cfg{0, 8};
  ops::affine(ctx(), stream, {xb.view(), a.view(), n, 2.f, 1.f, cfg});
  stream.barrier();
  ops::affine(ctx(), stream, {a.view(), b.view(), n, 2.f, 1.f, cfg});
  stream.barrier();
  ops::affine(ctx(), stream, {b.view(), c.view(), n, 2.f, 1.f, cfg});
  EXPECT_EQ(stream.recorded_commands(), 3u);
  stream.submit_and_wait();

  std::vector<float> out(n);
  vk::download(ctx().allocator(), c, std::span<float>(out));
  for (uint32_t i = 0; i < n; i += 997) ASSERT_EQ(out[i], 8.f * x[i] + 7.f) << i;

  const auto& t = stream.timings();
  ASSERT_EQ(t.size(), 3u);
  for (size_t i = 0; i < t.size(); ++i) {
    EXPECT_EQ(t[i].label, "affine");
    EXPECT_GT(t[i].end_ns, t[i].start_ns) << "dispatch " << i << " took no time";
    if (i) {
      EXPECT_GE(t[i].start_ns, t[i - 1].end_ns)
          << "dispatch " << i << " started before " << i - 1 << " ended";
    }
  }
}

TEST_F(StreamTest, StreamIsReusableAfterSubmit) {
  vk::Buffer xb(ctx().allocator(), 64), yb(ctx().allocator(), 64);
  const std::vector<float> x(16, 1.f);
  vk::upload(ctx().allocator(), xb, std::span<const float>(x));
  vk::Stream stream(ctx().device());
  for (int k = 0; k < 3; ++k) {
    ops::affine(ctx(), stream, {.x = xb.view(), .y = yb.view(), .count = 16, .scale = float(k)});
    stream.submit_and_wait();
    std::vector<float> y(16);
    vk::download(ctx().allocator(), yb, std::span<float>(y));
    EXPECT_EQ(y[15], float(k));
  }
  EXPECT_TRUE(stream.timings().empty());  // not profiling
}

TEST_F(StreamTest, DescriptorSetsAreCachedAcrossSteps) {
  vk::Buffer xb(ctx().allocator(), 64), yb(ctx().allocator(), 64);
  vk::Stream stream(ctx().device());
  ops::affine(ctx(), stream, {.x = xb.view(), .y = yb.view(), .count = 16});
  stream.submit_and_wait();
  vk::Kernel& k = ctx().kernel("affine", {{0, ctx().tuning().elementwise_workgroup}, {1, 1}}, 12);
  const size_t sets = k.cached_descriptor_sets();
  for (int i = 0; i < 10; ++i) {
    ops::affine(ctx(), stream, {.x = xb.view(), .y = yb.view(), .count = 16});
    stream.submit_and_wait();
  }
  EXPECT_EQ(k.cached_descriptor_sets(), sets);
}

TEST_F(StreamTest, TimedDispatchesBeyondCapacityRunUntimed) {
  vk::Buffer xb(ctx().allocator(), 64), yb(ctx().allocator(), 64);
  vk::Stream stream(ctx().device(), true, 2);
  for (int i = 0; i < 3; ++i) {
    ops::affine(ctx(), stream, {.x = xb.view(), .y = yb.view(), .count = 16});
    stream.barrier();
  }
  stream.submit_and_wait();
  EXPECT_EQ(stream.timings().size(), 2u);
  EXPECT_EQ(stream.untimed_dispatches(), 1u);
}

TEST(ProfileTable, AggregatesByLabelAndSortsByTime) {
  vk::ProfileTable table;
  const std::vector<vk::DispatchTiming> t = {
      {"matvec", 0, 3'000'000}, {"rms_norm", 0, 500'000}, {"matvec", 10, 1'000'010}};
  table.add(t);
  ASSERT_EQ(table.rows().size(), 2u);
  EXPECT_EQ(table.rows().at("matvec").calls, 2u);
  EXPECT_DOUBLE_EQ(table.rows().at("matvec").total_ms, 4.0);
  EXPECT_DOUBLE_EQ(table.total_ms(), 4.5);
  std::ostringstream out;
  table.print(out);
  const std::string s = out.str();
  EXPECT_LT(s.find("matvec"), s.find("rms_norm"));
  EXPECT_NE(s.find("88.9%"), std::string::npos) << s;
}

}  // namespace
}  // namespace bcvk
