// The op-test harness itself (tests/support/op_check.h): a check that cannot fail is worth
// nothing, so each way an op can be wrong must fail it, with the message naming op, shape and
// index.
#include "tests/support/op_check.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "runtime/ops/copy.h"
#include "tests/support/gpu_test.h"

namespace bcvk {
namespace {

const test::OpCase kCase{"demo", "2x3", 3};

test::Expected six(double scale) {
  test::Expected e;
  for (int i = 0; i < 6; ++i) e.push(i, scale);
  return e;
}

TEST(OpCheck, PassesWithinTheBoundAndFailsPastIt) {
  std::vector<float> got = {0, 1, 2, 3, 4, 5};
  EXPECT_TRUE(test::within(kCase, got, six(1.0), 0.0));
  got[5] = 5.001f;  // error 1e-3 at scale 1
  EXPECT_TRUE(test::within(kCase, got, six(1.0), 2e-3));
  const auto r = test::within(kCase, got, six(1.0), 5e-4);
  ASSERT_FALSE(r);
  const std::string m = r.message();
  EXPECT_NE(m.find("demo [2x3]"), std::string::npos) << m;
  EXPECT_NE(m.find("1 of 6 values off"), std::string::npos) << m;
  EXPECT_NE(m.find("index 5 (row 1, column 2)"), std::string::npos) << m;
}

TEST(OpCheck, ScaleZeroIsExactAndNanOrInfinityNeverPass) {
  std::vector<float> got = {0, 1, 2, 3, 4, std::nextafter(5.f, 6.f)};
  EXPECT_FALSE(test::within(kCase, got, six(0.0), 1e30));  // one ulp off an exact value
  got[5] = 5;
  EXPECT_TRUE(test::within(kCase, got, six(0.0), 0.0));
  got[0] = std::nanf("");
  EXPECT_FALSE(test::within(kCase, got, six(1.0), 1e30));
  got[0] = std::numeric_limits<float>::infinity();
  EXPECT_FALSE(test::within(kCase, got, six(1.0), 1e30));
  EXPECT_FALSE(test::within(kCase, std::vector<float>(5), six(1.0), 1e30));  // wrong count
}

TEST(OpCheck, InfiniteScaleAcceptsAnyNumber) {
  EXPECT_EQ(test::normalized_error(1e30, 1, std::numeric_limits<double>::infinity()), 0.0);
  EXPECT_EQ(test::normalized_error(3, 1, 4), 0.5);
}

TEST(OpCheck, EqualWordsNamesTheFirstDifference) {
  const std::vector<uint32_t> a = {1, 2, 3, 4}, b = {1, 2, 7, 9};
  EXPECT_TRUE(test::equal_words(kCase, a, a));
  const auto r = test::equal_words(kCase, a, b);
  ASSERT_FALSE(r);
  EXPECT_NE(std::string(r.message()).find("2 of 4 words differ; first at index 2"),
            std::string::npos)
      << r.message();
}

// The guard bands see a write one word past the output and one binding-alignment before it.
class GuardedBufferTest : public test::GpuTest {};

TEST_F(GuardedBufferTest, SeesWritesBeforeAndAfterThePayload) {
  const std::vector<float> src(65, 1.f);  // one word more than the output holds
  auto in = test::GuardedBuffer::of(ctx(), src);
  auto out = test::GuardedBuffer::poisoned(ctx(), 64 * 4);
  const test::OpCase c{"copy", "64 words"};
  EXPECT_TRUE(out.guards_intact(c));
  const vk::BufferView v = out.view(), s = in.view();
  {
    vk::Stream st(ctx().device());
    ops::copy(ctx(), st, {.src = s, .dst = {v.buffer, v.offset, v.size + 4}});
    st.submit_and_wait();
  }
  auto r = out.guards_intact(c);
  ASSERT_FALSE(r);
  EXPECT_NE(std::string(r.message()).find("wrote past its output, at byte 0 after its end"),
            std::string::npos)
      << r.message();
  const VkDeviceSize a = ctx().tuning().binding_alignment;
  auto out2 = test::GuardedBuffer::poisoned(ctx(), 64 * 4);
  const vk::BufferView v2 = out2.view();
  {
    vk::Stream st(ctx().device());
    ops::copy(ctx(), st, {.src = {s.buffer, s.offset, a}, .dst = {v2.buffer, v2.offset - a, a}});
    st.submit_and_wait();
  }
  r = out2.guards_intact(c);
  ASSERT_FALSE(r);
  EXPECT_NE(std::string(r.message()).find("wrote " + std::to_string(a) + " bytes before"),
            std::string::npos)
      << r.message();
  for (float f : out2.read<float>()) EXPECT_TRUE(std::isnan(f));  // the payload: still poisoned
}

}  // namespace
}  // namespace bcvk
