#include "runtime/vk/profile.h"

#include <algorithm>
#include <cstdio>
#include <vector>

namespace bcvk::vk {

void ProfileTable::add(std::span<const DispatchTiming> timings) {
  for (const DispatchTiming& t : timings) add(t.label, t.ms());
}

void ProfileTable::add(const std::string& label, double ms) {
  Row& r = rows_[label];
  ++r.calls;
  r.total_ms += ms;
}

double ProfileTable::total_ms() const {
  double t = 0;
  for (const auto& [_, r] : rows_) t += r.total_ms;
  return t;
}

void ProfileTable::print(std::ostream& out) const {
  std::vector<std::pair<std::string, Row>> sorted(rows_.begin(), rows_.end());
  std::sort(sorted.begin(), sorted.end(),
            [](const auto& a, const auto& b) { return a.second.total_ms > b.second.total_ms; });
  const double total = total_ms();
  char line[256];
  std::snprintf(line, sizeof line, "%-32s %8s %12s %12s %7s\n", "op", "calls", "total ms",
                "mean us", "share");
  out << line;
  for (const auto& [label, r] : sorted) {
    std::snprintf(line, sizeof line, "%-32s %8llu %12.3f %12.2f %6.1f%%\n", label.c_str(),
                  static_cast<unsigned long long>(r.calls), r.total_ms, 1e3 * r.total_ms / r.calls,
                  total > 0 ? 100.0 * r.total_ms / total : 0.0);
    out << line;
  }
  std::snprintf(line, sizeof line, "%-32s %8s %12.3f\n", "total", "", total);
  out << line;
}

}  // namespace bcvk::vk
