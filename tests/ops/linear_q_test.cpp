// linear_q: Y (+)= W X with W in every device weight type (the GGUF block types decoded in the
// shader, f32/f16 through linear.comp), against the loaders' dequantization of the same bytes and
// a double-precision dot product.  Odd row counts, row block counts that are odd (the padded row
// layout of Q4_0/Q5_0/Q8_0/Q3_K/Q6_K) and even, T = 1 and T > 1 (several tokens per lane), both
// block-type forms, accumulation, guard columns around the output; and weights larger than one
// storage-buffer binding, split across dispatches; decode's X through a uniform buffer and a
// storage buffer; the fused gate/up form (glu).
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <tuple>

#include "loaders/gguf/dequantize.h"
#include "runtime/ops/linear.h"
#include "tests/support/gpu_test.h"
#include "tests/support/op_check.h"
#include "tests/support/quant_blocks.h"
#include "tests/support/random.h"

namespace bcvk {
namespace {

using ops::LinearForm;
using ops::WeightType;

// The reference: row r of W, dequantized by the loaders from the file's bytes.
std::vector<float> file_row(WeightType t, const std::vector<std::byte>& file, uint64_t r,
                            uint64_t K) {
  const auto traits = gguf::ggml_type_traits(static_cast<uint32_t>(ops::ggml_type_of(t)));
  const uint64_t bytes = K / traits->block_elements * traits->block_bytes;
  std::vector<float> row(K);
  gguf::dequantize(ops::ggml_type_of(t), std::span(file).subspan(r * bytes, bytes), row);
  return row;
}

struct Case {
  uint32_t N, K, T;
  LinearForm form;
  bool accumulate;
  uint32_t y_offset = 2, guard = 5;
  ops::XBinding x_binding = ops::XBinding::kAuto;
  bool glu = false;  // `file` holds 2N rows: Y = silu(gate rows X) * (up rows X)
};

// Runs linear on `file` (N x K of type t) and checks every output against the reference, and
// that the guard columns before y_offset and after the written rows are untouched.
void check_linear(vk::Context& ctx, WeightType t, const std::vector<std::byte>& file,
                  const Case& c) {
  const uint32_t x_stride = c.K + 8, y_stride = c.y_offset + c.N + c.guard;
  test::Rng rng(c.N * 131 + c.K * 7 + c.T);
  std::vector<float> x(size_t(c.T) * x_stride), y0(size_t(c.T) * y_stride);
  for (float& v : x) v = rng.uniform(-2.f, 2.f);
  for (float& v : y0) v = rng.uniform(-1.f, 1.f);

  const test::OpCase oc{"linear",
                        std::string(ops::weight_type_name(t)) + " N=" + std::to_string(c.N) +
                            " K=" + std::to_string(c.K) + " T=" + std::to_string(c.T) +
                            (c.form == LinearForm::kMatVec ? " matvec" : " row-per-lane") +
                            (c.accumulate ? " accumulate" : "") +
                            (c.x_binding == ops::XBinding::kUniform   ? " x-uniform"
                             : c.x_binding == ops::XBinding::kStorage ? " x-storage"
                                                                      : "") +
                            (c.glu ? " glu" : ""),
                        y_stride};
  const auto packed = ops::pack_rows(t, file, c.glu ? 2 * c.N : c.N, c.K);
  test::GuardedBuffer wb(ctx, packed);
  auto xb = test::GuardedBuffer::of(ctx, x), yb = test::GuardedBuffer::of(ctx, y0);

  ops::LinearArgs a;
  a.w = wb.view();
  a.type = t;
  a.N = c.N;
  a.K = c.K;
  a.x = xb.view();
  a.x_stride = x_stride;
  a.y = yb.view();
  a.y_stride = y_stride;
  a.y_offset = c.y_offset;
  a.T = c.T;
  a.accumulate = c.accumulate;
  a.shape.form = c.form;
  a.shape.x_binding = c.x_binding;
  a.glu = c.glu;
  vk::Stream stream(ctx.device());
  ops::linear(ctx, stream, a);
  stream.submit_and_wait();
  test::Expected want(y0.size());
  for (uint32_t t_ = 0; t_ < c.T; ++t_)
    for (uint32_t col = 0; col < y_stride; ++col) {
      const size_t idx = size_t(t_) * y_stride + col;
      if (col < c.y_offset || col >= c.y_offset + c.N) want.exact(idx, y0[idx]);  // guard column
    }
  // Row r's dot product with token t_ and the sum of its products' magnitudes.
  auto dot = [&](const std::vector<float>& w, uint32_t t_) {
    double d = 0, mag = 0;
    for (uint32_t i = 0; i < c.K; ++i) {
      const double p = double(w[i]) * x[size_t(t_) * x_stride + i];
      d += p;
      mag += std::abs(p);
    }
    return std::pair{d, mag};
  };
  for (uint32_t r = 0; r < c.N; ++r) {
    const auto w = file_row(t, file, r, c.K);
    const auto w_up = c.glu ? file_row(t, file, c.N + r, c.K) : std::vector<float>{};
    for (uint32_t t_ = 0; t_ < c.T; ++t_) {
      const size_t idx = size_t(t_) * y_stride + c.y_offset + r;
      const double base = c.accumulate ? y0[idx] : 0.0;
      const auto [d, mag] = dot(w, t_);
      if (!c.glu) {
        // f32 accumulation of K products: a few ulps of the magnitude.  A wrong field, nibble or
        // scale changes single products by ~1/K of the magnitude, far above this bound.
        want.set(idx, base + d, std::abs(base) + mag + 0.05);
        continue;
      }
      const auto [du, mag_u] = dot(w_up, t_);
      const double silu = d / (1.0 + std::exp(-d));
      // The gate's rounding passes through silu (slope at most 1.1) times the up value; the up
      // value's rounding is scaled by silu(gate).
      want.set(idx, base + silu * du,
               std::abs(base) + 1.1 * mag * std::abs(du) + std::abs(silu) * mag_u + 0.05);
    }
  }
  EXPECT_TRUE(test::within(oc, yb.read<float>(), want, 2e-6));
  EXPECT_TRUE(yb.guards_intact(oc));
}

// type, blocks per row (K = blocks * granule), (N, T), form, accumulate
using Param = std::tuple<WeightType, uint32_t, std::pair<uint32_t, uint32_t>, LinearForm, bool>;
class LinearQTest : public test::GpuTest, public ::testing::WithParamInterface<Param> {};

TEST_P(LinearQTest, MatchesDequantizedDoubleReference) {
  const auto [t, blocks, nt, form, accumulate] = GetParam();
  // f32/f16 rows have a granule of 4: give them as many values as a 32-value type.
  const uint32_t K = blocks * std::max<uint32_t>(ops::row_granule(t), 32);
  const auto file = test::random_tensor(t, nt.first, K, K * 977 + nt.first);
  check_linear(ctx(), t, file, Case{nt.first, K, nt.second, form, accumulate});
}

std::string param_name(const ::testing::TestParamInfo<Param>& p) {
  const auto [t, blocks, nt, form, accumulate] = p.param;
  return std::string(ops::weight_type_name(t)) + "_k" + std::to_string(blocks) + "blocks_n" +
         std::to_string(nt.first) + "_t" + std::to_string(nt.second) +
         (form == LinearForm::kRowPerLane ? "_rowlane" : "_matvec") + (accumulate ? "_acc" : "");
}

INSTANTIATE_TEST_SUITE_P(
    AllTypes, LinearQTest,
    ::testing::Combine(::testing::ValuesIn(ops::all_weight_types().begin(),
                                           ops::all_weight_types().end()),
                       ::testing::Values(3u, 4u, 7u),
                       ::testing::Values(std::pair{1u, 1u}, std::pair{37u, 1u}, std::pair{7u, 3u},
                                         std::pair{37u, 9u}),
                       ::testing::Values(LinearForm::kMatVec, LinearForm::kRowPerLane),
                       ::testing::Bool()),
    param_name);

// Weights larger than one storage-buffer binding: rows are split into dispatches bound at
// aligned offsets.  Q4_1 (file bytes), Q8_0 with an odd block count (the padded, split-scale
// row layout: rows of 4,388 bytes, so chunk starts are not row-size multiples of 16) and Q6_K.
class LinearQLargeTest : public test::GpuTest, public ::testing::WithParamInterface<WeightType> {};

TEST_P(LinearQLargeTest, WeightsCrossingTheBindingRangeMatchTheReference) {
  const WeightType t = GetParam();
  const uint32_t K = t == WeightType::kQ8_0 ? 32 * 129 : 4096;
  const uint64_t row_bytes = ops::device_row_bytes(t, K);
  const uint64_t limit = ctx().tuning().max_binding_bytes;
  // Just over one binding, and an odd row count.
  const auto N = static_cast<uint32_t>((limit / row_bytes + 101) | 1);
  ASSERT_GT(uint64_t(N) * row_bytes, limit);
  const auto file = test::random_tensor(t, N, K, 4242 + K);
  for (auto form : {LinearForm::kMatVec, LinearForm::kRowPerLane})
    check_linear(ctx(), t, file, Case{N, K, 2, form, true});
  check_linear(ctx(), t, file, Case{N, K, 1, LinearForm::kRowPerLane, true});  // X uniform
}

// Decode's row-per-lane form reads one token's X through a uniform buffer or a storage buffer
// (shaders/linear_q.comp X_UNIFORM); both give the reference, for every block type, with K from one
// unit to the widest the default model has (1,536) and past 64 KiB of X (storage only).
class LinearQXBindingTest : public test::GpuTest,
                            public ::testing::WithParamInterface<WeightType> {};

TEST_P(LinearQXBindingTest, UniformAndStorageXGiveTheReference) {
  const WeightType t = GetParam();
  const uint32_t g = std::max<uint32_t>(ops::row_granule(t), 32);
  // The uniform X is read by an unrolled loop up to ops::kUnrolledXMaxK, by a loop above it.
  static_assert(ops::kUnrolledXMaxK < 4096);
  for (uint32_t K : {g, (1536 / g) * g, (4096 / g) * g})
    for (auto xb : {ops::XBinding::kUniform, ops::XBinding::kStorage}) {
      const auto file = test::random_tensor(t, 37, K, K * 13 + 5);
      Case c{37, K, 1, LinearForm::kRowPerLane, true};
      c.x_binding = xb;
      check_linear(ctx(), t, file, c);
    }
  // X larger than a uniform buffer may be (64 KiB): auto falls back to the storage buffer.
  const uint32_t K = (17000 / g) * g;
  check_linear(ctx(), t, test::random_tensor(t, 5, K, 99),
               Case{5, K, 1, LinearForm::kRowPerLane, false});
}

// The gated MLP's first half in one row-per-lane dispatch (LinearArgs::glu): gate rows then up
// rows of one tensor, silu(gate) * up per output, for every block type; the unrolled uniform X,
// the looped one, a storage X, several tokens per lane and accumulation.
class LinearQGluTest : public test::GpuTest, public ::testing::WithParamInterface<WeightType> {};

TEST_P(LinearQGluTest, SiluOfGateTimesUpMatchesTheReference) {
  const WeightType t = GetParam();
  const uint32_t g = std::max<uint32_t>(ops::row_granule(t), 32);
  const std::pair<uint32_t, ops::XBinding> runs[] = {{g, ops::XBinding::kUniform},
                                                     {(1536 / g) * g, ops::XBinding::kUniform},
                                                     {(4096 / g) * g, ops::XBinding::kUniform},
                                                     {(1536 / g) * g, ops::XBinding::kStorage}};
  for (const auto& [K, xb] : runs) {
    const auto file = test::random_tensor(t, 2 * 37, K, K * 17 + 3);
    Case c{37, K, 1, LinearForm::kRowPerLane, xb == ops::XBinding::kStorage};
    c.x_binding = xb;
    c.glu = true;
    check_linear(ctx(), t, file, c);
  }
  const uint32_t K = 3 * g;
  Case c{21, K, 5, LinearForm::kRowPerLane, true};
  c.glu = true;
  check_linear(ctx(), t, test::random_tensor(t, 2 * 21, K, 77), c);
}

std::vector<WeightType> block_types() {
  std::vector<WeightType> v;
  for (WeightType t : ops::all_weight_types())
    if (ops::is_block_type(t)) v.push_back(t);
  return v;
}

INSTANTIATE_TEST_SUITE_P(BlockTypes, LinearQXBindingTest, ::testing::ValuesIn(block_types()),
                         [](const auto& p) { return std::string(ops::weight_type_name(p.param)); });

INSTANTIATE_TEST_SUITE_P(BlockTypes, LinearQGluTest, ::testing::ValuesIn(block_types()),
                         [](const auto& p) { return std::string(ops::weight_type_name(p.param)); });

INSTANTIATE_TEST_SUITE_P(Types, LinearQLargeTest,
                         ::testing::Values(WeightType::kQ4_1, WeightType::kQ8_0, WeightType::kQ6_K),
                         [](const auto& p) { return std::string(ops::weight_type_name(p.param)); });

}  // namespace
}  // namespace bcvk
