// embed: rows gathered exactly, from f32 and f16 tables.
#include <gtest/gtest.h>

#include "loaders/half.h"
#include "runtime/ops/embed.h"
#include "tests/support/gpu_test.h"
#include "tests/support/op_check.h"
#include "tests/support/random.h"

namespace bcvk {
namespace {

class EmbedTest : public test::GpuTest {};

TEST_F(EmbedTest, GathersRowsFromF32AndF16Tables) {
  const uint32_t V = 50, D = 36;
  test::Rng rng(5);
  std::vector<float> table(size_t(V) * D);
  std::vector<uint16_t> half(table.size());
  for (size_t i = 0; i < table.size(); ++i) {
    half[i] = loaders::float_to_half(rng.uniform(-2.f, 2.f));
    table[i] = loaders::half_to_float(half[i]);  // exactly representable in both
  }
  const std::vector<uint32_t> ids = {0, 49, 7, 7, 23};
  auto ib = test::GuardedBuffer::of(ctx(), ids);
  for (bool f16 : {false, true}) {
    const test::OpCase c{"embed", std::string("V=50 D=36 T=5 ") + (f16 ? "f16" : "f32"), D};
    auto tb = f16 ? test::GuardedBuffer::of(ctx(), half) : test::GuardedBuffer::of(ctx(), table);
    auto yb = test::GuardedBuffer::poisoned(ctx(), ids.size() * D * 4);
    vk::Stream s(ctx().device());
    ops::embed(ctx(), s,
               {.table = tb.view(),
                .type = f16 ? ops::WeightType::kF16 : ops::WeightType::kF32,
                .V = V,
                .D = D,
                .ids = ib.view(),
                .T = uint32_t(ids.size()),
                .y = yb.view()});
    s.submit_and_wait();
    test::Expected want;  // a gather: exact
    for (size_t t = 0; t < ids.size(); ++t)
      for (uint32_t i = 0; i < D; ++i) want.push(table[ids[t] * D + i], 0.0);
    EXPECT_TRUE(test::within(c, yb.read<float>(), want, 0.0));
    EXPECT_TRUE(yb.guards_intact(c));
  }
}

}  // namespace
}  // namespace bcvk
