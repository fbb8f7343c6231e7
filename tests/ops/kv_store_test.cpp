// kv_store: f32 rows of K and V into f16 caches at a row offset.  Every stored value is a nearest
// f16 of its input (checked against the CPU's conversion), and no word outside the written range
// changes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "loaders/half.h"
#include "runtime/ops/kv_store.h"
#include "runtime/util/check.h"
#include "tests/support/gpu_test.h"
#include "tests/support/op_check.h"
#include "tests/support/random.h"

namespace bcvk {
namespace {

class KvStoreTest : public test::GpuTest,
                    public ::testing::WithParamInterface<std::pair<uint32_t, uint32_t>> {};

// The halves of packed words, as floats.
std::vector<float> halves(const std::vector<uint32_t>& words, size_t first, size_t n) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i)
    v[i] = loaders::half_to_float(
        static_cast<uint16_t>(words[(first + i) / 2] >> (16 * ((first + i) % 2))));
  return v;
}

// Expected f16 of each input: a nearest half.  The error is normalized by the CPU's
// round-to-nearest distance, so bound 1 accepts either side of a tie and nothing farther; an
// exactly representable value (distance 0) must come out exactly.
test::Expected nearest_halves(const std::vector<float>& x) {
  test::Expected want;
  for (float v : x) {
    const double nearest = loaders::half_to_float(loaders::float_to_half(v));
    want.push(v, std::isinf(v) ? 0.0 : std::abs(nearest - double(v)));
  }
  return want;
}

TEST_P(KvStoreTest, StoresNearestHalvesInPlace) {
  const auto [values, offset] = GetParam();
  const test::OpCase c{"kv_store", std::to_string(values) + " values at " + std::to_string(offset)};
  const uint32_t cache_values = offset + values + 64;
  test::Rng rng(values * 7 + offset);
  std::vector<float> x(values);
  for (float& v : x) v = rng.uniform(-300.f, 300.f) * std::pow(2.f, rng.uniform(-12.f, 0.f));
  std::vector<float> xv(values);  // V: other values than K, so a swapped binding shows
  for (uint32_t i = 0; i < values; ++i) xv[i] = -0.5f * x[values - 1 - i];
  // The caches start as random words: outside the stored range each must stay as it was.
  std::vector<uint32_t> init(cache_values / 2);
  for (uint32_t& w : init) w = static_cast<uint32_t>(rng.next());
  auto kb = test::GuardedBuffer::of(ctx(), x), vb = test::GuardedBuffer::of(ctx(), xv),
       kc = test::GuardedBuffer::of(ctx(), init), vc = test::GuardedBuffer::of(ctx(), init);
  vk::Stream s(ctx().device());
  ops::kv_store(ctx(), s, {kb.view(), vb.view(), kc.view(), vc.view(), values, offset});
  s.submit_and_wait();
  for (const auto& [cache, in, name] : {std::tuple{&kc, &x, "K"}, std::tuple{&vc, &xv, "V"}}) {
    const test::OpCase cc{c.op, c.shape + ", " + name + " cache"};
    const auto out = cache->read<uint32_t>();
    const size_t w0 = offset / 2, w1 = (offset + values) / 2;
    std::vector<uint32_t> outside(out.begin(), out.begin() + w0),
        want_outside(init.begin(), init.begin() + w0);
    outside.insert(outside.end(), out.begin() + w1, out.end());
    want_outside.insert(want_outside.end(), init.begin() + w1, init.end());
    EXPECT_TRUE(test::equal_words(cc, outside, want_outside)) << "words outside the stored range";
    EXPECT_TRUE(test::within(cc, halves(out, offset, values), nearest_halves(*in), 1.0));
    EXPECT_TRUE(cache->guards_intact(cc));
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
  const test::OpCase c{"kv_store",
                       "every f16 value and rounding case, " + std::to_string(n) + " values"};
  auto kb = test::GuardedBuffer::of(ctx(), x);
  auto kc = test::GuardedBuffer::poisoned(ctx(), n * 2),
       vc = test::GuardedBuffer::poisoned(ctx(), n * 2);
  vk::Stream s(ctx().device());
  ops::kv_store(ctx(), s, {kb.view(), kb.view(), kc.view(), vc.view(), n, 0});
  s.submit_and_wait();
  const auto out = kc.read<uint32_t>();
  EXPECT_TRUE(kc.guards_intact(c));
  const bool exact = ctx().info().soft_half;
  RecordProperty("soft_half", exact ? "1" : "0");
  if (exact) {  // the CPU's round-to-nearest-even, word for word
    std::vector<uint32_t> want(n / 2);
    for (uint32_t i = 0; i < n; ++i)
      want[i / 2] |= uint32_t(loaders::float_to_half(x[i])) << (16 * (i % 2));
    EXPECT_TRUE(test::equal_words(c, out, want));
  } else {  // the built-in: a nearest value (overflow to infinity or to the largest half)
    EXPECT_TRUE(test::within(c, halves(out, 0, n), nearest_halves(x), 1.0));
  }
}

// K and V read out of a fused Q/K/V output ([T, QD + 2 KV] rows: Q, then K, then V), into an
// f16 and an f32 cache at row pos0: each cache row holds its token's K (V) values, f32 exactly,
// f16 as nearest halves, and no other cache word changes.
TEST_F(KvStoreTest, StridedRowsOfAFusedOutputIntoBothCacheTypes) {
  const uint32_t T = 3, QD = 24, KV = 10, W = QD + 2 * KV, pos0 = 5, cache_values = 12 * KV;
  test::Rng rng(5);
  std::vector<float> qkv(T * W);
  for (float& v : qkv) v = rng.uniform(-4.f, 4.f);
  auto src = test::GuardedBuffer::of(ctx(), qkv);
  for (ops::KvType kv : {ops::KvType::kF16, ops::KvType::kF32}) {
    const test::OpCase c{"kv_store", std::string("fused rows into ") +
                                         std::string(ops::kv_type_name(kv)) + " caches"};
    const size_t words = cache_values * ops::kv_value_bytes(kv) / 4;
    std::vector<uint32_t> init(words);
    for (uint32_t& w : init) w = static_cast<uint32_t>(rng.next());
    auto kc = test::GuardedBuffer::of(ctx(), init), vc = test::GuardedBuffer::of(ctx(), init);
    vk::Stream s(ctx().device());
    ops::kv_store(ctx(), s,
                  {.k = src.view(),
                   .v = src.view(),
                   .k_cache = kc.view(),
                   .v_cache = vc.view(),
                   .values = T * KV,
                   .value_offset = pos0 * KV,
                   .width = KV,
                   .src_stride = W,
                   .k_src_offset = QD,
                   .v_src_offset = QD + KV,
                   .cache = kv});
    s.submit_and_wait();
    for (auto [cache, first] : {std::pair{&kc, QD}, std::pair{&vc, QD + KV}}) {
      std::vector<float> in;
      for (uint32_t t = 0; t < T; ++t)
        in.insert(in.end(), qkv.begin() + t * W + first, qkv.begin() + t * W + first + KV);
      const auto out = cache->read<uint32_t>();
      const size_t w0 = pos0 * KV * ops::kv_value_bytes(kv) / 4,
                   w1 = (pos0 + T) * KV * ops::kv_value_bytes(kv) / 4;
      std::vector<uint32_t> outside(out.begin(), out.begin() + w0),
          want_outside(init.begin(), init.begin() + w0);
      outside.insert(outside.end(), out.begin() + w1, out.end());
      want_outside.insert(want_outside.end(), init.begin() + w1, init.end());
      EXPECT_TRUE(test::equal_words(c, outside, want_outside)) << "words outside the stored range";
      if (kv == ops::KvType::kF16) {
        EXPECT_TRUE(test::within(c, halves(out, pos0 * KV, T * KV), nearest_halves(in), 1.0));
      } else {
        std::vector<uint32_t> got(out.begin() + w0, out.begin() + w1), want(in.size());
        std::memcpy(want.data(), in.data(), in.size() * 4);
        EXPECT_TRUE(test::equal_words(c, got, want));
      }
      EXPECT_TRUE(cache->guards_intact(c));
    }
  }
}

TEST_F(KvStoreTest, OddCountsAreRefused) {
  vk::Buffer x(ctx().allocator(), 64), c(ctx().allocator(), 64);
  vk::Stream s(ctx().device());
  const auto a = [&](uint32_t n, uint64_t at) {
    return ops::KvStoreArgs{x.view(), x.view(), c.view(), c.view(), n, at};
  };
  // Internal invariants (callers size these): util::InternalError, a std::logic_error.
  EXPECT_THROW(ops::kv_store(ctx(), s, a(3, 0)), util::InternalError);
  EXPECT_THROW(ops::kv_store(ctx(), s, a(2, 1)), util::InternalError);
  EXPECT_THROW(ops::kv_store(ctx(), s, a(16, 30)), util::InternalError);  // past the end
}

}  // namespace
}  // namespace bcvk
