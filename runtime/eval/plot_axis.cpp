#include "runtime/eval/plot_axis.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace bcvk::eval {

namespace {

// The 1-2-5 step nearest above span / target.
double nice_step(double span, int target) {
  const double raw = span / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * mag >= raw * 0.999) return m * mag;
  return 10 * mag;
}

std::string label(double v, int decimals) {
  char buf[64];
  if (std::fabs(v) >= 1e6 || (v != 0 && std::fabs(v) < 1e-4))
    std::snprintf(buf, sizeof buf, "%.*e", std::max(decimals, 1), v);
  else
    std::snprintf(buf, sizeof buf, "%.*f", std::max(decimals, 0), v);
  return buf;
}

}  // namespace

double Axis::position(double v) const {
  const double x = log ? std::log10(std::max(v, 1e-300)) : v;
  return hi > lo ? (x - lo) / (hi - lo) : 0.5;
}

Axis make_axis(const std::vector<double>& values, bool allow_log) {
  Axis a;
  double mn = INFINITY, mx = -INFINITY;
  for (double v : values)
    if (std::isfinite(v)) {
      mn = std::min(mn, v);
      mx = std::max(mx, v);
    }
  if (!std::isfinite(mn)) {
    mn = 0;
    mx = 1;
  }
  if (allow_log && mn > 0 && mx / mn >= 10) {
    a.log = true;
    a.lo = std::floor(std::log10(mn));
    a.hi = std::ceil(std::log10(mx));
    const int decades = int(a.hi - a.lo);
    const int every = std::max(1, decades / 6);  // at most ~6 decade ticks
    for (int e = int(a.lo); e <= int(a.hi); e += every) {
      a.ticks.push_back(e);
      a.labels.push_back(label(std::pow(10.0, e), std::max(0, -e)));
    }
    if (decades <= 2)  // few decades: 2 and 5 in between as well
      for (int e = int(a.lo); e < int(a.hi); ++e)
        for (double m : {2.0, 5.0}) {
          a.ticks.push_back(e + std::log10(m));
          a.labels.push_back(label(m * std::pow(10.0, e), std::max(0, -e)));
        }
    return a;
  }
  // Linear: a single value gets a range around it; the range is padded a little and rounded
  // out to the ticks.
  if (mx - mn <= 1e-12 * std::max(1.0, std::fabs(mx))) {
    const double pad = mn != 0 ? std::fabs(mn) * 0.1 : 1.0;
    mn -= pad;
    mx += pad;
  }
  const double step = nice_step(mx - mn, 5);
  a.lo = std::floor(mn / step) * step;
  a.hi = std::ceil(mx / step) * step;
  // A point on the frame is hard to see: one more step beyond an extreme that touches it (not
  // below a zero start, which is a natural origin).
  const double touch = 0.02 * (a.hi - a.lo);
  if (mx > a.hi - touch) a.hi += step;
  if (mn < a.lo + touch && a.lo != 0) a.lo -= step;
  const int decimals = std::max(0, int(-std::floor(std::log10(step) + 1e-9)));
  for (double t = a.lo; t <= a.hi + step * 1e-6; t += step) {
    const double v = std::fabs(t) < step * 1e-9 ? 0.0 : t;
    a.ticks.push_back(v);
    a.labels.push_back(label(v, decimals));
  }
  return a;
}

}  // namespace bcvk::eval
