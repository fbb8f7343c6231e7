// Summary statistics shared by the benchmarks and the sweep: one median for the whole runtime.
// Test: tests/bench/bench_report_test.cpp (Statistics.*).
#pragma once

#include <vector>

namespace bcvk::util {

// The middle value (the mean of the two middle values for an even count); 0 for no values.
double median(std::vector<double> v);

}  // namespace bcvk::util
