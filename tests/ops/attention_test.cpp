// attention against the CPU reference: GQA ratios 1, 3 and 4, several query tokens continuing a
// cache (pos0 > 0), long key ranges (more keys than the workgroup), and a first key row > 0 (a
// prompt packed after another); each with an f32 cache and with an f16 cache (the reference then
// uses the f16-rounded keys and values: what the cache holds, not an approximation of it).
#include <gtest/gtest.h>

#include <cmath>

#include "loaders/half.h"
#include "runtime/ops/attention.h"
#include "tests/support/cpu_reference.h"
#include "tests/support/gpu_test.h"
#include "tests/support/op_check.h"
#include "tests/support/random.h"

namespace bcvk {
namespace {

class AttentionTest
    : public test::GpuTest,
      public ::testing::WithParamInterface<
          std::tuple<std::tuple<uint32_t, uint32_t, uint32_t>, ops::KvType, uint32_t>> {};

// The cache as attention reads it: f32 values, or f16 pairs packed into words.
test::GuardedBuffer cache_buffer(vk::Context& ctx, std::vector<float>& values, ops::KvType kv) {
  if (kv == ops::KvType::kF32) return test::GuardedBuffer::of(ctx, values);
  std::vector<uint16_t> h(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    h[i] = loaders::float_to_half(values[i]);
    values[i] = loaders::half_to_float(h[i]);
  }
  return test::GuardedBuffer::of(ctx, h);
}

TEST_P(AttentionTest, MatchesCpuReference) {
  const auto [shape, kv, workgroup] = GetParam();  // workgroup 0: the device's default
  const auto [heads, kv_heads, first] = shape;
  const uint32_t hd = 64, T = 3, pos0 = 70, rows = pos0 + T;
  const uint32_t qd = heads * hd, kvd = kv_heads * hd;
  test::Rng rng(heads * 10 + kv_heads + first);
  // Queries strided as in a fused Q/K/V output: other values between the tokens' queries.
  const uint32_t q_stride = qd + 2 * kvd + 4;
  std::vector<float> q(size_t(T) * q_stride), k(size_t(rows) * kvd), v(size_t(rows) * kvd);
  for (float& x : q) x = rng.uniform(-1.f, 1.f);
  for (float& x : k) x = rng.uniform(-1.f, 1.f);
  for (float& x : v) x = rng.uniform(-1.f, 1.f);
  std::vector<uint32_t> info;
  for (uint32_t t = 0; t < T; ++t) info.insert(info.end(), {pos0 + t - first, first});
  const test::OpCase c{"attention",
                       "heads=" + std::to_string(heads) + " kv_heads=" + std::to_string(kv_heads) +
                           " hd=64 T=3 pos0=70 first=" + std::to_string(first) + " kv=" +
                           std::string(ops::kv_type_name(kv)) + " wg=" + std::to_string(workgroup),
                       qd};
  auto qb = test::GuardedBuffer::of(ctx(), q), kb = cache_buffer(ctx(), k, kv),
       vb = cache_buffer(ctx(), v, kv), ib = test::GuardedBuffer::of(ctx(), info);
  auto ob = test::GuardedBuffer::poisoned(ctx(), size_t(T) * qd * 4);
  vk::Stream s(ctx().device());
  ops::attention(ctx(), s,
                 {.q = qb.view(),
                  .k_cache = kb.view(),
                  .v_cache = vb.view(),
                  .out = ob.view(),
                  .token_info = ib.view(),
                  .T = T,
                  .head_dim = hd,
                  .n_heads = heads,
                  .n_kv_heads = kv_heads,
                  .pos0 = pos0,
                  .scale = float(1.0 / std::sqrt(double(hd))),
                  .kv = kv,
                  .q_stride = q_stride,
                  .workgroup = workgroup});
  s.submit_and_wait();
  test::Expected want;
  for (uint32_t t = 0; t < T; ++t) {
    std::vector<std::vector<double>> keys, vals;
    for (uint32_t j = first; j <= pos0 + t; ++j) {
      keys.emplace_back(k.begin() + j * kvd, k.begin() + (j + 1) * kvd);
      vals.emplace_back(v.begin() + j * kvd, v.begin() + (j + 1) * kvd);
    }
    const auto ref = test::cpu_attention(
        std::vector<double>(q.begin() + t * q_stride, q.begin() + t * q_stride + qd), keys, vals,
        heads, kv_heads, hd);
    // Outputs are convex combinations of values in [-1, 1]: scale 1.
    for (double r : ref) want.push(r, 1.0);
  }
  EXPECT_TRUE(test::within(c, ob.read<float>(), want, 1e-5));
  EXPECT_TRUE(ob.guards_intact(c));
}

INSTANTIATE_TEST_SUITE_P(
    Gqa, AttentionTest,
    ::testing::Combine(::testing::Values(std::make_tuple(4u, 4u, 0u), std::make_tuple(9u, 3u, 0u),
                                         std::make_tuple(8u, 2u, 0u), std::make_tuple(9u, 3u, 50u)),
                       ::testing::Values(ops::KvType::kF32, ops::KvType::kF16),
                       ::testing::Values(0u, 32u)),
    [](const auto& p) {
      const auto& shape = std::get<0>(p.param);
      const ops::KvType kv = std::get<1>(p.param);
      std::string name = "h";  // appended piecewise: GCC 12 warns falsely on "lit" + string&&
      name += std::to_string(std::get<0>(shape));
      name += "_kv";
      name += std::to_string(std::get<1>(shape));
      name += "_first";
      name += std::to_string(std::get<2>(shape));
      name += "_";
      name += ops::kv_type_name(kv);
      name += "_wg";
      name += std::to_string(std::get<2>(p.param));
      return name;
    });

}  // namespace
}  // namespace bcvk
