// Plot axes from the data: distinct tick labels, padded single values, log only over a decade.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "runtime/eval/plot_axis.h"

namespace bcvk::eval {
namespace {

void expect_readable(const Axis& a, const std::vector<double>& values) {
  ASSERT_GE(a.ticks.size(), 3u);
  ASSERT_EQ(a.ticks.size(), a.labels.size());
  EXPECT_EQ(std::set<std::string>(a.labels.begin(), a.labels.end()).size(), a.labels.size())
      << "tick labels repeat";
  for (double t : a.ticks) {
    EXPECT_GE(t, a.lo - 1e-9);
    EXPECT_LE(t, a.hi + 1e-9);
  }
  for (double v : values) {
    EXPECT_GE(a.position(v), 0.0) << v;
    EXPECT_LE(a.position(v), 1.0) << v;
  }
}

TEST(PlotAxis, ASingleValueGetsAPaddedRangeWithDistinctTicks) {
  // Every configuration at 1.15x compression: not five ticks all reading 1.15.
  const Axis a = make_axis({1.15, 1.15, 1.15}, true);
  EXPECT_FALSE(a.log);
  EXPECT_LT(a.lo, 1.15);
  EXPECT_GT(a.hi, 1.15);
  expect_readable(a, {1.15});
  // One block size on a log-capable axis: linear, padded.
  const Axis b = make_axis({64}, true);
  EXPECT_FALSE(b.log);
  expect_readable(b, {64});
  // Zero alone.
  expect_readable(make_axis({0.0}, false), {0.0});
}

TEST(PlotAxis, NoPointSitsOnTheFrame) {
  const Axis a = make_axis({1.33, 8.0}, true);  // compression 1.33x and 8x: under a decade
  EXPECT_FALSE(a.log);
  EXPECT_LT(a.position(8.0), 0.98);
  EXPECT_GT(a.position(1.33), 0.02);
  const Axis layers = make_axis({0, 29}, false);  // a zero start stays the origin
  EXPECT_DOUBLE_EQ(layers.lo, 0);
  EXPECT_LT(layers.position(29), 0.98);
}

TEST(PlotAxis, CloseValuesGetEnoughDigits) {
  const Axis a = make_axis({1.1500, 1.1503}, true);
  EXPECT_FALSE(a.log);
  expect_readable(a, {1.1500, 1.1503});
  // The step is 1e-4 or smaller: labels carry at least 4 decimals.
  EXPECT_GE(a.labels[0].size() - a.labels[0].find('.') - 1, 4u) << a.labels[0];
}

TEST(PlotAxis, LogOnlyWhenTheValuesSpanADecade) {
  const Axis k = make_axis({0.03, 0.9, 20.0}, true);
  EXPECT_TRUE(k.log);
  EXPECT_DOUBLE_EQ(k.lo, -2);
  EXPECT_DOUBLE_EQ(k.hi, 2);
  expect_readable(k, {0.03, 0.9, 20.0});
  for (const char* l : {"0.01", "0.1", "1", "10", "100"})
    EXPECT_NE(std::find(k.labels.begin(), k.labels.end(), l), k.labels.end()) << l;
  EXPECT_FALSE(make_axis({1, 5}, true).log);         // under a decade
  EXPECT_FALSE(make_axis({0.0, 20.0}, true).log);    // not positive
  EXPECT_FALSE(make_axis({0.03, 20.0}, false).log);  // not allowed
  expect_readable(make_axis({0.03, 20.0}, false), {0.03, 20.0});
  // Non-finite values are ignored.
  expect_readable(make_axis({1.0, NAN, 3.0, INFINITY}, true), {1.0, 3.0});
}

}  // namespace
}  // namespace bcvk::eval
