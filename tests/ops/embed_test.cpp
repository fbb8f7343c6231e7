// embed: rows gathered exactly, from f32 and f16 tables.
#include <gtest/gtest.h>

#include "loaders/half.h"
#include "runtime/ops/embed.h"
#include "tests/support/device_vectors.h"
#include "tests/support/gpu_test.h"
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
  auto ib = test::to_device(ctx(), ids);
  for (bool f16 : {false, true}) {
    auto tb = f16 ? test::to_device(ctx(), half) : test::to_device(ctx(), table);
    vk::Buffer yb(ctx().allocator(), ids.size() * D * 4);
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
    const auto y = test::from_device<float>(ctx(), yb, ids.size() * D);
    for (size_t t = 0; t < ids.size(); ++t)
      for (uint32_t i = 0; i < D; ++i)
        ASSERT_EQ(y[t * D + i], table[ids[t] * D + i]) << f16 << " " << t << " " << i;
  }
}

}  // namespace
}  // namespace bcvk
