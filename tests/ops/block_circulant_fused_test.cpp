// The fused block-circulant kernel (one dispatch, FFTs in registers) against references computed
// in double from the circulant parameters: the plain product Y (+)= W X and the gated pair
// silu(W_g X) * (W_u X), for every power-of-two B the kernel takes (2 to 64), one token (the
// uniform-X form, looped and unrolled) and several (odd counts, spare lanes), shapes that need
// padding, strided and accumulated outputs, and f32, f16 and 8-bit weights.  For f16 and 8-bit
// weights the reference is the product with exactly the spectra the device holds (rounded on the
// host, turned back into circulant parameters in double), so the bound stays f32 rounding; a second
// check bounds the distance to the unrounded parameters.
#include "runtime/ops/block_circulant_fused.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <tuple>

#include "loaders/half.h"
#include "runtime/ops/block_circulant.h"
#include "tests/support/gpu_test.h"
#include "tests/support/op_check.h"
#include "tests/support/random.h"

namespace bcvk {
namespace {

using ops::CirculantWeights;

// Circulant parameters c from packed spectra S = DFT(c)/B (pair 0 = (S0, S_{B/2}), pair f = S_f):
// c[k] = S0 + (-1)^k S_{B/2} + 2 sum_{0<f<B/2} Re(S_f e^{2 pi i f k / B}), in double.
std::vector<double> parameters_from_packed(std::span<const float> packed, uint32_t B) {
  std::vector<double> c(packed.size());
  for (size_t b = 0; b < packed.size() / B; ++b) {
    const float* s = packed.data() + b * B;
    for (uint32_t k = 0; k < B; ++k) {
      double v = s[0] + (k % 2 ? -1.0 : 1.0) * s[1];
      for (uint32_t f = 1; f < B / 2; ++f) {
        const double th = 2 * std::numbers::pi * double(f) * k / B;
        v += 2 * (s[2 * f] * std::cos(th) - s[2 * f + 1] * std::sin(th));
      }
      c[b * B + k] = v;
    }
  }
  return c;
}

// The packed spectra as the device holds them for `type`, back in float.
std::vector<float> held_spectra(const compress::BlockCirculant& bc, CirculantWeights type) {
  std::vector<float> s = compress::packed_spectra(bc);
  if (type == CirculantWeights::kF16)
    for (float& v : s) v = loaders::half_to_float(loaders::float_to_half(v));
  if (type == CirculantWeights::kQ8) {
    const uint32_t rows = bc.row_blocks(), row_values = bc.col_blocks() * bc.block;
    s = ops::dequantize_fused_q8(ops::quantize_fused_q8(s, rows, row_values), rows, row_values);
  }
  return s;
}

// Dense [m][n] product of parameters c ([p][q][B], double) with x's token t, and the sum of its
// terms' magnitudes, in double.
struct Product {
  std::vector<double> value, magnitude;
};
Product product(const std::vector<double>& c, uint32_t m, uint32_t n, uint32_t B,
                const std::vector<float>& x, uint32_t x_stride, uint32_t t) {
  const uint32_t q = (n + B - 1) / B;
  Product r{std::vector<double>(m, 0.0), std::vector<double>(m, 0.0)};
  for (uint32_t o = 0; o < m; ++o)
    for (uint32_t s = 0; s < n; ++s) {
      const uint32_t i = o / B, j = s / B;
      const double w = c[(size_t(i) * q + j) * B + (o % B + B - s % B) % B];
      const double term = w * x[size_t(t) * x_stride + s];
      r.value[o] += term;
      r.magnitude[o] += std::abs(term);
    }
  return r;
}

std::vector<double> to_double(const std::vector<float>& v) {
  return {v.begin(), v.end()};
}

struct Case {
  uint32_t m, n, B, T;
  CirculantWeights weights = CirculantWeights::kF32;
  bool accumulate = false;
  bool glu = false;
  uint32_t tokens = 0;  // per invocation; 0: the default
  ops::FusedCirculantArgs::Transform transform = ops::FusedCirculantArgs::Transform::kAuto;
};

using Transform = ops::FusedCirculantArgs::Transform;

std::string describe(const Case& k) {
  return std::to_string(k.m) + "x" + std::to_string(k.n) + " B=" + std::to_string(k.B) +
         " T=" + std::to_string(k.T) + " " + ops::circulant_weights_name(k.weights) +
         (k.accumulate ? " accumulate" : "") + (k.glu ? " glu" : "") +
         (k.tokens ? " tokens=" + std::to_string(k.tokens) : "") +
         (k.transform == Transform::kShared     ? " shared"
          : k.transform == Transform::kPerGroup ? " per-group"
                                                : "");
}

class BlockCirculantFusedTest : public test::GpuTest {
 protected:
  // Runs the case; checks every output against the product of the held weights (bound 2e-6 of
  // the terms' magnitudes: f32 rounding) and the guard bands.  Returns the relative L2 distance
  // to the product of the unrounded parameters.
  double run(const Case& k) {
    test::Rng rng(k.m * 131 + k.n * 17 + k.B * 3 + k.T + (k.glu ? 7 : 0));
    auto random_matrix = [&] {
      compress::BlockCirculant bc = compress::zero_block_circulant(k.m, k.n, k.B);
      for (float& v : bc.c) v = rng.uniform(-1.f, 1.f);
      return bc;
    };
    const compress::BlockCirculant g = random_matrix(), u = random_matrix();
    const uint32_t x_stride = k.n + 3, y_stride = k.m + 5, y_offset = k.glu ? 0 : 2;
    std::vector<float> x(size_t(k.T) * x_stride), y0(size_t(k.T) * y_stride + y_offset);
    for (float& v : x) v = rng.uniform(-1.f, 1.f);
    for (float& v : y0) v = rng.uniform(-1.f, 1.f);
    auto xb = test::GuardedBuffer::of(ctx(), x), yb = test::GuardedBuffer::of(ctx(), y0);
    const vk::Buffer wg = ops::upload_fused_weights(ctx(), g, k.weights);
    const vk::Buffer wu = ops::upload_fused_weights(ctx(), u, k.weights);
    // Exactly the parameter count: B values per block, 2 bytes each in f16; 8-bit adds scales.
    // Per row of q*B values padded to 16 bytes: 4 or 2 bytes a value, or 1 and, in a second
    // 16-byte-padded row, one f16 scale per 32 values.
    const uint64_t row = uint64_t(g.col_blocks()) * k.B;
    auto pad16 = [](uint64_t b) { return (b + 15) / 16 * 16; };
    const uint64_t want_bytes = k.weights == CirculantWeights::kF32
                                    ? g.row_blocks() * pad16(row * 4)
                                : k.weights == CirculantWeights::kF16
                                    ? g.row_blocks() * pad16(row * 2)
                                    : g.row_blocks() * (pad16(row) + pad16((row + 31) / 32 * 2));
    EXPECT_EQ(wg.size(), want_bytes);

    ops::FusedCirculantArgs a;
    a.w = wg.view();
    a.w2 = wu.view();
    a.type = k.weights;
    a.m = k.m;
    a.n = k.n;
    a.B = k.B;
    a.x = xb.view();
    a.x_stride = x_stride;
    a.y = yb.view();
    a.y_stride = y_stride;
    a.y_offset = y_offset;
    a.T = k.T;
    a.accumulate = k.accumulate;
    a.glu = k.glu;
    a.tokens = k.tokens;
    a.transform = k.transform;
    vk::Stream s(ctx().device());
    ops::block_circulant_fused(ctx(), s, a);
    s.submit_and_wait();
    const std::vector<float> y = yb.read<float>();

    const std::vector<double> cg = parameters_from_packed(held_spectra(g, k.weights), k.B),
                              cu = parameters_from_packed(held_spectra(u, k.weights), k.B);
    const std::vector<double> cg0 = to_double(g.c), cu0 = to_double(u.c);
    const test::OpCase c{"block_circulant_fused", describe(k), y_stride};
    test::Expected want(y0.size());
    for (size_t i = 0; i < y0.size(); ++i) want.exact(i, y0[i]);  // all but the output: as was
    double err = 0, norm = 0;
    auto silu = [](double v) { return v / (1 + std::exp(-v)); };
    for (uint32_t t = 0; t < k.T; ++t) {
      const Product pg = product(cg, k.m, k.n, k.B, x, x_stride, t);
      const Product pg0 = product(cg0, k.m, k.n, k.B, x, x_stride, t);
      Product pu, pu0;
      if (k.glu) {
        pu = product(cu, k.m, k.n, k.B, x, x_stride, t);
        pu0 = product(cu0, k.m, k.n, k.B, x, x_stride, t);
      }
      for (uint32_t o = 0; o < k.m; ++o) {
        const size_t idx = size_t(t) * y_stride + y_offset + o;
        double ref, scale, ref0;
        if (k.glu) {
          const double gv = pg.value[o], uv = pu.value[o];
          ref = silu(gv) * uv;
          // d(silu(g) u) = silu'(g) u dg + silu(g) du, |silu'| < 1.1.
          scale =
              1.1 * pg.magnitude[o] * std::abs(uv) + std::abs(silu(gv)) * pu.magnitude[o] + 1e-3;
          ref0 = silu(pg0.value[o]) * pu0.value[o];
        } else {
          const double base = k.accumulate ? double(y0[idx]) : 0.0;
          ref = base + pg.value[o];
          scale = pg.magnitude[o] + std::abs(base) + 1e-3;
          ref0 = base + pg0.value[o];
        }
        want.set(idx, ref, scale);
        err += (double(y[idx]) - ref0) * (double(y[idx]) - ref0);
        norm += ref0 * ref0;
      }
    }
    EXPECT_TRUE(test::within(c, y, want, 2e-6));
    EXPECT_TRUE(yb.guards_intact(c));
    return std::sqrt(err / norm);
  }
};

class EveryFusedBlockSize
    : public BlockCirculantFusedTest,
      public ::testing::WithParamInterface<std::tuple<uint32_t, uint32_t, bool>> {};

TEST_P(EveryFusedBlockSize, MatchesTheDoubleProduct) {
  const auto [B, T, glu] = GetParam();
  // 3 x 2 blocks, and a shape that pads both sides; the input's transforms per SIMD group and
  // shared by the workgroup.
  for (Transform tr : {Transform::kPerGroup, Transform::kShared}) {
    EXPECT_LE(run({3 * B, 2 * B, B, T, CirculantWeights::kF32, !glu && T % 2 == 1, glu, 0, tr}),
              1e-5);
    EXPECT_LE(run({3 * B - 1, B + 3, B, T, CirculantWeights::kF32, false, glu, 0, tr}), 1e-5);
  }
}

INSTANTIATE_TEST_SUITE_P(Sizes, EveryFusedBlockSize,
                         ::testing::Combine(::testing::Values(2u, 4u, 8u, 16u, 32u, 64u),
                                            ::testing::Values(1u, 3u, 9u), ::testing::Bool()));

// The default model's shapes (gate/up 1536 x 576, down 576 x 1536) at the block sizes the
// students use, one token (X through the uniform buffer, the loop over blocks unrolled for
// B <= 16) and a prefill chunk.
TEST_F(BlockCirculantFusedTest, TheDefaultModelsShapes) {
  for (const auto& [B, T] : {std::pair{4u, 1u}, {16u, 8u}, {64u, 1u}})
    for (Transform tr : {Transform::kPerGroup, Transform::kShared}) {
      // Shared with B = 4: 384 block rows, six workgroups each transforming the input.
      EXPECT_LE(run({1536, 576, B, T, CirculantWeights::kF32, false, true, 0, tr}), 1e-5) << B;
      EXPECT_LE(run({576, 1536, B, T, CirculantWeights::kF32, true, false, 0, tr}), 1e-5) << B;
    }
}

// f16 spectra: within f16's rounding of the unrounded product (the measured relative L2 is
// about 2e-4; below 1e-6 would mean nothing was rounded).  8-bit: within 2e-2 (measured up to
// 1.2e-2 on these small random matrices), above 1e-4.  Every B: a block's words are read at
// once, in layouts that differ below and above one 16-byte word per block.
TEST_F(BlockCirculantFusedTest, HalfAndEightBitWeights) {
  for (uint32_t B : {2u, 4u, 8u, 16u, 32u, 64u})
    for (uint32_t T : {1u, 5u})
      for (bool glu : {false, true}) {
        for (Transform tr : {Transform::kPerGroup, Transform::kShared}) {
          const double e16 =
              run({3 * B, 2 * B + 1, B, T, CirculantWeights::kF16, !glu, glu, 0, tr});
          EXPECT_LE(e16, 1e-3) << B;
          EXPECT_GE(e16, 1e-6) << B;
          const double e8 = run({3 * B, 2 * B + 1, B, T, CirculantWeights::kQ8, !glu, glu, 0, tr});
          EXPECT_LE(e8, 2e-2) << B;
          EXPECT_GE(e8, 1e-4) << B;
        }
      }
}

// Several tokens per invocation, with a last group that is not full.
TEST_F(BlockCirculantFusedTest, TokensPerInvocation) {
  for (uint32_t tokens : {1u, 2u, 4u, 8u})
    for (Transform tr : {Transform::kPerGroup, Transform::kShared})
      EXPECT_LE(run({48, 40, 8, 11, CirculantWeights::kF16, true, false, tokens, tr}), 1e-3);
}

// The 8-bit form, by hand: one row of 40 values (two groups: 32 and 8), padded to 16 bytes.
TEST(FusedQ8, HandMadeRow) {
  std::vector<float> v(40, 0.f);
  v[0] = 1.27f;    // the first group's largest: scale 0.01, byte 127
  v[1] = -0.5f;    // byte -50
  v[31] = 0.004f;  // byte 0 (0.4 rounds down)
  v[32] = -2.0f;   // the second group's largest: scale 2/127, byte -127
  v[39] = 0.5f;    // byte 32 (31.75 rounds up)
  const std::vector<uint32_t> w = ops::quantize_fused_q8(v, 1, 40);
  ASSERT_EQ(w.size(), 12u + 4u);  // 40 bytes padded to 48, 2 scales padded to 16 bytes
  EXPECT_EQ(w[0] & 0xffu, 127u);
  EXPECT_EQ((w[0] >> 8) & 0xffu, uint32_t(uint8_t(int8_t(-50))));
  EXPECT_EQ(w[7] >> 24, 0u);
  EXPECT_EQ(w[8] & 0xffu, uint32_t(uint8_t(int8_t(-127))));
  EXPECT_EQ(w[9] >> 24, 32u);
  EXPECT_EQ(w[10], 0u);  // padding
  EXPECT_EQ(w[12] & 0xffffu, loaders::float_to_half(0.01f));
  EXPECT_EQ(w[12] >> 16, loaders::float_to_half(2.0f / 127));
  const std::vector<float> back = ops::dequantize_fused_q8(w, 1, 40);
  EXPECT_NEAR(back[0], 1.27f, 1e-3);
  EXPECT_NEAR(back[1], -0.5f, 1e-3);
  EXPECT_EQ(back[2], 0.f);
  EXPECT_NEAR(back[32], -2.0f, 2e-3);
  EXPECT_NEAR(back[39], 0.5f, 0.01f);
}

TEST(FusedBlockSizes, PowersOfTwoFromTwoTo64) {
  for (uint32_t B = 0; B <= 512; ++B)
    EXPECT_EQ(ops::fused_block_supported(B), B >= 2 && B <= 64 && (B & (B - 1)) == 0) << B;
}

}  // namespace
}  // namespace bcvk
