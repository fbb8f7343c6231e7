// BlockCirculantLinear on the device (FFT and direct paths) against the dense product of the
// expanded matrix computed in double: relative L2 error at most 1e-5, for every block size the
// issue names, one token and many, shapes that need padding, strided and accumulated outputs;
// and the FFT plans and weight spectra are made once, not per call.
#include "runtime/ops/block_circulant.h"

#include <gtest/gtest.h>

#include <cmath>
#include <tuple>
#include <type_traits>

#include "loaders/half.h"
#include "runtime/vk/transfer.h"
#include "tests/support/gpu_test.h"
#include "tests/support/op_check.h"
#include "tests/support/random.h"

// The FFT plans of a workspace point at its own buffers: a moved or copied workspace would leave
// them dangling, so neither compiles.
static_assert(!std::is_move_constructible_v<bcvk::ops::CirculantWorkspace>);
static_assert(!std::is_copy_constructible_v<bcvk::ops::CirculantWorkspace>);
static_assert(!std::is_move_assignable_v<bcvk::ops::CirculantWorkspace>);

namespace bcvk {
namespace {

using ops::CirculantPath;

using ops::CirculantWeights;

struct Case {
  uint32_t m, n, B, T;
  CirculantPath path;
  bool accumulate;
  CirculantWeights weights = CirculantWeights::kF32;
  // The reference uses the parameters rounded to f16 (what the direct path's f16 form holds).
  bool reference_rounds_to_f16 = false;
};

// The per-element bound: each output's error normalized by the sum of its product's term
// magnitudes.  f32 products (FFT or direct): rounding; measured at most 1.5e-7, bound 2e-6.  f16
// weights against the f32 parameters: f16's half-ulp (4.9e-4 of a value) on every term; measured
// at most 2.4e-4, bound 2e-3.
double bound_of(const Case& k) {
  return k.weights == CirculantWeights::kF16 && !k.reference_rounds_to_f16 ? 2e-3 : 2e-6;
}

class BlockCirculantTest : public test::GpuTest {
 protected:
  // Checks every output element against the double reference (test::within, bound_of(k)) and
  // the guard bands and columns around the output; returns the relative L2 error of the product
  // (the figure the docs quote).
  double run(const Case& k, ops::CirculantWorkspace* shared_ws = nullptr, int repeats = 1) {
    test::Rng rng(k.m * 31 + k.n * 7 + k.B + k.T);
    compress::BlockCirculant bc = compress::zero_block_circulant(k.m, k.n, k.B);
    for (float& v : bc.c) v = rng.uniform(-1.f, 1.f);
    const uint32_t x_stride = k.n + 4, y_stride = k.m + 3, y_offset = 2;
    std::vector<float> x(size_t(k.T) * x_stride), y0(size_t(k.T) * y_stride + y_offset);
    for (float& v : x) v = rng.uniform(-1.f, 1.f);
    for (float& v : y0) v = rng.uniform(-1.f, 1.f);
    const test::OpCase c{"block_circulant",
                         std::to_string(k.m) + "x" + std::to_string(k.n) +
                             " B=" + std::to_string(k.B) + " T=" + std::to_string(k.T) +
                             (k.path == CirculantPath::kDirect ? " direct" : "") +
                             (k.weights == CirculantWeights::kF16 ? " f16" : "") +
                             (k.accumulate ? " accumulate" : ""),
                         y_stride};
    auto xb = test::GuardedBuffer::of(ctx(), x), yb = test::GuardedBuffer::of(ctx(), y0);

    ops::BlockCirculantLinear layer(ctx(), bc, k.path, k.weights);
    // Values the device holds: spectra (re, im) for FFT, parameters for direct; f16 packs two
    // to a word.
    const size_t values = layer.path() == CirculantPath::kFft
                              ? size_t(bc.row_blocks()) * bc.col_blocks() * (k.B / 2 + 1) * 2
                              : bc.c.size();
    EXPECT_EQ(layer.device_bytes(),
              k.weights == CirculantWeights::kF16 ? (values + 1) / 2 * 4 : values * 4);
    std::unique_ptr<ops::CirculantWorkspace> own;
    ops::CirculantWorkspace* ws = shared_ws;
    if (!ws && layer.path() == CirculantPath::kFft) {
      own = std::make_unique<ops::CirculantWorkspace>(ctx(), k.B,
                                                      std::max(bc.row_blocks(), bc.col_blocks()));
      ws = own.get();
    }
    std::vector<float> y;
    for (int r = 0; r < repeats; ++r) {
      yb = test::GuardedBuffer::of(ctx(), y0);
      vk::Stream s(ctx().device());
      layer.record(ctx(), s, ws,
                   {xb.view(), x_stride, yb.view(), y_stride, y_offset, k.T, k.accumulate});
      s.submit_and_wait();
    }
    y = yb.read<float>();
    EXPECT_EQ(layer.spectra_computed(), layer.path() == CirculantPath::kFft ? 1u : 0u);

    if (k.reference_rounds_to_f16)
      for (float& v : bc.c) v = loaders::half_to_float(loaders::float_to_half(v));
    const std::vector<float> w = compress::expand(bc);
    double err = 0, norm = 0;
    test::Expected want(y0.size());
    for (size_t i = 0; i < y0.size(); ++i) want.exact(i, y0[i]);  // all but the output: as was
    for (uint32_t t = 0; t < k.T; ++t)
      for (uint32_t col = 0; col < y_stride; ++col) {
        const size_t idx = size_t(t) * y_stride + col;
        if (col < y_offset || col >= y_offset + k.m) continue;
        const uint32_t o = col - y_offset;
        double ref = 0, mag = 0;
        for (uint32_t i = 0; i < k.n; ++i) {
          ref += double(w[size_t(o) * k.n + i]) * x[size_t(t) * x_stride + i];
          mag += std::abs(double(w[size_t(o) * k.n + i]) * x[size_t(t) * x_stride + i]);
        }
        const double base = k.accumulate ? double(y0[idx]) : 0.0;
        want.set(idx, base + ref, mag + std::abs(base) + 1e-3);
        const double got = double(y[idx]) - base;
        err += (got - ref) * (got - ref);
        norm += ref * ref;
      }
    EXPECT_TRUE(test::within(c, y, want, bound_of(k)));
    EXPECT_TRUE(yb.guards_intact(c));
    return std::sqrt(err / norm);
  }
};

class EveryBlockSize
    : public BlockCirculantTest,
      public ::testing::WithParamInterface<std::tuple<uint32_t, uint32_t, CirculantPath>> {};

TEST_P(EveryBlockSize, MatchesExpandedDenseProduct) {
  const auto [B, T, path] = GetParam();
  // 576 x 1536-like proportions at a smaller scale: 3 x 2 blocks of every size...
  const double e = run({3 * B, 2 * B, B, T, path, T % 2 == 1});
  EXPECT_LE(e, 1e-5) << "B=" << B << " T=" << T;
}

INSTANTIATE_TEST_SUITE_P(
    Sizes, EveryBlockSize,
    ::testing::Combine(::testing::Values(2u, 4u, 16u, 32u, 48u, 64u, 96u, 192u),
                       ::testing::Values(1u, 6u, 70u),
                       ::testing::Values(CirculantPath::kFft, CirculantPath::kDirect)));

// f16 weights: the measured relative L2 error against the f32 parameters' exact product is
// 1.1e-4 to 2.5e-4 for every block size, path and token count here (f16's half-ulp is up to
// 4.9e-4 of a value), so the bound is 1e-3; below 1e-6 would mean nothing was rounded.
class EveryBlockSizeF16
    : public BlockCirculantTest,
      public ::testing::WithParamInterface<std::tuple<uint32_t, uint32_t, CirculantPath>> {};

TEST_P(EveryBlockSizeF16, MatchesExpandedDenseProductToHalfPrecision) {
  const auto [B, T, path] = GetParam();
  const double e = run({3 * B, 2 * B, B, T, path, T % 2 == 1, CirculantWeights::kF16});
  EXPECT_LE(e, 1e-3) << "B=" << B << " T=" << T;
  EXPECT_GE(e, 1e-6) << "B=" << B << " T=" << T << ": f16 weights but no rounding error";
  RecordProperty("relative_l2", std::to_string(e));
}

INSTANTIATE_TEST_SUITE_P(
    Sizes, EveryBlockSizeF16,
    ::testing::Combine(::testing::Values(2u, 4u, 16u, 64u, 192u), ::testing::Values(1u, 9u),
                       ::testing::Values(CirculantPath::kFft, CirculantPath::kDirect)));

// The direct path's f16 form holds exactly the f16-rounded parameters: against the product of
// those, the error is f32 rounding again.
TEST_F(BlockCirculantTest, DirectF16HoldsTheRoundedParameters) {
  for (uint32_t B : {3u, 4u, 8u})  // B = 3: an odd parameter count, the last word half used
    EXPECT_LE(run({5 * B - 1, 4 * B + 1, B, 3, CirculantPath::kDirect, false,
                   CirculantWeights::kF16, true}),
              1e-5)
        << "B=" << B;
}

TEST_F(BlockCirculantTest, F16ShapesThatNeedPadding) {
  for (CirculantPath path : {CirculantPath::kFft, CirculantPath::kDirect})
    EXPECT_LE(run({1536, 576, 192, 2, path, true, CirculantWeights::kF16}), 1e-3);
}

TEST_F(BlockCirculantTest, BlockSizeOneIsTheDenseProduct) {
  EXPECT_LE(run({37, 29, 1, 5, CirculantPath::kAuto, false}), 1e-6);
}

TEST_F(BlockCirculantTest, ShapesThatNeedPadding) {
  for (CirculantPath path : {CirculantPath::kFft, CirculantPath::kDirect}) {
    EXPECT_LE(run({100, 70, 16, 3, path, false}), 1e-5);
    EXPECT_LE(run({70, 100, 32, 9, path, true}), 1e-5);
    EXPECT_LE(run({1536, 576, 192, 1, path, false}), 1e-5);  // the default model's MLP shape
  }
}

TEST_F(BlockCirculantTest, PlansAndSpectraAreMadeOnceAndReused) {
  ops::CirculantWorkspace ws(ctx(), 32, 8);
  EXPECT_LE(run({128, 256, 32, 3, CirculantPath::kFft, false}, &ws, 4), 1e-5);
  // T = 3 -> bucket 4: one forward plan (4 x 8 blocks) and one inverse (4 x 4), whatever the
  // repeats.
  EXPECT_EQ(ws.plans_created(), 2u);
  EXPECT_LE(run({128, 256, 32, 4, CirculantPath::kFft, true}, &ws, 3), 1e-5);  // same bucket
  EXPECT_EQ(ws.plans_created(), 2u);
  EXPECT_LE(run({256, 128, 32, 3, CirculantPath::kFft, false}, &ws, 2),
            1e-5);  // batches swap roles
  EXPECT_EQ(ws.plans_created(), 4u);
}

// The FFTs run on a power-of-two bucket of tokens (T = 5 -> 8).  Rows 5..7 of the workspace still
// hold an earlier call's data -- here NaN -- which must not reach the 5 real tokens (VkFFT's
// batched real transforms may pair sequences; stale values leaked through rounding before the
// pack kernel zeroed the spare rows).
TEST_F(BlockCirculantTest, SpareBucketRowsFromAnEarlierCallDoNotLeak) {
  // Shapes with 2, 3, 4 and 8 blocks a side (which of them leaked depends on how VkFFT batches).
  for (const auto& [m, n] : {std::pair{96u, 64u}, {64u, 96u}, {128u, 256u}})
    for (uint32_t T : {5u, 9u}) {
      ops::CirculantWorkspace ws(ctx(), 32, 8);
      const uint32_t bucket = ws.token_bucket(T);
      {
        const compress::BlockCirculant bc = compress::zero_block_circulant(m, n, 32);
        ops::BlockCirculantLinear layer(ctx(), bc, CirculantPath::kFft);
        const std::vector<float> nan(size_t(bucket) * n, std::nanf(""));
        vk::Buffer xb(ctx().allocator(), nan.size() * 4),
            yb(ctx().allocator(), size_t(bucket) * m * 4);
        vk::upload(ctx().allocator(), xb, std::span<const float>(nan));
        vk::Stream s(ctx().device());
        layer.record(ctx(), s, &ws, {xb.view(), n, yb.view(), m, 0, bucket, false});
        s.submit_and_wait();
      }
      const double e = run({m, n, 32, T, CirculantPath::kFft, false}, &ws);
      EXPECT_LE(e, 1e-5) << m << "x" << n << " T=" << T
                         << ": stale rows of the token bucket leaked into the result";
    }
}

}  // namespace
}  // namespace bcvk
