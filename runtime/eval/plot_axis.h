// A plot axis chosen from the data: the range, whether it is logarithmic, and tick values with
// labels precise enough to tell them apart.  Logarithmic only when the values are positive and
// span at least a decade (and the caller allows it); a single value gets a padded range.
// Test: tests/eval/plot_axis_test.cpp.
#pragma once

#include <string>
#include <vector>

namespace bcvk::eval {

struct Axis {
  bool log = false;
  double lo = 0, hi = 1;            // the drawn range (log10 of the values when log)
  std::vector<double> ticks;        // tick positions, in the drawn coordinate
  std::vector<std::string> labels;  // one per tick, in data units
  double position(double v) const;  // v (data units) -> fraction of the axis in [0, 1]
};

// `values` may hold non-finite entries (ignored); empty -> the range [0, 1].
Axis make_axis(const std::vector<double>& values, bool allow_log);

}  // namespace bcvk::eval
