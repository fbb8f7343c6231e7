// embed_q: the token-embedding gather from tables in every device weight type, against the
// loaders' dequantization of the same bytes; ids past the vocabulary give zero rows; a table
// larger than one storage-buffer binding is gathered across its row chunks.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "loaders/gguf/dequantize.h"
#include "runtime/ops/embed.h"
#include "runtime/vk/transfer.h"
#include "tests/support/gpu_test.h"
#include "tests/support/op_check.h"
#include "tests/support/quant_blocks.h"

namespace bcvk {
namespace {

using ops::WeightType;

void check_embed(vk::Context& ctx, WeightType t, uint32_t V, uint32_t D,
                 const std::vector<uint32_t>& ids) {
  const test::OpCase c{"embed",
                       std::string(ops::weight_type_name(t)) + " V=" + std::to_string(V) +
                           " D=" + std::to_string(D) + " T=" + std::to_string(ids.size()),
                       D};
  const auto file = test::random_tensor(t, V, D, V * 31 + D);
  const auto packed = ops::pack_rows(t, file, V, D);
  test::GuardedBuffer tb(ctx, packed);
  auto ib = test::GuardedBuffer::of(ctx, ids);
  // Poisoned (NaN): a row the kernel skips shows up.
  auto yb = test::GuardedBuffer::poisoned(ctx, ids.size() * D * 4);
  vk::Stream s(ctx.device());
  ops::embed(ctx, s,
             {.table = tb.view(),
              .type = t,
              .V = V,
              .D = D,
              .ids = ib.view(),
              .T = uint32_t(ids.size()),
              .y = yb.view()});
  s.submit_and_wait();

  const auto g = ops::ggml_type_of(t);
  const auto traits = gguf::ggml_type_traits(static_cast<uint32_t>(g));
  const uint64_t row_bytes = D / traits->block_elements * traits->block_bytes;
  std::vector<float> ref(D);
  test::Expected want;
  for (size_t k = 0; k < ids.size(); ++k) {
    if (ids[k] >= V) {  // past the vocabulary: a zero row
      for (uint32_t i = 0; i < D; ++i) want.push(0.0, 0.0);
      continue;
    }
    gguf::dequantize(g, std::span(file).subspan(ids[k] * row_bytes, row_bytes), ref);
    float scale = 0;
    for (float v : ref) scale = std::max(scale, std::abs(v));
    // The same products in f32 (an FMA may round once less): an ulp of the row's largest value.
    for (uint32_t i = 0; i < D; ++i) want.push(ref[i], scale);
  }
  EXPECT_TRUE(test::within(c, yb.read<float>(), want, 1e-6));
  EXPECT_TRUE(yb.guards_intact(c));
}

class EmbedQTest : public test::GpuTest, public ::testing::WithParamInterface<WeightType> {};

TEST_P(EmbedQTest, GathersDequantizedRows) {
  const WeightType t = GetParam();
  const uint32_t g = std::max<uint32_t>(ops::row_granule(t), 32);
  for (uint32_t D : {3 * g, 4 * g}) check_embed(ctx(), t, 37, D, {0, 36, 7, 7, 37, 23, 1000, 1});
}

INSTANTIATE_TEST_SUITE_P(AllTypes, EmbedQTest,
                         ::testing::ValuesIn(ops::all_weight_types().begin(),
                                             ops::all_weight_types().end()),
                         [](const auto& p) { return std::string(ops::weight_type_name(p.param)); });

// A table larger than one binding: ids on both sides of every chunk boundary.
class EmbedQLargeTest : public test::GpuTest, public ::testing::WithParamInterface<WeightType> {};

TEST_P(EmbedQLargeTest, TablesCrossingTheBindingRangeAreGatheredFromEveryChunk) {
  const WeightType t = GetParam();
  const uint32_t D = t == WeightType::kQ8_0 ? 32 * 129 : 4096;
  const uint64_t row_bytes = ops::device_row_bytes(t, D);
  const uint64_t limit = ctx().tuning().max_binding_bytes;
  const auto V = static_cast<uint32_t>(limit / row_bytes + 77);
  // The chunk is at most limit / row_bytes rows: ids around it, the last row and past the end.
  const auto c = static_cast<uint32_t>(limit / row_bytes);
  std::vector<uint32_t> ids = {0, 1, V - 1, V, 3};
  for (uint32_t d = 0; d < 40; ++d) ids.push_back(c - 20 + d);
  check_embed(ctx(), t, V, D, ids);
}

INSTANTIATE_TEST_SUITE_P(Types, EmbedQLargeTest,
                         ::testing::Values(WeightType::kF32, WeightType::kQ4_1, WeightType::kQ8_0),
                         [](const auto& p) { return std::string(ops::weight_type_name(p.param)); });

}  // namespace
}  // namespace bcvk
