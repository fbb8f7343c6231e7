// kv_store: f32 rows of K and V into f16 caches at a row offset.  Every stored value is a nearest
// f16 of its input (checked against the CPU's conversion), and no word outside the written range
// changes.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "loaders/half.h"
#include "runtime/ops/kv_store.h"
#include "runtime/vk/error.h"
#include "tests/support/device_vectors.h"
#include "tests/support/gpu_test.h"
#include "tests/support/random.h"

namespace bcvk {
namespace {

class KvStoreTest : public test::GpuTest,
                    public ::testing::WithParamInterface<std::pair<uint32_t, uint32_t>> {};

TEST_P(KvStoreTest, StoresNearestHalvesInPlace) {
  const auto [values, offset] = GetParam();
  const uint32_t cache_values = offset + values + 64;
  test::Rng rng(values * 7 + offset);
  std::vector<float> x(values);
  for (float& v : x) v = rng.uniform(-300.f, 300.f) * std::pow(2.f, rng.uniform(-12.f, 0.f));
  std::vector<float> xv(values);  // V: other values than K, so a swapped binding shows
  for (uint32_t i = 0; i < values; ++i) xv[i] = -0.5f * x[values - 1 - i];
  std::vector<uint32_t> guard(cache_values / 2);
  for (uint32_t& w : guard) w = static_cast<uint32_t>(rng.next());
  auto kb = test::to_device(ctx(), x), vb = test::to_device(ctx(), xv),
       kc = test::to_device(ctx(), guard), vc = test::to_device(ctx(), guard);
  vk::Stream s(ctx().device());
  ops::kv_store(ctx(), s, {kb.view(), vb.view(), kc.view(), vc.view(), values, offset});
  s.submit_and_wait();
  for (const auto& [cache, in] : {std::pair{&kc, &x}, std::pair{&vc, &xv}}) {
    const auto out = test::from_device<uint32_t>(ctx(), *cache, guard.size());
    for (uint32_t w = 0; w < guard.size(); ++w) {
      if (w < offset / 2 || w >= (offset + values) / 2) {
        ASSERT_EQ(out[w], guard[w]) << "word " << w << " outside the stored range changed";
        continue;
      }
      for (uint32_t half = 0; half < 2; ++half) {
        const uint32_t i = (w - offset / 2) * 2 + half;
        const float v = (*in)[i];
        const auto got = static_cast<uint16_t>(out[w] >> (16 * half));
        const float want = loaders::half_to_float(loaders::float_to_half(v));
        // Nearest: no farther from the input than the CPU's round-to-nearest result (ties may
        // go either way).
        ASSERT_LE(std::abs(loaders::half_to_float(got) - v), std::abs(want - v))
            << (cache == &kc ? "K" : "V") << " value " << i << ": " << v << " stored as "
            << loaders::half_to_float(got);
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Ranges, KvStoreTest,
                         ::testing::Values(std::pair{2u, 0u}, std::pair{192u, 0u},
                                           std::pair{576u, 192u * 70}, std::pair{6000u, 384u}),
                         [](const auto& p) {
                           return std::to_string(p.param.first) + "_values_at_" +
                                  std::to_string(p.param.second);
                         });

// Every f16 value, the midpoints between neighbours (ties: to even), values just off them,
// overflow and underflow.  With the integer conversion (shaders/half.glsl, kSoftHalf; the ctest
// entry OpsSoftHalf runs this with BCVK_SOFT_HALF=1) every word must be the CPU's
// round-to-nearest-even exactly; the built-in must be a nearest value.
TEST_F(KvStoreTest, ConvertsEveryHalfAndEveryRoundingCase) {
  std::vector<float> x;
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff)) continue;  // NaN: no unique answer
    const float v = loaders::half_to_float(uint16_t(h));
    x.push_back(v);
    if ((h & 0x7fff) < 0x7bff) {  // finite with a finite neighbour above
      const float next = loaders::half_to_float(uint16_t(h + 1));
      const float mid = v + (next - v) / 2;  // exact in f32
      x.push_back(mid);
      x.push_back(std::nextafter(mid, next));
      x.push_back(std::nextafter(mid, v));
    }
  }
  for (float v : {65504.f, 65519.f, 65520.f, 1e6f, 1e-9f, 2.9e-8f, 3.0e-8f, 1e-40f})
    for (float s : {1.f, -1.f}) x.push_back(s * v);
  x.push_back(std::numeric_limits<float>::infinity());
  x.push_back(-std::numeric_limits<float>::infinity());
  if (x.size() % 2) x.push_back(0.f);
  const uint32_t n = uint32_t(x.size());
  auto kb = test::to_device(ctx(), x), kc = test::to_device(ctx(), std::vector<uint32_t>(n / 2));
  auto vc = test::to_device(ctx(), std::vector<uint32_t>(n / 2));
  vk::Stream s(ctx().device());
  ops::kv_store(ctx(), s, {kb.view(), kb.view(), kc.view(), vc.view(), n, 0});
  s.submit_and_wait();
  const auto out = test::from_device<uint32_t>(ctx(), kc, n / 2);
  const bool exact = ctx().info().soft_half;
  RecordProperty("soft_half", exact ? "1" : "0");
  for (uint32_t i = 0; i < n; ++i) {
    const auto got = static_cast<uint16_t>(out[i / 2] >> (16 * (i % 2)));
    const uint16_t want = loaders::float_to_half(x[i]);
    if (exact) {
      ASSERT_EQ(got, want) << "value " << x[i];
    } else if (got != want) {  // infinities: equal or not at all
      ASSERT_TRUE(std::isfinite(x[i])) << "value " << x[i] << " stored as " << got;
      ASSERT_LE(std::abs(double(loaders::half_to_float(got)) - x[i]),
                std::abs(double(loaders::half_to_float(want)) - x[i]))
          << "value " << x[i];
    }
  }
}

TEST_F(KvStoreTest, OddCountsAreRefused) {
  vk::Buffer x(ctx().allocator(), 64), c(ctx().allocator(), 64);
  vk::Stream s(ctx().device());
  const auto a = [&](uint32_t n, uint64_t at) {
    return ops::KvStoreArgs{x.view(), x.view(), c.view(), c.view(), n, at};
  };
  EXPECT_THROW(ops::kv_store(ctx(), s, a(3, 0)), vk::Error);
  EXPECT_THROW(ops::kv_store(ctx(), s, a(2, 1)), vk::Error);
  EXPECT_THROW(ops::kv_store(ctx(), s, a(16, 30)), vk::Error);  // past the end
}

}  // namespace
}  // namespace bcvk
